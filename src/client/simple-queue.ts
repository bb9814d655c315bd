/**
 * SimpleQueue: kombu's Queue-like facade over one queue. `put` encodes a body into the
 * envelope and inserts it; `get` hands out one Message at a time from a prefetch buffer that
 * one lease request fills with up to `numTasks` tasks (long-polling where the backend can,
 * else polling every `pollingInterval`).
 *
 * The buffer is separate from the messages the caller holds: buffered tasks are leased but
 * not yet handed out, and close() gives them back (lease set to 0) so other consumers get them
 * at once. A buffered task whose lease has run half its course is extended as it is handed
 * out, so a slow consumer with a large prefetch never works on a lease that already ran out.
 */
import { performance } from 'node:perf_hooks';
import type { Backend, Capabilities, LeasedTask, NewTask } from '../backends/backend.ts';
import { PullqError } from '../protocol/errors.ts';
import { LIMITS, checkInt, checkNumber, checkQueueName } from '../protocol/limits.ts';
import type { Connection } from './connection.ts';
import { decodeEnvelope, type DecodeOptions, type RawDecoding } from './envelope.ts';
import { Message, type Delivery } from './message.ts';
import { newTask, type PutOptions, type PutResult } from './put.ts';
import { PutBatcher } from './put-batcher.ts';
import { settledOrDeadline, sleep } from './waits.ts';
import type { CompressionName, SerializerName } from './serializers.ts';

export interface SimpleQueueOptions {
  /** Overrides the connection's prefetch. */
  numTasks?: number;
  /** Overrides the connection's lease length, in seconds. */
  leaseSeconds?: number;
  /** Overrides the connection's polling interval, in seconds. */
  pollingInterval?: number;
  /** Lease only tasks with this tag. */
  tag?: string;
  /** Lease only tasks with the tag of the oldest ready task. */
  groupByTag?: boolean;
  /** Default serializer of `put`. Default 'json'. */
  serializer?: SerializerName;
  /** Default compression of `put`. Default none. */
  compression?: CompressionName;
  /** Serializer names or content types this consumer decodes; default all built-ins. */
  accept?: readonly string[];
  /** How to decode tasks without an envelope. Default 'bytes'. */
  raw?: RawDecoding;
}

export interface GetOptions {
  /** Seconds to wait for a message; without it `get` waits until one comes. */
  timeout?: number;
  /** Ends the wait: `get` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Long-polls are cut into waits this long (the server allows 60 s), so a dropped connection
 * costs at most this much. */
const LONG_POLL_CHUNK_SECONDS = 20;

interface Buffered {
  task: LeasedTask;
  /** Local time (connection clock) by which the lease surely ends: the request's start plus
   * the lease length, so a clock difference with the server cannot make it late. */
  expiresAt: number;
}

export class SimpleQueue<T = unknown> implements AsyncIterable<Message<T>>, AsyncDisposable {
  readonly name: string;
  readonly #connection: Connection;
  readonly #options: SimpleQueueOptions;
  readonly #numTasks: number;
  readonly #leaseSeconds: number;
  readonly #pollingInterval: number;
  readonly #decode: DecodeOptions;
  readonly #buffer: Buffered[] = [];
  readonly #held = new Set<Message<unknown>>();
  readonly #closing = new AbortController();
  #filling: Promise<void> | undefined;
  /** Concurrent `put`s, coalesced into insert requests. */
  readonly #puts = new PutBatcher(
    async (tasks) => this.#insert(tasks),
    () => this.#track(),
  );
  /** Lease requests under way. */
  #inFlight = 0;
  /** The backend's, once connected (messages exist only after a lease, so by then). */
  #capabilities!: Capabilities;
  #closed = false;

