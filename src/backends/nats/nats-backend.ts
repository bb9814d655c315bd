/**
 * NatsBackend: pullq queues on NATS JetStream (server 2.9 or later), a client transport.
 *
 * URL: `nats://[user:pass@]host:port[?prefix=pullq&ackWait=30&replicas=1&tls=true]` (open.ts).
 * Capabilities: long-poll, dead letters, queue admin. No lease by tag or groupByTag (a
 * work-queue stream allows one consumer per subject; tags are stored and read back), no task
 * listing (JetStream has no index to page through), stats from consumer counters (inexact).
 * Options: see NatsBackendOptions in open.ts.
 *
 * How the verbs map (layout.ts, tasks.ts, leasing.ts, leases.ts, settling.ts and
 * dead-letters.ts say why; docs/transports-nats.md has the whole story):
 * - insert: publish with `Nats-Msg-Id` = task id, confirmed by its PubAck; a future ETA goes to
 *   the queue's `delayed` subject until a lease finds it due.
 * - lease: pull from the `ready` consumer, `expires` for the long-poll; attempts are the
 *   delivery count; the token is `<stream sequence>.<delivery count>`.
 * - ack: `+ACK` as a request (the server confirms it); extend: `+WPI`; release: `-NAK`, with a
 *   delay for delaySeconds; deadLetter: publish the dead letter, then `+ACK`.
 * - a lease is held by the backend (connection) that made it and is settled through it:
 *   leases longer than the ack wait are renewed by it, and if its process dies the task comes
 *   back after the ack wait (default 30 s).
 * Connection loss: calls fail `unavailable` (retryable) while the client reconnects by itself.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type {
  Backend,
  Capabilities,
  Clock,
  InsertOptions,
  ItemResult,
  LeaseRef,
  LeaseRequest,
  LeasedTask,
  ListRequest,
  NewTask,
  QueueConfig,
  QueueInfo,
  QueueStats,
  RedriveRequest,
  ReleaseRequest,
  Task,
  TaskPage,
} from '../backend.ts';
import {
  checkIds,
  checkInsert,
  checkLease,
  checkLeaseSeconds,
  checkRefs,
  checkReleases,
  taskNotFound,
} from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
import type { NatsDrivers } from './drivers.ts';
import { natsError, unsupported } from './errors.ts';
import { CONSUMERS, Layout } from './layout.ts';
import { NatsDeadLetters } from './dead-letters.ts';
import { LeaseBook, type AckSender } from './leases.ts';
import { NatsLeasing } from './leasing.ts';
import { NatsQueues } from './queues.ts';
import { NatsSettling } from './settling.ts';
import { NatsTasks } from './tasks.ts';

/** @internal What NatsBackend is built from; `connectNats` (open.ts) makes it. */
export interface NatsBackendParts {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  drivers: NatsDrivers;
  prefix: string;
  ackWaitSeconds: number;
  replicas: number;
  timeoutMs: number;
  clock: Clock;
}

export class NatsBackend implements Backend {
  readonly capabilities: Capabilities = {
    longPoll: true,
    tags: false,
    list: false,
    exactStats: false,
    deadLetters: true,
    queueAdmin: true,
    uniqueIds: true,
  };
  readonly #nc: NatsConnection;
  readonly #clock: Clock;
  readonly #book: LeaseBook;
  readonly #queues: NatsQueues;
  readonly #tasks: NatsTasks;
  readonly #deadLetters: NatsDeadLetters;
  readonly #settling: NatsSettling;
  readonly #leasing: NatsLeasing;
  readonly #closing = new AbortController();
  #closed = false;

