/**
 * The Backend: the one interface every place where queues live implements (memory, SQLite,
 * PostgreSQL, Redis, a pullq server over HTTP). The server, the client and the worker are
 * built once, above it.
 *
 * Terminology
 * - queue: a named set of tasks; names match `[a-zA-Z0-9-]{1,100}`.
 * - task: payload bytes with an id, an optional tag and an ETA.
 * - id: the task's name, unique in its queue among live tasks and tombstones; generated when
 *   the producer does not choose one; `[a-zA-Z0-9_-]{1,500}`.
 * - seq: the insertion order; ties of ETA are broken by it.
 * - ETA: the time before which a task cannot be leased. While a task is leased its ETA is the
 *   time its lease ends (so an expired lease simply makes the task leasable again).
 * - lease: an exclusive, time-limited claim on a task. Leasing counts an attempt (the first
 *   lease gives attempts = 1) and hands out a lease token.
 * - lease token: an opaque string naming one lease. Ack, extend and release present it; it is
 *   valid until the task is leased again, acked, released or deleted. A stale token gets
 *   `lease_lost`, never a silent success.
 * - state: `ready` (leasable now), `delayed` (ETA in the future), `leased` (lease running),
 *   `dead` (over the queue's maxLeases, or rejected; kept until redriven or deleted).
 * - tombstone: a record that a caller-chosen id was used; the id is refused (already_exists)
 *   for the queue's dedup window after the task is acked or deleted.
 * - dead letter: a task that would exceed its queue's maxLeases; it moves to the queue's
 *   dead-letter queue (as a ready task there) or, when none is set, stays as `dead`.
 *
 * Rules every implementation keeps
 * - Every verb is async and batch-shaped; every state change is one atomic step (one SQL
 *   transaction, one Lua script, one memory mutation).
 * - Time comes from the injected `Clock` (milliseconds since the epoch), never `Date.now()`.
 * - Per-item failures in a batch (a stale token, a taken id) come back as items, not throws;
 *   a throw means the whole call failed.
 * - Lease order is ETA ascending, then seq.
 */
import type { PullqError } from '../protocol/errors.ts';

export interface Clock {
  /** Milliseconds since the Unix epoch (an integer). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type TaskState = 'ready' | 'delayed' | 'leased' | 'dead';
export const TASK_STATES: readonly TaskState[] = ['ready', 'delayed', 'leased', 'dead'];

export interface QueueConfig {
  /** Leases a task may have; the next one dead-letters it instead. `null`: unlimited. */
  maxLeases: number | null;
  /** Where dead letters go; `null` keeps them in this queue in the `dead` state. */
  deadLetterQueue: string | null;
  /** How long an acked or deleted caller-chosen id stays refused. */
  dedupWindowSeconds: number;
  /** A paused queue accepts inserts but leases nothing. */
  paused: boolean;
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  maxLeases: null,
  deadLetterQueue: null,
  // App Engine kept tombstones "up to seven days"; old clients may rely on that window.
  dedupWindowSeconds: 7 * 24 * 3600,
  paused: false,
};

export interface QueueInfo extends QueueConfig {
  name: string;
  createdAt: number;
}

export interface NewTask {
  payload: Uint8Array;
  /** Caller-chosen id (dedup key); generated when absent. */
  id?: string;
  tag?: string;
  /** Milliseconds since the epoch; defaults to now; at most 30 days ahead. */
  eta?: number;
}

export interface Task {
  queue: string;
  id: string;
  payload: Uint8Array;
  tag: string | null;
  /** Milliseconds since the epoch. */
  enqueuedAt: number;
  /** Leasable from this time; while leased, the time the lease ends. */
  eta: number;
  attempts: number;
  state: TaskState;
  /** The note left by the last release or dead-lettering, if any. */
  lastError: string | null;
  /** Set on a task moved here as a dead letter: the queue it came from. */
  deadLetteredFrom: string | null;
}

export interface LeasedTask extends Task {
  state: 'leased';
  leaseToken: string;
}

