/**
 * Queue administration through the JetStream manager: a queue is a stream (see layout.ts) with
 * its three durable pull consumers. Its settings are read back from the stream: maxLeases,
 * deadLetterQueue, paused and createdAt from the description, dedupWindowSeconds from
 * duplicate_window.
 *
 * Every lease needs the queue's settings (paused, maxLeases, dead-letter queue) and its
 * consumer's ack wait: they are cached per queue for a second, so a change made by another
 * process shows within a second; this process's own changes show at once.
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { Clock, QueueConfig, QueueInfo } from '../backend.ts';
import { checkQueueConfig, queueNotFound } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
import type { NatsDrivers } from './drivers.ts';
import { API, apiCode, natsError } from './errors.ts';
import {
  CONSUMERS,
  describeQueue,
  newQueueConfig,
  queueInfoOf,
  settingsOf,
  type ConsumerName,
  type Layout,
  type TaskKind,
} from './layout.ts';

export interface QueueHandle {
  info: QueueInfo;
  /** The ack wait of the queue's consumers, in ms. */
  ackWaitMs: number;
  loadedAt: number;
}

export interface QueueOptions {
  /** The ack wait of consumers this backend creates, in seconds. */
  ackWaitSeconds: number;
  /** Stream replicas of queues this backend creates. */
  replicas: number;
}

const CACHE_MS = 1000;

/** JetStream's shortest dedup window (its 0 means "the default", 2 minutes): a window of 0
 * seconds is this. */
const MIN_DEDUP_NANOS = 100_000_000;

function dedupNanos(seconds: number): number {
  return Math.max(MIN_DEDUP_NANOS, seconds * 1e9);
}

export class NatsQueues {
  readonly #jsm: JetStreamManager;
  readonly #drivers: NatsDrivers;
  readonly #layout: Layout;
  readonly #options: QueueOptions;
  readonly #clock: Clock;
  readonly #cache = new Map<string, QueueHandle>();

  constructor(
    jsm: JetStreamManager,
    drivers: NatsDrivers,
    layout: Layout,
    options: QueueOptions,
    clock: Clock,
  ) {
    this.#jsm = jsm;
    this.#drivers = drivers;
    this.#layout = layout;
    this.#options = options;
    this.#clock = clock;
  }

  /** The queue's settings and ack wait (cached for a second); throws queue_not_found. */
  async need(queue: string): Promise<QueueHandle> {
    checkQueueName(queue);
    const cached = this.#cache.get(queue);
    if (cached !== undefined && this.#clock.now() - cached.loadedAt < CACHE_MS) {
      return cached;
    }
    const handle = await this.#load(queue);
    if (handle === null) throw queueNotFound(queue);
    return handle;
  }

  async get(name: string): Promise<QueueInfo | null> {
    checkQueueName(name);
    const stream = await this.#streamInfo(name);
    return stream === null ? null : this.#infoOf(name, stream);
  }

  async create(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    checkQueueName(name);
    checkQueueConfig(config, name);
    const full = newQueueConfig(config);
    const createdAt = this.#clock.now();
    if ((await this.#streamInfo(name)) !== null) throw queueExists(name);
    const { RetentionPolicy, StorageType } = this.#drivers.jetstream;
    try {
      await this.#jsm.streams.add({
        name: this.#layout.stream(name),
        subjects: this.#layout.streamSubjects(name),
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: this.#options.replicas,
        duplicate_window: dedupNanos(full.dedupWindowSeconds),
        allow_rollup_hdrs: true,
        description: describeQueue(settingsOf(full, createdAt)),
      });
    } catch (error) {
      // Two creators at once: the other one's stream is there (its createdAt differs).
      if (apiCode(error) === API.streamNameInUse) throw queueExists(name);
      throw natsError(error, `creating queue ${name}`);
    }
    await this.#addConsumers(name);
    this.#cache.delete(name);
    return { ...full, name, createdAt };
  }

  /** Creates the queue unless it exists (auto-creation on insert, dead-letter targets). */
  async ensure(name: string): Promise<void> {
    try {
      await this.create(name);
    } catch (error) {
      if (!(error instanceof PullqError && error.code === 'already_exists')) throw error;
    }
  }