  /** @internal Use `connection.simpleQueue(name)`. */
  constructor(connection: Connection, name: string, options: SimpleQueueOptions = {}) {
    checkQueueName(name);
    const defaults = connection.options;
    this.#numTasks = options.numTasks ?? defaults.numTasks;
    checkInt(this.#numTasks, 'numTasks', 1, LIMITS.maxTasksPerLease);
    this.#leaseSeconds = options.leaseSeconds ?? defaults.leaseSeconds;
    checkNumber(this.#leaseSeconds, 'leaseSeconds', 0.001, LIMITS.maxLeaseSeconds);
    this.#pollingInterval = options.pollingInterval ?? defaults.pollingInterval;
    checkNumber(this.#pollingInterval, 'pollingInterval', 0.01, 3600);
    this.name = name;
    this.#connection = connection;
    this.#options = options;
    this.#decode = {
      ...(options.accept === undefined ? {} : { accept: options.accept }),
      ...(options.raw === undefined ? {} : { raw: options.raw }),
    };
  }

  /**
   * Inserts one message; resolves with its task id. Puts made while others are on their way
   * go out together, in one insert request (./put-batcher.ts).
   */
  async put(body: T, options: PutOptions = {}): Promise<string> {
    this.#checkOpen();
    const now = this.#connection.options.clock.now();
    const result = this.#puts.put(newTask({ body, ...options }, this.#options, now));
    this.#track();
    const answer = await result;
    if (!answer.ok) throw answer.error;
    return answer.id;
  }

  /**
   * Inserts many messages, 1000 to a request; one result per message, in order. A message
   * that cannot be encoded throws before anything is sent.
   */
  async putMany(items: ReadonlyArray<{ body: T } & PutOptions>): Promise<PutResult[]> {
    this.#checkOpen();
    const now = this.#connection.options.clock.now();
    const tasks = items.map((item) => newTask(item, this.#options, now));
    const results: PutResult[] = [];
    for (let start = 0; start < tasks.length; start += LIMITS.maxBatch) {
      results.push(...(await this.#insert(tasks.slice(start, start + LIMITS.maxBatch))));
    }
    return results;
  }

  /**
   * The next message. Without `timeout` it waits until one comes; with one, it resolves null
   * when none came in that many seconds.
   */
  get(options?: { signal?: AbortSignal }): Promise<Message<T>>;
  get(options: GetOptions & { timeout: number }): Promise<Message<T> | null>;
  async get(options: GetOptions = {}): Promise<Message<T> | null> {
    this.#checkOpen();
    let deadline = Infinity;
    if (options.timeout !== undefined) {
      checkNumber(options.timeout, 'timeout', 0, 365 * 24 * 3600);
      deadline = performance.now() + options.timeout * 1000;
    }
    const message = await this.#next(deadline, options.signal);
    if (message === null && deadline === Infinity) throw this.#closedError();
    return message;
  }

  /** A message if one is ready now, else null; never waits for one to arrive. */
  async getNowait(): Promise<Message<T> | null> {
    this.#checkOpen();
    const buffered = await this.#takeBuffered();
    if (buffered !== null) return buffered;
    // Its own request: a long-poll under way for another get() must not hold it up.
    await this.#fillOnce(0);
    return this.#takeBuffered();
  }

  /**
   * Tasks waiting to be leased (ready or delayed; not leased, not dead). Backends without exact
   * stats give an estimate (v1beta2's counts leased tasks too). A queue not created yet holds
   * 0 when queues are created on first use.
   */
  async qsize(): Promise<number> {
    this.#checkOpen();
    const stats = await this.#unlessMissing((backend) => backend.stats(this.name));
    return stats === null ? 0 : stats.ready + stats.delayed;
  }

  /** Deletes every task of the queue, leased ones included; resolves with how many. */
  async clear(): Promise<number> {
    this.#checkOpen();
    this.#buffer.length = 0;
    this.#track();
    return (await this.#unlessMissing((backend) => backend.purgeQueue(this.name))) ?? 0;
  }

  /** The call's answer, or null when the queue does not exist yet and would be auto-created. */
  async #unlessMissing<R>(operation: (backend: Backend) => Promise<R>): Promise<R | null> {
    try {
      return await this.#connection.ensure(operation);
    } catch (error) {
      const missing = error instanceof PullqError && error.code === 'queue_not_found';
      if (missing && this.#connection.options.autoCreateQueues) return null;
      throw error;
    }
  }

  /** Stops consuming and gives back the buffered tasks; held messages can still be settled. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    // Puts made before close() still go out.
    await this.#puts.flush();
    await this.#filling?.catch(() => undefined);
    await this.#giveBack(this.#buffer.splice(0).map(({ task }) => task));
    this.#track();
  }

  /** @internal Connection.close(): close, and give back the messages handed out and unsettled. */
  async closeAll(): Promise<void> {
    await this.close();
    await Promise.allSettled([...this.#held].map(async (message) => message.release()));
  }

  /** Releases leases at once (lease set to 0) so that other consumers get the tasks now. */
  async #giveBack(tasks: LeasedTask[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.#connection
      .ensure((backend) =>
        backend.release(
          this.name,
          tasks.map((task) => ({ ref: { id: task.id, token: task.leaseToken } })),
        ),
      )
      // The leases run out on their own; a close never fails for want of a server.
      .catch(() => undefined);
  }

  /** Tells the connection whether this queue has anything close() must give back. */
  #track(): void {
    const active =
      this.#inFlight > 0 || this.#buffer.length > 0 || this.#held.size > 0 || !this.#puts.idle;
    this.#connection.track(this, active);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Message<T>> {
    for (;;) {
      if (this.#closed) return;
      const message = await this.#next(Infinity, undefined);
      if (message === null) return;
      yield message;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #insert(tasks: NewTask[]): Promise<PutResult[]> {
    let repeated = false;
    const createQueue = this.#connection.options.autoCreateQueues;
    const results = await this.#connection.ensure(async (backend, attempt) => {
      repeated = attempt > 1;
      return backend.insert(this.name, tasks, { createQueue });
    });
    return Promise.all(
      results.map(async (result, index): Promise<PutResult> => {
        const task = tasks[index] as NewTask & { id: string };
        if (result.ok) return { ok: true, id: result.value.id };
        if (repeated && result.error.code === 'already_exists' && (await this.#landed(task))) {
          return { ok: true, id: task.id };
        }
        return { ok: false, error: result.error };
      }),
    );
  }

  /** Whether the task in the queue under this id is the one we sent (an earlier try's). */
  async #landed(task: NewTask & { id: string }): Promise<boolean> {
    const stored = await this.#connection.ensure((backend) => backend.get(this.name, task.id));
    return stored !== null && Buffer.from(stored.payload).equals(task.payload);
  }

  /** The next message, or null once `deadline` (performance.now ms) passed or the queue closed. */
  async #next(deadline: number, signal: AbortSignal | undefined): Promise<Message<T> | null> {
    let first = true;
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closed) return null;
      const message = await this.#takeBuffered();
      if (message !== null) return message;
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0 && !first) return null;
      first = false;
      if (this.#filling === undefined) {
        const filling = this.#fill(Math.max(0, remainingMs)).finally(() => {
          this.#filling = undefined;
        });
        // Its waiters may all have gone (deadline, abort): a failure must not go unhandled.
        filling.catch(() => undefined);
        this.#filling = filling;
      }
      await settledOrDeadline(this.#filling, deadline, signal);
    }
  }

  /** One lease request into the buffer; without long-poll, a pause when it brought nothing. */
  async #fill(remainingMs: number): Promise<void> {
    const found = await this.#fillOnce(remainingMs);
    if (this.#closed || found > 0 || this.#capabilities.longPoll) return;
    await sleep(Math.min(this.#pollingInterval * 1000, remainingMs), this.#closing.signal);
  }

  /** One lease request (long-polling up to `remainingMs` where the backend can) into the
   * buffer; resolves with how many tasks it brought. */
  async #fillOnce(remainingMs: number): Promise<number> {
    const backend = await this.#connection.connect();
    this.#capabilities = backend.capabilities;
    const waitSeconds = backend.capabilities.longPoll
      ? Math.min(remainingMs / 1000, LONG_POLL_CHUNK_SECONDS)
      : 0;
    const startedAt = this.#connection.options.clock.now();
    this.#inFlight++;
    this.#track();
    try {
      const tasks = await this.#lease(waitSeconds);
      if (this.#closed) {
        // Leased while close() ran: no one will get these here.
        await this.#giveBack(tasks);
        return 0;
      }
      const expiresAt = startedAt + this.#leaseSeconds * 1000;
      for (const task of tasks) this.#buffer.push({ task, expiresAt });
      return tasks.length;
    } finally {
      this.#inFlight--;
      this.#track();
    }
  }

  async #lease(waitSeconds: number): Promise<LeasedTask[]> {
    const request = {
      max: this.#numTasks,
      leaseSeconds: this.#leaseSeconds,
      ...(this.#options.tag === undefined ? {} : { tag: this.#options.tag }),
      ...(this.#options.groupByTag === undefined ? {} : { groupByTag: this.#options.groupByTag }),
      ...(waitSeconds > 0 ? { waitSeconds } : {}),
      signal: this.#closing.signal,
    };
    try {
      return await this.#connection.ensure(
        (backend) => backend.lease(this.name, request),
        this.#closing.signal,
      );
    } catch (error) {
      if (!(error instanceof PullqError) || error.code !== 'queue_not_found') throw error;
      // kombu declares the queues it consumes from: a consumer may start before any producer.
      const refused = await this.#declare();
      if (refused === null) return [];
      throw new PullqError(
        'queue_not_found',
        `${error.message}, and this connection cannot create it (${refused}): create it (pullq queue create ${this.name}) or put a task to it first`,
        { cause: error, details: error.details ?? {} },
      );
    }
  }

  /** Creates the queue if allowed: null when it now exists, else why it could not. */
  async #declare(): Promise<string | null> {
    if (!this.#connection.options.autoCreateQueues) return 'autoCreateQueues is off';
    try {
      await this.#connection.ensure(async (backend: Backend) => {
        if (!backend.capabilities.queueAdmin) {
          throw new PullqError('unsupported', 'the backend has no queue admin');
        }
        await backend.createQueue(this.name);
      });
      return null;
    } catch (error) {
      if (error instanceof PullqError && error.code === 'already_exists') return null;
      return error instanceof PullqError ? `${error.code}: ${error.message}` : String(error);
    }
  }

  /** The first buffered task that is still ours, as a Message. */
  async #takeBuffered(): Promise<Message<T> | null> {
    const clock = this.#connection.options.clock;
    for (;;) {
      const next = this.#buffer.shift();
      if (next === undefined) return null;
      const message = this.#message(next.task);
      const leaseMs = this.#leaseSeconds * 1000;
      if (next.expiresAt - clock.now() >= leaseMs / 2) return message;
      try {
        await message.extendLease(this.#leaseSeconds);
        return message;
      } catch (error) {
        this.#held.delete(message);
        this.#track();
        if (error instanceof PullqError && ['lease_lost', 'task_not_found'].includes(error.code)) {
          continue; // someone else has it now
        }
        throw error;
      }
    }
  }

  #message(task: LeasedTask): Message<T> {
    const delivery: Delivery = {
      queue: this.name,
      capabilities: this.#capabilities,
      ensure: (operation) => this.#connection.ensure(operation),
      settled: (message) => {
        this.#held.delete(message);
        this.#track();
      },
    };
    const message = new Message<T>(task, decodeEnvelope(task.payload, this.#decode), delivery);
    this.#held.add(message);
    this.#track();
    return message;
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): PullqError {
    return new PullqError('unavailable', `queue ${JSON.stringify(this.name)} is closed`);
  }
}
