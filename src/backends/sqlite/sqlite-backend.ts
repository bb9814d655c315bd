/**
 * sqlite: the embedded backend. One SQLite file (WAL) on local disk, through `node:sqlite`;
 * every process that opens the file shares its queues.
 *
 * URL: `sqlite:///path/to/pullq.db` (`sqlite://:memory:` for a private in-memory store)
 * Capabilities: all. A long-poll wakes at once for tasks that this instance inserts or
 * releases; tasks added through another connection are seen within LONG_POLL_RECHECK_MS.
 * Options:
 * - `path`: the database file, created with its parent folders when missing; `:memory:`.
 * - `clock` (default: the system clock).
 * - `synchronous`: `NORMAL` (default) commits survive a crash of the process (even SIGKILL)
 *   but the last few may be lost if the machine loses power; `FULL` fsyncs the WAL on every
 *   commit and also survives power loss, at a cost per commit of one fsync.
 *
 * Locking: every verb is one transaction. Writers take the write lock up front
 * (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail at once
 * with SQLITE_BUSY when another connection wrote in between, while BEGIN IMMEDIATE waits
 * (busy_timeout) and then sees the newest data. node:sqlite is synchronous, so a verb runs
 * to its COMMIT without yielding and two verbs of one instance never interleave. Readers
 * (get, list, stats) take no lock in WAL mode.
 */
/* eslint-disable @typescript-eslint/require-await --
   node:sqlite is synchronous; the verbs are async so that every failure, input checks
   included, reaches the caller as a rejected promise, as the contract requires. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PullqError } from '../../protocol/errors.ts';
import { checkInt, checkQueueName, truncateNote } from '../../protocol/limits.ts';
import {
  DEFAULT_QUEUE_CONFIG,
  systemClock,
  type Backend,
  type Capabilities,
  type Clock,
  type InsertOptions,
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
  type TaskState,
} from '../backend.ts';
import {
  Wakeups,
  checkIds,
  checkInsert,
  checkLease,
  checkLeaseSeconds,
  checkList,
  checkQueueConfig,
  checkRefs,
  checkReleases,
  idTaken,
  leaseLost,
  leaseWithWait,
  queueNotFound,
  refMatches,
  taskNotFound,
} from '../common.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { definedOnly } from '../memory.ts';
import { IdSource } from './id-source.ts';
import { migrate } from './migrate.ts';
import { sqliteError } from './sqlite-error.ts';
import {
  Statements,
  candidateRows,
  type QueueRow,
  type TaskRow,
  type TaskRowWithPayload,
} from './statements.ts';

export interface SqliteBackendOptions {
  /** The database file, or `:memory:`. */
  path: string;
  clock?: Clock;
  /** `NORMAL` (default): survives a process crash. `FULL`: also survives power loss. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for another connection's lock before failing with
   * `unavailable` (default 5000 ms). */
  busyTimeoutMs?: number;
}

const ALL_CAPABILITIES: Capabilities = {
  longPoll: true,
  tags: true,
  list: true,
  exactStats: true,
  deadLetters: true,
  queueAdmin: true,
};

/** Writes are short (a lease of 100 holds the lock for about 1 ms), so a wait this long
 * means a stuck or crashed peer rather than load. */
const BUSY_TIMEOUT_MS = 5000;
/** A queue's lease counts older than an hour are deleted about this often (by lease). */
const PRUNE_LEASE_COUNTS_EVERY_MS = 60_000;
/**
 * Expired tombstones are deleted about this often, at most TOMBSTONE_PRUNE_LIMIT at a time
 * so that one write never stalls on a large backlog of them; that still keeps up with 5,000
 * acks of caller-named tasks a second.
 */
const PRUNE_TOMBSTONES_EVERY_MS = 1000;
const TOMBSTONE_PRUNE_LIMIT = 5000;
const HOUR_MS = 3_600_000;
const EMPTY = new Uint8Array(0);

