/**
 * The LISTEN side of long-poll wake-ups: one dedicated connection per backend (outside the
 * pool, because LISTEN belongs to a session) listening on the schema's channel. Every server
 * on the database NOTIFYs that channel with a queue's name when a task there becomes ready
 * (insert, release, redrive, a dead letter moved in, a queue resumed: notifier.ts), and every
 * listener wakes its long-polls on that queue.
 *
 * The connection reconnects by itself, with backoff, when it breaks (database restart,
 * network cut). A notification sent while it was away is lost, so after each reconnection
 * every waiting long-poll looks again; in between, waiting leases still look every
 * LONG_POLL_RECHECK_MS on their own, so a broken listener delays wake-ups, never loses tasks.
 */
import type pg from 'pg';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

export interface ListenerOptions {
  driver: typeof pg;
  clientConfig: pg.ClientConfig;
  channel: string;
  /** A queue's name arrived on the channel. */
  onNotify(queue: string): void;
  /** The connection is (again) listening: notifications may have been missed meanwhile. */
  onListening(): void;
}

/** The channel of a schema: every backend on the same schema of a database shares it. */
export function channelOf(schema: string): string {
  return `pullq:${schema}`;
}

export class NotifyListener {
  readonly #options: ListenerOptions;
  #client: pg.Client | null = null;
  #retryMs = FIRST_RETRY_MS;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** The last connection failure, for a caller that wants to know why it is not listening. */
  lastError: unknown = null;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  get listening(): boolean {
    return this.#client !== null;
  }

  /** Connects and listens; rejects if the first attempt fails (the caller reports it). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const { driver, clientConfig, channel } = this.#options;
    const client = new driver.Client(clientConfig);
    const lost = (error?: unknown): void => {
      // Before it listens, a failure rejects #connect (whose caller retries); after it was
      // replaced or stopped, it is no longer ours.
      if (this.#client !== client) return;
      if (error !== undefined) this.lastError = error;
      this.#client = null;
      client.removeAllListeners('notification');
      // The client is unusable; end() frees its socket (and may itself fail: nothing to do).
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === channel && message.payload) this.#options.onNotify(message.payload);
    });
    try {
      await client.connect();
      // The channel is an identifier: double quotes, and the schema's characters need no escape.
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#stopped) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#retryMs = FIRST_RETRY_MS;
    this.lastError = null;
    this.#options.onListening();
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#timer !== null) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect().catch((error: unknown) => {
        this.lastError = error;
        this.#scheduleReconnect();
      });
    }, delay);
    // Reconnecting never keeps a process alive on its own.
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    client.removeAllListeners();
    client.on('error', () => {});
    await client.end().catch(() => {});
  }
}
