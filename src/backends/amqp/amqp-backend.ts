/**
 * AmqpBackend: pullq over RabbitMQ (AMQP 0-9-1) with amqplib, on the broker's own features.
 * docs/transports.md has the whole mapping, what is missing and why, and the durability.
 *
 * URL: `amqp://user:pass@host:port/vhost`, `amqps://` for TLS (the vhost is the URL-encoded
 * path; none or `/%2f` for `/`).
 * Capabilities: long-poll and dead letters. Missing: leasing by tag, list, get and delete by
 * id, listQueues, refusing duplicate ids, exact stats; each throws `unsupported` saying what
 * to do instead.
 * Options: `url`; `driver` (amqplib, loaded by open.ts); `clock`; `timeoutMs` (connecting, and
 * waiting for publisher confirms; default 30 s); `connectionName`.
 *
 * Where things are: the RabbitMQ objects and the delay ladder in topology.ts; publishing with
 * confirms in publisher.ts; leases (unacked deliveries with a timer, tokens per channel) in
 * lane.ts; attempts and headers in task-message.ts; settings in settings-store.ts. Every verb
 * is at-least-once. A lost connection fails the calls under way `unavailable`; the next call
 * connects again.
 */
import {
  systemClock,
  type Backend,
  type Capabilities,
  type Clock,
  type ItemResult,
  type LeaseRef,
  type LeaseRequest,
  type LeasedTask,
  type ListRequest,
  type NewTask,
  type QueueConfig,
  type QueueInfo,
  type QueueStats,
  type RedriveRequest,
  type ReleaseRequest,
  type Task,
  type TaskPage,
} from '../backend.ts';
import {
  checkInsert,
  checkLease,
  checkLeaseSeconds,
  checkRefs,
  checkReleases,
  leaseLost,
} from '../common.ts';
import { isPullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
import { admit } from './admit.ts';
import { insertTasks } from './insert.ts';
import { closedError, unsupported } from './errors.ts';
import { Lane, type Batch } from './lane.ts';
import { forgetLedger, ledgerFor } from './ledger.ts';
import { AmqpLink, brokerOf, type AmqpDriver } from './link.ts';
import { QueueAdmin, SETTINGS_TTL_MS } from './queue-admin.ts';
import { redriveDead } from './redrive.ts';
import { releaseLeases } from './release.ts';

export interface AmqpBackendOptions {
  /** `amqp://user:pass@host:port/vhost` or `amqps://...`. */
  url: string;
  /** amqplib (`await import('amqplib')`). */
  driver: AmqpDriver;
  clock?: Clock;
  /** Connecting, and waiting for publisher confirms, in ms. Default 30 s. */
  timeoutMs?: number;
  /** The connection's name in RabbitMQ's tools. Default 'pullq'. */
  connectionName?: string;
}

export class AmqpBackend implements Backend {
  readonly capabilities: Capabilities = {
    longPoll: true,
    tags: false,
    list: false,
    exactStats: false,
    deadLetters: true,
    queueAdmin: true,
    // RabbitMQ keeps no index of message ids: a name used twice makes two tasks.
    uniqueIds: false,
  };
  readonly #link: AmqpLink;
  readonly #queues: QueueAdmin;
  readonly #clock: Clock;
  /** `host:port/vhost`: whose leases the process ledger counts together. */
  readonly #broker: string;
  readonly #lanes = new Map<string, Lane>();
  #closed = false;

  constructor(options: AmqpBackendOptions) {
    this.#broker = brokerOf(options.url);
    this.#clock = options.clock ?? systemClock;
    this.#link = new AmqpLink(options.driver, {
      url: options.url,
      timeoutMs: options.timeoutMs ?? 30_000,
      connectionName: options.connectionName ?? 'pullq',
    });
    this.#queues = new QueueAdmin(this.#link, this.#clock);
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: { createQueue?: boolean } = {},
  ): Promise<ItemResult<Task>[]> {
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    this.#checkOpen();
    if (options.createQueue === true) await this.#queues.ensure(queue);
    else await this.#queues.settings(queue);
    return insertTasks(queue, tasks, { now, link: this.#link, queues: this.#queues });
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    checkLease(queue, request);
    if (request.tag !== undefined || request.groupByTag === true) {
      throw unsupported(
        'leasing by tag',
        'a queue is delivered in order; put each kind of task in a queue of its own',
      );
    }
    this.#checkOpen();
    const settings = await this.#queues.settings(queue);
    const waitMs = (request.waitSeconds ?? 0) * 1000;
    if (settings.paused) {
      await pause(Math.min(waitMs, SETTINGS_TTL_MS), request.signal);
      return [];
    }
    const lane = this.#lane(queue);
    let batch: Batch;
    try {
      batch =
        waitMs > 0
          ? await lane.wait(request.max, waitMs, request.signal)
          : await lane.take(request.max);
    } catch (error) {
      if (isPullqError(error, 'queue_not_found')) this.#queues.forget(queue);
      throw error;
    }
    return admit(batch, {
      queue,
      lane,
      settings,
      leaseSeconds: request.leaseSeconds,
      now: this.#clock.now(),
      link: this.#link,
    });
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    checkRefs(queue, refs);
    this.#checkOpen();
    const lane = this.#lanes.get(queue);
    return refs.map((ref) => {
      const held = lane?.find(ref) ?? null;
      if (lane !== undefined && held !== null && lane.settle(held, 'ack')) {
        return { ok: true, value: null };
      }
      return { ok: false, error: leaseLost(ref.id) };
    });
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    this.#checkOpen();
    const lane = this.#lanes.get(queue);
    const leaseMs = Math.round(leaseSeconds * 1000);
    const eta = this.#clock.now() + leaseMs;
    return refs.map((ref) => {
      const held = lane?.find(ref) ?? null;
      if (lane === undefined || held === null) return { ok: false, error: leaseLost(ref.id) };
      lane.extend(held, leaseMs, eta);
      return { ok: true, value: held.task };
    });
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    checkReleases(queue, releases);
    this.#checkOpen();
    const lane = this.#lanes.get(queue);
    if (lane === undefined) return releases.map((r) => ({ ok: false, error: leaseLost(r.ref.id) }));
    const needsSettings = releases.some((release) => release.deadLetter === true);
    const settings = needsSettings ? await this.#queues.settings(queue) : null;
    return releaseLeases(releases, {
      queue,
      lane,
      deadLetterQueue: settings?.deadLetterQueue ?? null,
      now: this.#clock.now(),
      link: this.#link,
      queues: this.#queues,
    });
  }

  async delete(queue: string, _ids: string[]): Promise<ItemResult<null>[]> {
    checkQueueName(queue);
    throw unsupported(
      'deleting a task by id',
      'RabbitMQ cannot reach a message by id; lease it and ack it, or purge the queue',
    );
  }

  async get(queue: string, _id: string): Promise<Task | null> {
    checkQueueName(queue);
    throw unsupported(
      'reading a task by id',
      'RabbitMQ cannot look a message up by id; lease the queue, or use stats for counts',
    );
  }

  async list(queue: string, _request: ListRequest): Promise<TaskPage> {
    checkQueueName(queue);
    throw unsupported(
      'listing tasks',
      "RabbitMQ cannot browse a queue; use stats for counts, or the management UI's Get messages",
    );
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#checkOpen();
    const counts = await this.#queues.counts(queue);
    const ledger = ledgerFor(this.#broker, queue);
    const now = this.#clock.now();
    return {
      ...counts,
      leased: ledger.held,
      oldestReadyAgeSeconds: null,
      oldestEta: null,
      leasedLastMinute: ledger.leasedSince(now - 60_000, now),
      leasedLastHour: ledger.leasedSince(now - 3_600_000, now),
    };
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    checkQueueName(queue);
    this.#checkOpen();
    await this.#queues.settings(queue);
    return redriveDead(this.#link, queue, request.ids, this.#clock.now());
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    this.#checkOpen();
    return this.#queues.create(name, config);
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    checkQueueName(name);
    this.#checkOpen();
    try {
      return { ...(await this.#queues.settings(name, true)) };
    } catch (error) {
      if (isPullqError(error, 'queue_not_found')) return null;
      throw error;
    }
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#checkOpen();
    return this.#queues.update(name, patch);
  }

  async deleteQueue(name: string): Promise<void> {
    checkQueueName(name);
    this.#checkOpen();
    await this.#lanes.get(name)?.close();
    this.#lanes.delete(name);
    await this.#queues.delete(name);
    forgetLedger(this.#broker, name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    throw unsupported(
      'listing queues',
      'AMQP has no way to list queues (the management plugin does); use rabbitmqctl list_queues or the management UI',
    );
  }

  async purgeQueue(name: string): Promise<number> {
    this.#checkOpen();
    return this.#queues.purge(name);
  }

  /** Closes every channel and the connection; the broker requeues what they held. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#lanes.values()].map(async (lane) => lane.close()));
    this.#lanes.clear();
    await this.#link.close();
  }

  #lane(queue: string): Lane {
    let lane = this.#lanes.get(queue);
    if (lane === undefined) {
      lane = new Lane(this.#link, queue, ledgerFor(this.#broker, queue));
      this.#lanes.set(queue, lane);
    }
    return lane;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }
}

/** Sleeps `ms` or until the signal aborts (a paused queue's long-poll). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