function stateOfRow(row: TaskRow, now: number): TaskState {
  if (row.dead) return 'dead';
  if (row.eta <= now) return 'ready';
  return row.lease_token === null ? 'delayed' : 'leased';
}

function toTask(queue: string, row: TaskRow, now: number, payload: Uint8Array): Task {
  return {
    queue,
    id: row.id,
    payload,
    tag: row.tag,
    enqueuedAt: row.enqueued_at,
    eta: row.eta,
    attempts: row.attempts,
    state: stateOfRow(row, now),
    lastError: row.last_error,
    deadLetteredFrom: row.dead_lettered_from,
  };
}

function toInfo(row: QueueRow): QueueInfo {
  return {
    name: row.name,
    createdAt: row.created_at,
    maxLeases: row.max_leases,
    deadLetterQueue: row.dead_letter_queue,
    dedupWindowSeconds: row.dedup_window_seconds,
    paused: row.paused === 1,
  };
}

export class SqliteBackend implements Backend {
  readonly capabilities = ALL_CAPABILITIES;
  readonly #path: string;
  readonly #clock: Clock;
  readonly #db: DatabaseSync;
  readonly #sql: Statements;
  readonly #wakeups = new Wakeups();
  readonly #ids = new IdSource();
  /** Queues to wake once the running transaction commits. */
  readonly #toNotify = new Set<string>();
  /** queue -> when this instance last pruned its lease counts. */
  readonly #leaseCountsPrunedAt = new Map<string, number>();
  #tombstonesPrunedAt = -Infinity;
  #closed = false;