  /** @internal Use `connectNats(options)` or a `nats://` Connection URL. */
  constructor(parts: NatsBackendParts) {
    const { nc, clock, timeoutMs } = parts;
    this.#nc = nc;
    this.#clock = clock;
    const send: AckSender = async (reply, body) => {
      try {
        await nc.request(reply, body, { timeout: timeoutMs });
      } catch (error) {
        throw natsError(error, 'settling a delivery');
      }
    };
    const layout = new Layout(parts.prefix);
    this.#book = new LeaseBook(send, clock);
    this.#queues = new NatsQueues(parts.jsm, parts.drivers, layout, parts, clock);
    const shared = { ...parts, layout, queues: this.#queues, book: this.#book };
    this.#tasks = new NatsTasks(shared);
    this.#deadLetters = new NatsDeadLetters(shared, this.#tasks);
    this.#settling = new NatsSettling(shared, this.#deadLetters);
    this.#leasing = new NatsLeasing(shared, this.#tasks, this.#deadLetters, {
      send,
      createInbox: () => parts.drivers.transport.createInbox(),
      graceMs: Math.min(timeoutMs, 10_000),
    });
  }

  /** Leases this backend holds now (for tests and shutdown logs). */
  get leasesHeld(): number {
    return this.#book.size;
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    this.#open();
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    tasks.forEach((task, index) => this.#tasks.checkSize(task, index));
    // Published back to back on one connection, so JetStream stores them in this order.
    const publishAll = async (): Promise<ItemResult<Task>[]> =>
      Promise.all(tasks.map(async (task) => this.#tasks.insert(queue, task, now)));
    try {
      await this.#queues.need(queue);
      return await publishAll();
    } catch (error) {
      // Missing, or deleted by another process since this one cached it: nothing was stored.
      if (!(error instanceof PullqError && error.code === 'queue_not_found')) throw error;
      if (!options.createQueue) throw error;
      await this.#queues.ensure(queue);
      return publishAll();
    }
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    this.#open();
    checkLease(queue, request);
    if (request.tag !== undefined) {
      throw unsupported('leasing by tag', 'lease without a tag, or give each kind of task a queue');
    }
    if (request.groupByTag) {
      throw unsupported('groupByTag', 'lease without it, or give each group a queue');
    }
    if (request.signal?.aborted) return [];
    const signal =
      request.signal === undefined
        ? this.#closing.signal
        : AbortSignal.any([this.#closing.signal, request.signal]);
    return this.#leasing.lease(queue, request, signal);
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkRefs(queue, refs);
    await this.#queues.need(queue);
    return this.#settling.ack(queue, refs);
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    this.#open();
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    await this.#queues.need(queue);
    return this.#settling.extend(queue, refs, leaseSeconds);
  }

  /** The error note of a release is kept (as the task's note) for a later dead letter. */
  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    this.#open();
    checkReleases(queue, releases);
    const handle = await this.#queues.need(queue);
    return this.#settling.release(queue, releases, handle.info.deadLetterQueue);
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkIds(queue, ids);
    await this.#queues.need(queue);
    return Promise.all(
      ids.map(async (id): Promise<ItemResult<null>> => {
        const purged = await this.#queues.purge(queue, '*', id);
        this.#book.forgetTask(queue, id);
        return purged > 0
          ? { ok: true, value: null }
          : { ok: false, error: taskNotFound(queue, id) };
      }),
    );
  }

  /** Attempts are known only for a lease this backend holds (JetStream keeps them per
   * consumer, not per message); a task leased elsewhere reads as ready. */
  async get(queue: string, id: string): Promise<Task | null> {
    this.#open();
    return this.#tasks.get(queue, id);
  }

  list(queue: string, _request: ListRequest): Promise<TaskPage> {
    checkQueueName(queue);
    return Promise.reject(
      unsupported(
        'listing tasks',
        'use stats for counts and get for one task by id (or `nats stream view` to browse the stream)',
      ),
    );
  }

  /**
   * From the consumers' counters: ready is what `ready` has not delivered yet; leased is what
   * it delivered and is not acknowledged (so released tasks waiting out a delay count there
   * too); delayed and dead count their consumers' messages. No ages or lease rates (null, 0).
   */
  async stats(queue: string): Promise<QueueStats> {
    this.#open();
    await this.#queues.need(queue);
    const [ready, delayed, dead] = await Promise.all([
      this.#queues.counts(queue, 'ready'),
      this.#queues.counts(queue, 'delayed'),
      this.#queues.counts(queue, 'dead'),
    ]);
    return {
      ready: ready.pending,
      leased: ready.acking,
      delayed: delayed.pending + delayed.acking,
      dead: dead.pending + dead.acking,
      oldestReadyAgeSeconds: null,
      oldestEta: null,
      leasedLastMinute: 0,
      leasedLastHour: 0,
    };
  }

  /** Moves this queue's dead letters back to ready. Tasks moved into this queue as dead
   * letters of another are ready tasks here: lease them from this queue. */
  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    this.#open();
    if (request.ids !== undefined) checkIds(queue, request.ids);
    return this.#deadLetters.redrive(queue, request.ids);
  }

  async createQueue(name: string, config?: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    return this.#queues.create(name, config);
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    this.#open();
    return this.#queues.get(name);
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    return this.#queues.update(name, patch);
  }

  async deleteQueue(name: string): Promise<void> {
    this.#open();
    await this.#queues.delete(name);
    this.#book.forgetQueue(name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    this.#open();
    return this.#queues.list();
  }

  /** Deletes ready, delayed, leased and dead tasks; JetStream's dedup window is kept. */
  async purgeQueue(name: string): Promise<number> {
    this.#open();
    await this.#queues.need(name);
    let purged = 0;
    for (const kind of CONSUMERS) purged += await this.#queues.purge(name, kind);
    await this.#queues.purge(name, 'note');
    this.#book.forgetQueue(name);
    return purged;
  }

  /** Ends waiting leases and closes the connection (flushing what was sent). Leases still
   * held are left to the server, which redelivers them after the ack wait. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#book.close();
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close();
    }
  }

  #open(): void {
    if (this.#closed) throw new PullqError('unavailable', 'the nats backend is closed');
  }
}