  async update(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    checkQueueName(name);
    checkQueueConfig(patch, name);
    const stream = await this.#streamInfo(name);
    if (stream === null) throw queueNotFound(name);
    const current = this.#infoOf(name, stream);
    const defined = Object.fromEntries(
      Object.entries(patch).filter(([, value]) => value !== undefined),
    ) as Partial<QueueConfig>;
    const next: QueueInfo = { ...current, ...defined };
    try {
      await this.#jsm.streams.update(this.#layout.stream(name), {
        ...stream.config,
        duplicate_window: dedupNanos(next.dedupWindowSeconds),
        description: describeQueue(settingsOf(next, current.createdAt)),
      });
    } catch (error) {
      throw natsError(error, `updating queue ${name}`);
    }
    this.#cache.delete(name);
    return next;
  }

  async delete(name: string): Promise<void> {
    checkQueueName(name);
    this.#cache.delete(name);
    try {
      await this.#jsm.streams.delete(this.#layout.stream(name));
    } catch (error) {
      if (apiCode(error) === API.streamNotFound) throw queueNotFound(name);
      throw natsError(error, `deleting queue ${name}`);
    }
  }

  async list(): Promise<QueueInfo[]> {
    const queues: QueueInfo[] = [];
    try {
      for await (const stream of this.#jsm.streams.list()) {
        const name = this.#layout.queueOf(stream.config.name);
        if (name === null) continue;
        const info = queueInfoOf(name, stream.config.description, stream.config.duplicate_window);
        if (info !== null) queues.push(info);
      }
    } catch (error) {
      throw natsError(error, 'listing queues');
    }
    return queues.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Removes the messages of one kind (or of one task: `id`); answers how many went. */
  async purge(name: string, kind: TaskKind | '*', id = '*'): Promise<number> {
    const filter = `${this.#layout.prefix}.${name}.${kind}.${id}`;
    try {
      const answer = await this.#jsm.streams.purge(this.#layout.stream(name), { filter });
      return answer.purged;
    } catch (error) {
      if (apiCode(error) === API.streamNotFound) throw queueNotFound(name);
      throw natsError(error, `purging ${filter}`);
    }
  }

  /** Messages a consumer has not delivered yet, and those delivered and not acknowledged. */
  async counts(name: string, consumer: ConsumerName): Promise<{ pending: number; acking: number }> {
    try {
      const info = await this.#jsm.consumers.info(this.#layout.stream(name), consumer);
      return { pending: info.num_pending, acking: info.num_ack_pending };
    } catch (error) {
      const code = apiCode(error);
      if (code === API.streamNotFound) throw queueNotFound(name);
      if (code === API.consumerNotFound) return { pending: 0, acking: 0 };
      throw natsError(error, `reading the ${consumer} consumer of queue ${name}`);
    }
  }

  async #load(queue: string): Promise<QueueHandle | null> {
    const stream = await this.#streamInfo(queue);
    if (stream === null) return null;
    const info = this.#infoOf(queue, stream);
    const ackWaitMs = await this.#readyAckWait(queue);
    const handle = { info, ackWaitMs, loadedAt: this.#clock.now() };
    this.#cache.set(queue, handle);
    return handle;
  }

  async #streamInfo(queue: string): Promise<StreamInfo | null> {
    try {
      return await this.#jsm.streams.info(this.#layout.stream(queue));
    } catch (error) {
      if (apiCode(error) === API.streamNotFound) return null;
      throw natsError(error, `reading queue ${queue}`);
    }
  }

  #infoOf(queue: string, stream: StreamInfo): QueueInfo {
    const info = queueInfoOf(queue, stream.config.description, stream.config.duplicate_window);
    if (info === null) {
      throw new PullqError(
        'invalid_argument',
        `the stream ${stream.config.name} was not created by pullq (its description is not a pullq queue's): delete it, or use another prefix`,
        { details: { queue, stream: stream.config.name } },
      );
    }
    return info;
  }

  /** The ready consumer's ack wait; creates the consumers when a racing creator has not yet. */
  async #readyAckWait(queue: string): Promise<number> {
    try {
      const info = await this.#jsm.consumers.info(this.#layout.stream(queue), 'ready');
      return Math.round((info.config.ack_wait ?? this.#options.ackWaitSeconds * 1e9) / 1e6);
    } catch (error) {
      if (apiCode(error) !== API.consumerNotFound) throw natsError(error, `reading queue ${queue}`);
    }
    await this.#addConsumers(queue);
    return this.#options.ackWaitSeconds * 1000;
  }

  async #addConsumers(queue: string): Promise<void> {
    const { AckPolicy, DeliverPolicy } = this.#drivers.jetstream;
    for (const consumer of CONSUMERS) {
      try {
        await this.#jsm.consumers.add(this.#layout.stream(queue), {
          durable_name: consumer,
          filter_subject: this.#layout.filter(queue, consumer),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: this.#options.ackWaitSeconds * 1e9,
          // The transport counts leases and dead-letters itself (see nats-backend.ts).
          max_deliver: -1,
          // Leased tasks are not capped per queue (JetStream's default would be 1000).
          max_ack_pending: -1,
        });
      } catch (error) {
        throw natsError(error, `creating the ${consumer} consumer of queue ${queue}`);
      }
    }
  }
}

function queueExists(name: string): PullqError {
  return new PullqError('already_exists', `queue ${JSON.stringify(name)} already exists`, {
    details: { queue: name },
  });
}