  constructor(options: SqliteBackendOptions) {
    this.#path = options.path;
    this.#clock = options.clock ?? systemClock;
    const synchronous = options.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
      throw new PullqError('invalid_argument', 'synchronous must be NORMAL or FULL', {
        details: { field: 'synchronous' },
      });
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    checkInt(busyTimeoutMs, 'busyTimeoutMs', 0, 600_000);
    const inMemory = options.path === ':memory:';
    let db: DatabaseSync | undefined;
    try {
      // A `file:` URI names its file itself (and may be read-only: `?mode=ro`).
      if (!inMemory && !options.path.startsWith('file:')) {
        mkdirSync(dirname(options.path), { recursive: true });
      }
      db = new DatabaseSync(options.path);
      // busy_timeout first: switching to WAL and migrating may wait for another process.
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${synchronous}`);
      migrate(db, this.#clock.now());
      this.#sql = new Statements(db);
    } catch (error) {
      db?.close();
      throw sqliteError(error, options.path);
    }
    this.#db = db;
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    this.#open();
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    return this.#write(now, () => {
      const sql = this.#sql;
      if (!this.#queue(queue)) {
        if (!options.createQueue) throw queueNotFound(queue);
        this.#createRow(queue, {}, now);
      }
      const results = tasks.map((task): ItemResult<Task> => {
        if (task.id !== undefined) {
          const taken = sql.idTaken.get(queue, task.id, queue, task.id) as {
            live: number;
            tombstone: number | null;
          };
          if (taken.live) return { ok: false, error: idTaken(queue, task.id, false) };
          if (taken.tombstone !== null) {
            if (taken.tombstone > now) return { ok: false, error: idTaken(queue, task.id, true) };
            sql.tombstoneDelete.run(queue, task.id);
          }
        }
        const id = task.id ?? this.#ids.taskId(now);
        const tag = task.tag ?? null;
        const eta = task.eta ?? now;
        sql.taskInsert.run(queue, id, task.id === undefined ? 0 : 1, tag, now, eta, task.payload);
        return {
          ok: true,
          value: {
            queue,
            id,
            payload: task.payload,
            tag,
            enqueuedAt: now,
            eta,
            attempts: 0,
            state: eta <= now ? 'ready' : 'delayed',
            lastError: null,
            deadLetteredFrom: null,
          },
        };
      });
      this.#toNotify.add(queue);
      return results;
    });
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    this.#open();
    checkLease(queue, request);
    return leaseWithWait(
      () => Promise.resolve(this.#leaseOnce(queue, request)),
      this.#wakeups,
      queue,
      request,
      () => this.#closed,
    );
  }

  #leaseOnce(queue: string, request: LeaseRequest): LeasedTask[] {
    // A long-poll may look again after close(): it then ends with what it has.
    if (this.#closed) return [];
    const now = this.#clock.now();
    return this.#write(now, () => {
      const sql = this.#sql;
      const stored = this.#need(queue);
      if (stored.paused) return [];
      let tag: string | null | undefined = request.tag;
      if (tag === undefined && request.groupByTag) {
        const first = sql.firstReady.get(queue, now) as { tag: string | null } | undefined;
        if (!first) return [];
        tag = first.tag;
      }
      const leaseEnds = now + Math.round(request.leaseSeconds * 1000);
      const leased: LeasedTask[] = [];
      // Without maxLeases every candidate is leased and one page of `max` rows is all it
      // takes. With it, candidates past their limit are dead-lettered instead and do not count,
      // so further pages may be needed; a task just leased for 0 s is ready again and may show
      // up in a later page: `seen` keeps it from being leased twice.
      const seen = new Set<number>();
      let afterEta = -1;
      let afterSeq = 0;
      for (;;) {
        const want = request.max - leased.length;
        const rows =
          tag === undefined
            ? candidateRows(sql.candidates, queue, now, afterEta, afterSeq, want)
            : candidateRows(sql.candidatesOfTag, queue, now, afterEta, afterSeq, tag, want);
        for (const row of rows) {
          if (seen.has(row.seq)) continue;
          if (stored.max_leases !== null && row.attempts >= stored.max_leases) {
            this.#deadLetter(
              stored,
              row,
              `leased ${row.attempts} times, the queue's maxLeases`,
              now,
            );
            continue;
          }
          const token = this.#ids.token();
          sql.leaseTask.run(leaseEnds, token, row.seq);
          seen.add(row.seq);
          leased.push({
            queue,
            id: row.id,
            payload: row.payload,
            tag: row.tag,
            enqueuedAt: row.enqueued_at,
            eta: leaseEnds,
            attempts: row.attempts + 1,
            state: 'leased',
            lastError: row.last_error,
            deadLetteredFrom: row.dead_lettered_from,
            leaseToken: token,
          });
        }
        const last = rows.at(-1);
        if (rows.length < want || leased.length >= request.max || !last) break;
        afterEta = last.eta;
        afterSeq = last.seq;
      }
      if (leased.length > 0) {
        sql.countLeases.run(queue, now, leased.length);
        const prunedAt = this.#leaseCountsPrunedAt.get(queue) ?? -Infinity;
        if (now - prunedAt >= PRUNE_LEASE_COUNTS_EVERY_MS) {
          sql.pruneLeaseCounts.run(queue, now - HOUR_MS);
          this.#leaseCountsPrunedAt.set(queue, now);
        }
      }
      return leased;
    });
  }

  /**
   * Moves a task out of the running: into the queue's dead-letter queue as a new ready task,
   * or to the dead state here. `row.last_error` is the note it keeps, if it has one.
   * Returns the task where it ended up.
   */
  #deadLetter(stored: QueueRow, row: TaskRow, note: string, now: number): Task {
    const sql = this.#sql;
    const lastError = row.last_error ?? note;
    const target = stored.dead_letter_queue;
    if (target === null) {
      sql.markDead.run(now, lastError, row.seq);
      const dead = { ...row, dead: 1, lease_token: null, eta: now, last_error: lastError };
      return toTask(stored.name, dead, now, EMPTY);
    }
    if (!this.#queue(target)) this.#createRow(target, {}, now);
    const id = sql.idLive.get(target, row.id) ? this.#ids.taskId(now) : row.id;
    sql.moveTask.run(target, id, now, lastError, stored.name, row.seq);
    this.#remove(stored, row, now);
    this.#toNotify.add(target);
    const moved = {
      ...row,
      id,
      eta: now,
      attempts: 0,
      dead: 0,
      lease_token: null,
      last_error: lastError,
      dead_lettered_from: stored.name,
    };
    return toTask(target, moved, now, EMPTY);
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkRefs(queue, refs);
    const now = this.#clock.now();
    return this.#write(now, () => {
      const sql = this.#sql;
      const stored = this.#need(queue);
      return refs.map((ref): ItemResult<null> => {
        const deleted = (
          'token' in ref
            ? sql.ackByToken.get(queue, ref.id, ref.token)
            : sql.ackByExpiry.get(queue, ref.id, ref.leaseExpiresAt, now)
        ) as { named: number } | undefined;
        if (deleted) {
          if (deleted.named) this.#tombstone(stored, ref.id, now);
          return { ok: true, value: null };
        }
        const exists = sql.taskGet.get(queue, ref.id);
        return { ok: false, error: exists ? leaseLost(ref.id) : taskNotFound(queue, ref.id) };
      });
    });
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    this.#open();
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    const now = this.#clock.now();
    return this.#write(now, () => {
      const stored = this.#need(queue);
      const eta = now + Math.round(leaseSeconds * 1000);
      return refs.map((ref) =>
        this.#fenced(stored, ref, now, (row) => {
          this.#sql.setEta.run(eta, row.seq);
          return toTask(queue, { ...row, eta }, now, EMPTY);
        }),
      );
    });
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    this.#open();
    checkReleases(queue, releases);
    const now = this.#clock.now();
    return this.#write(now, () => {
      const stored = this.#need(queue);
      const results = releases.map((release) =>
        this.#fenced(stored, release.ref, now, (row) => {
          const lastError =
            release.error === undefined ? row.last_error : truncateNote(release.error);
          const noted = { ...row, last_error: lastError };
          if (release.deadLetter) {
            return this.#deadLetter(stored, noted, 'rejected by the consumer', now);
          }
          const eta = now + Math.round((release.delaySeconds ?? 0) * 1000);
          this.#sql.releaseTask.run(eta, lastError, row.seq);
          return toTask(queue, { ...noted, lease_token: null, eta }, now, EMPTY);
        }),
      );
      this.#toNotify.add(queue);
      return results;
    });
  }

  #fenced<T>(
    stored: QueueRow,
    ref: LeaseRef,
    now: number,
    change: (row: TaskRow) => T,
  ): ItemResult<T> {
    const row = this.#sql.taskGet.get(stored.name, ref.id) as TaskRow | undefined;
    if (!row) return { ok: false, error: taskNotFound(stored.name, ref.id) };
    if (row.dead || !refMatches(ref, { leaseToken: row.lease_token, eta: row.eta }, now)) {
      return { ok: false, error: leaseLost(ref.id) };
    }
    return { ok: true, value: change(row) };
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkIds(queue, ids);
    const now = this.#clock.now();
    return this.#write(now, () => {
      const sql = this.#sql;
      const stored = this.#need(queue);
      return ids.map((id): ItemResult<null> => {
        const deleted = sql.deleteById.get(queue, id) as { named: number } | undefined;
        if (deleted) {
          if (deleted.named) this.#tombstone(stored, id, now);
          return { ok: true, value: null };
        }
        // Deleting again within the dedup window succeeds, as App Engine's SDK treated it.
        const tombstone = sql.tombstoneGet.get(queue, id) as { expires_at: number } | undefined;
        if (tombstone && tombstone.expires_at > now) return { ok: true, value: null };
        return { ok: false, error: taskNotFound(queue, id) };
      });
    });
  }

  /** Deletes a task; a caller-chosen id stays refused for the queue's dedup window. */
  #remove(stored: QueueRow, row: TaskRow, now: number): void {
    this.#sql.deleteBySeq.run(row.seq);
    if (row.named) this.#tombstone(stored, row.id, now);
  }

  #tombstone(stored: QueueRow, id: string, now: number): void {
    this.#sql.tombstoneSet.run(stored.name, id, now + stored.dedup_window_seconds * 1000);
  }

  async get(queue: string, id: string): Promise<Task | null> {
    this.#open();
    checkQueueName(queue);
    return this.#read(() => {
      this.#need(queue);
      const row = this.#sql.taskGetWithPayload.get(queue, id) as TaskRowWithPayload | undefined;
      return row ? toTask(queue, row, this.#clock.now(), row.payload) : null;
    });
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    this.#open();
    checkList(queue, request);
    return this.#read(() => {
      this.#need(queue);
      const now = this.#clock.now();
      const after = request.cursor === undefined ? 0 : decodeCursor(request.cursor);
      const withPayload = request.includePayload ?? false;
      const params: (string | number)[] = [queue, after];
      if (request.state !== undefined && request.state !== 'dead') params.push(now);
      if (request.tag !== undefined) params.push(request.tag);
      params.push(request.limit + 1);
      const rows = this.#sql
        .list(request.state, request.tag !== undefined, withPayload)
        .all(...params) as unknown as TaskRowWithPayload[];
      const page = rows.slice(0, request.limit);
      const last = page.at(-1);
      return {
        tasks: page.map((row) => toTask(queue, row, now, withPayload ? row.payload : EMPTY)),
        nextCursor: rows.length > request.limit && last ? encodeCursor(last.seq) : null,
      };
    });
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#open();
    checkQueueName(queue);
    return this.#read(() => {
      const sql = this.#sql;
      this.#need(queue);
      const now = this.#clock.now();
      const ready = sql.statsReady.get(queue, now) as { n: number; oldest: number | null };
      const waiting = sql.statsWaiting.get(queue, now) as {
        delayed: number;
        leased: number;
        oldest: number | null;
      };
      const dead = sql.statsDead.get(queue) as { n: number };
      const leases = sql.statsLeases.get(now - 60_000, queue, now - HOUR_MS) as {
        minute: number;
        hour: number;
      };
      return {
        ready: ready.n,
        delayed: waiting.delayed,
        leased: waiting.leased,
        dead: dead.n,
        oldestReadyAgeSeconds: ready.oldest === null ? null : (now - ready.oldest) / 1000,
        // Ready tasks all come before waiting ones in ETA order.
        oldestEta: ready.oldest ?? waiting.oldest,
        leasedLastMinute: leases.minute,
        leasedLastHour: leases.hour,
      };
    });
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    this.#open();
    checkQueueName(queue);
    const now = this.#clock.now();
    return this.#write(now, () => {
      const sql = this.#sql;
      this.#need(queue);
      const wanted = request.ids === undefined ? null : new Set(request.ids);
      let moved = 0;
      for (const row of sql.redriveCandidates.all(queue) as unknown as TaskRow[]) {
        if (wanted && !wanted.has(row.id)) continue;
        if (row.dead) {
          sql.reviveDead.run(now, row.seq);
          moved += 1;
        } else if (row.dead_lettered_from !== null) {
          const origin = row.dead_lettered_from;
          if (!this.#queue(origin)) this.#createRow(origin, {}, now);
          const id = sql.idLive.get(origin, row.id) ? this.#ids.taskId(now) : row.id;
          sql.moveTask.run(origin, id, now, row.last_error, null, row.seq);
          sql.deleteBySeq.run(row.seq);
          this.#toNotify.add(origin);
          moved += 1;
        }
      }
      this.#toNotify.add(queue);
      return moved;
    });
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(config, name);
    const now = this.#clock.now();
    return this.#write(now, () => {
      if (this.#queue(name)) {
        throw new PullqError('already_exists', `queue ${JSON.stringify(name)} already exists`, {
          details: { queue: name },
        });
      }
      return toInfo(this.#createRow(name, config, now));
    });
  }

  #createRow(name: string, config: Partial<QueueConfig>, now: number): QueueRow {
    const info: QueueInfo = {
      ...DEFAULT_QUEUE_CONFIG,
      ...definedOnly(config),
      name,
      createdAt: now,
    };
    const row: QueueRow = {
      name,
      created_at: now,
      max_leases: info.maxLeases,
      dead_letter_queue: info.deadLetterQueue,
      dedup_window_seconds: info.dedupWindowSeconds,
      paused: info.paused ? 1 : 0,
    };
    this.#sql.queueInsert.run(
      row.name,
      row.created_at,
      row.max_leases,
      row.dead_letter_queue,
      row.dedup_window_seconds,
      row.paused,
    );
    return row;
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    this.#open();
    checkQueueName(name);
    return this.#read(() => {
      const row = this.#queue(name);
      return row ? toInfo(row) : null;
    });
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(patch, name);
    return this.#write(null, () => {
      const info = { ...toInfo(this.#need(name)), ...definedOnly(patch) };
      this.#sql.queueUpdate.run(
        info.maxLeases,
        info.deadLetterQueue,
        info.dedupWindowSeconds,
        info.paused ? 1 : 0,
        name,
      );
      if (patch.paused === false) this.#toNotify.add(name);
      return info;
    });
  }

  async deleteQueue(name: string): Promise<void> {
    this.#open();
    checkQueueName(name);
    this.#write(null, () => {
      const sql = this.#sql;
      this.#need(name);
      sql.purgeTasks.run(name);
      sql.purgeTombstones.run(name);
      sql.purgeLeaseCounts.run(name);
      sql.queueDelete.run(name);
      this.#leaseCountsPrunedAt.delete(name);
      this.#toNotify.add(name);
    });
  }

  async listQueues(): Promise<QueueInfo[]> {
    this.#open();
    return this.#read(() => (this.#sql.queueList.all() as unknown as QueueRow[]).map(toInfo));
  }

  async purgeQueue(name: string): Promise<number> {
    this.#open();
    checkQueueName(name);
    return this.#write(null, () => {
      this.#need(name);
      return Number(this.#sql.purgeTasks.run(name).changes);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeups.wakeAll();
    this.#db.close();
  }

  #open(): void {
    if (this.#closed) throw new PullqError('unavailable', 'the backend is closed');
  }

  #queue(name: string): QueueRow | undefined {
    return this.#sql.queueGet.get(name) as QueueRow | undefined;
  }

  #need(name: string): QueueRow {
    const row = this.#queue(name);
    if (!row) throw queueNotFound(name);
    return row;
  }

  /**
   * Runs `change` in one write transaction. Wakes the long-polls of the queues it touched
   * once the change is committed (and visible to them). `now`: the verb's time, for pruning
   * (null: the verb reads no clock, and prunes nothing).
   */
  #write<T>(now: number | null, change: () => T): T {
    const db = this.#db;
    this.#toNotify.clear();
    let result: T;
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        result = change();
        if (now !== null) this.#maybePruneTombstones(now);
        db.exec('COMMIT');
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      this.#toNotify.clear();
      throw sqliteError(error, this.#path);
    }
    for (const queue of this.#toNotify) this.#wakeups.notify(queue);
    this.#toNotify.clear();
    return result;
  }

  /** Runs `look` in one read transaction: its statements see one snapshot. */
  #read<T>(look: () => T): T {
    const db = this.#db;
    try {
      db.exec('BEGIN');
      try {
        const result = look();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      throw sqliteError(error, this.#path);
    }
  }

  #maybePruneTombstones(now: number): void {
    if (now - this.#tombstonesPrunedAt < PRUNE_TOMBSTONES_EVERY_MS) return;
    this.#sql.pruneTombstones.run(now, TOMBSTONE_PRUNE_LIMIT);
    this.#tombstonesPrunedAt = now;
  }
}