/**
 * Names one lease. `token` is the native fence. `leaseExpiresAt` is the v1beta2 fence (its
 * `leaseTimestamp`): it matches only while that lease is still running.
 */
export type LeaseRef = { id: string; token: string } | { id: string; leaseExpiresAt: number };

export interface ReleaseRequest {
  ref: LeaseRef;
  /** Seconds until the task is leasable again (0: at once). */
  delaySeconds?: number;
  /** A note kept on the task (the handler's error), truncated to 4 KiB. */
  error?: string;
  /** Dead-letter the task now instead of making it leasable again. */
  deadLetter?: boolean;
}

export interface LeaseRequest {
  /** 1..1000 */
  max: number;
  /** 0..604800 */
  leaseSeconds: number;
  /** Only tasks with this tag. */
  tag?: string;
  /** Only tasks with the tag of the oldest ready task (untagged tasks are a group too). */
  groupByTag?: boolean;
  /** Long-poll: wait up to this long for a task to arrive when none is ready. */
  waitSeconds?: number;
  /** Ends a long-poll early (it then returns what it has: nothing). */
  signal?: AbortSignal;
}

export interface ListRequest {
  state?: TaskState;
  tag?: string;
  /** 1..1000 */
  limit: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string;
  /** Payloads are left out (empty) unless asked for. */
  includePayload?: boolean;
}

export interface TaskPage {
  tasks: Task[];
  nextCursor: string | null;
}

export interface QueueStats {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  /** Age in seconds of the ready task with the oldest ETA; null when none is ready. */
  oldestReadyAgeSeconds: number | null;
  /** ETA (ms) of the oldest task that is not dead; null when there is none. */
  oldestEta: number | null;
  leasedLastMinute: number;
  leasedLastHour: number;
}

export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: PullqError };

export interface InsertOptions {
  /** Create the queue with default settings when it does not exist (else queue_not_found). */
  createQueue?: boolean;
}

export interface RedriveRequest {
  /** Only these tasks; all dead letters of the queue when absent. */
  ids?: string[];
}

/** What a backend can do; the client degrades clearly (an `unsupported` error) without them. */
export interface Capabilities {
  longPoll: boolean;
  tags: boolean;
  list: boolean;
  exactStats: boolean;
  deadLetters: boolean;
  queueAdmin: boolean;
  /**
   * An id in use or tombstoned is refused with `already_exists`, so a named put is a dedup key
   * and a retried put is recognised. Absent means true; a broker that cannot refuse a message
   * by id (AMQP) declares false.
   */
  uniqueIds?: boolean;
}

export interface Backend {
  readonly capabilities: Capabilities;

  insert(queue: string, tasks: NewTask[], options?: InsertOptions): Promise<ItemResult<Task>[]>;
  lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]>;
  /** Deletes leased tasks, fenced by their lease. */
  ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]>;
  /** Sets each lease to end `leaseSeconds` from now. The token stays the same. */
  extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]>;
  release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]>;
  /** Deletes tasks whatever their state, without a lease (v1beta2 delete, admin). */
  delete(queue: string, ids: string[]): Promise<ItemResult<null>[]>;
  get(queue: string, id: string): Promise<Task | null>;
  list(queue: string, request: ListRequest): Promise<TaskPage>;
  stats(queue: string): Promise<QueueStats>;
  /** Moves dead letters back: dead tasks here become ready, tasks dead-lettered into this
   * queue go back to their own queue. Returns how many moved. */
  redrive(queue: string, request?: RedriveRequest): Promise<number>;

  createQueue(name: string, config?: Partial<QueueConfig>): Promise<QueueInfo>;
  getQueue(name: string): Promise<QueueInfo | null>;
  updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo>;
  /** Deletes the queue and every task in it. */
  deleteQueue(name: string): Promise<void>;
  listQueues(): Promise<QueueInfo[]>;
  /** Deletes every task in the queue (tombstones are kept). Returns how many. */
  purgeQueue(name: string): Promise<number>;

  close(): Promise<void>;
}
