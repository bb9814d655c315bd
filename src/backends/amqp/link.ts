/**
 * The backend's one AMQP connection, opened on first use and again on the first call after it
 * was lost, and the channels on it. A broker refusal (a 404, a 406) closes the channel it
 * happened on, so every call that may be refused runs on a channel of its own
 * (`withChannel`); long-lived channels are the publisher's and the lanes' (one per queue).
 */
import type { Channel, ChannelModel } from 'amqplib';
import { PullqError } from '../../protocol/errors.ts';
import { amqpCall, closedError } from './errors.ts';
import { Publisher } from './publisher.ts';
import { brokerFeatures, type BrokerFeatures } from './topology.ts';

/** The part of amqplib the backend uses: `await import('amqplib')`. */
export interface AmqpDriver {
  connect(
    url: string,
    socketOptions?: {
      timeout?: number;
      noDelay?: boolean;
      clientProperties?: Record<string, unknown>;
    },
  ): Promise<ChannelModel>;
}

export interface LinkOptions {
  /** `amqp://user:pass@host:port/vhost` or `amqps://...`. */
  url: string;
  /** How long opening the connection may take, in ms. */
  timeoutMs: number;
  /** Shown by RabbitMQ for the connection (management UI, `rabbitmqctl list_connections`). */
  connectionName: string;
}

export class AmqpLink {
  readonly #driver: AmqpDriver;
  readonly #options: LinkOptions;
  #model: ChannelModel | undefined;
  #opening: Promise<ChannelModel> | undefined;
  #publisher: Promise<Publisher> | undefined;
  #features: BrokerFeatures = {
    quorum: false,
    safeDeadLetters: false,
    defaultDeliveryLimit: false,
  };
  #closed = false;

  constructor(driver: AmqpDriver, options: LinkOptions) {
    this.#driver = driver;
    this.#options = options;
  }

  /** What the broker of the current connection offers (known once connected). */
  get features(): BrokerFeatures {
    return this.#features;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The open connection, connecting first if there is none. */
  async model(): Promise<ChannelModel> {
    if (this.#closed) throw closedError();
    if (this.#model !== undefined) return this.#model;
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(): Promise<ChannelModel> {
    const { url, timeoutMs, connectionName } = this.#options;
    const model = await amqpCall('connecting', () =>
      this.#driver.connect(url, {
        timeout: timeoutMs,
        // Acks, cancels and confirms are small frames, and Nagle's algorithm held each one
        // ~40 ms: a drain by leases of 100 ran at 1,800 tasks/s with it, 17,000 without.
        noDelay: true,
        clientProperties: { connection_name: connectionName },
      }),
    );
    if (this.#closed) {
      await model.close().catch(() => undefined);
      throw closedError();
    }
    // An 'error' is always followed by 'close'. Its channels get 'close' too: each owner
    // (a lane, the publisher) forgets its own; the next call connects again.
    model.on('error', () => undefined);
    model.on('close', () => {
      if (this.#model !== model) return;
      this.#model = undefined;
      this.#publisher = undefined;
    });
    this.#features = brokerFeatures(model.connection.serverProperties);
    this.#model = model;
    return model;
  }

  /** A new channel; the caller closes it. Its 'error' is followed by 'close'. */
  async channel(): Promise<Channel> {
    const model = await this.model();
    const channel = await amqpCall('opening a channel', () => model.createChannel());
    channel.on('error', () => undefined);
    return channel;
  }

  /** Runs `operation` on a channel of its own, closed afterwards. */
  async withChannel<T>(
    doing: string,
    operation: (channel: Channel) => Promise<T>,
    queue?: string,
  ): Promise<T> {
    const channel = await this.channel();
    try {
      return await amqpCall(doing, () => operation(channel), queue);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** The publisher (a confirm channel), opened once per connection. */
  async publisher(): Promise<Publisher> {
    const model = await this.model();
    if (this.#publisher === undefined) {
      const opening = amqpCall('opening a confirm channel', async () => {
        const channel = await model.createConfirmChannel();
        channel.on('error', () => undefined);
        const publisher = new Publisher(channel, this.#options.timeoutMs);
        channel.on('close', () => {
          if (this.#publisher === opening) this.#publisher = undefined;
        });
        return publisher;
      });
      this.#publisher = opening;
      opening.catch(() => {
        if (this.#publisher === opening) this.#publisher = undefined;
      });
    }
    return this.#publisher;
  }

  /** Closes the connection; the broker requeues what its channels held unacknowledged. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const model = this.#model ?? (await this.#opening?.catch(() => undefined));
    this.#model = undefined;
    this.#publisher = undefined;
    await model?.close().catch(() => undefined);
  }
}

/** `host:port/vhost` of an amqp(s):// URL; any other URL is invalid_argument. */
export function brokerOf(href: string): string {
  let url: URL | null = null;
  try {
    url = new URL(href);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== 'amqp:' && url.protocol !== 'amqps:')) {
    throw new PullqError(
      'invalid_argument',
      'the amqp backend needs a URL amqp://user:pass@host:port/vhost (or amqps://)',
      { details: { field: 'url' } },
    );
  }
  const port = url.port || (url.protocol === 'amqps:' ? '5671' : '5672');
  const vhost = decodeURIComponent(url.pathname.slice(1)) || '/';
  return `${url.hostname}:${port}/${vhost}`;
}
