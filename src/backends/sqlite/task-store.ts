/**
 * The state changes of the SQLite backend, row by row, with the rules of memory.ts. Each
 * method runs inside the transaction SqliteBackend opened around it (and so neither checks
 * input nor commits); `touched` collects the queues that may have gained a ready task, for
 * the long-polls to be woken once that transaction commits.
 */
import {
  DEFAULT_QUEUE_CONFIG,
  type ItemResult,
  type LeaseRef,
  type LeaseRequest,
  type LeasedTask,
  type NewTask,
  type QueueConfig,
  type QueueInfo,
  type ReleaseRequest,
  type Task,
} from '../backend.ts';
import { idTaken, leaseLost, queueNotFound, refMatches, taskNotFound } from '../common.ts';
import { definedOnly } from '../memory.ts';
import { truncateNote } from '../../protocol/limits.ts';
import { IdSource } from '../id-source.ts';
import { EMPTY, toTask, type QueueRow, type TaskRow, type TaskRowWithPayload } from './rows.ts';
import { candidateRows, type Statements } from './statements.ts';

const HOUR_MS = 3_600_000;
/** A queue's lease counts older than an hour are deleted about this often (by lease). */
const PRUNE_LEASE_COUNTS_EVERY_MS = 60_000;
/** A lease of the untagged group reads at most this many ready tasks per task it wants. */
const UNTAGGED_SCAN_FACTOR = 8;

export class TaskStore {
  /** Queues that may have gained a ready task in the running transaction. */
  readonly touched = new Set<string>();
  readonly #sql: Statements;
  readonly #ids = new IdSource();
  /** queue -> when this connection last pruned its lease counts. */
  readonly #leaseCountsPrunedAt = new Map<string, number>();

  constructor(sql: Statements) {
    this.#sql = sql;
  }

  queue(name: string): QueueRow | undefined {
    return this.#sql.queueGet.get(name) as QueueRow | undefined;
  }

  need(name: string): QueueRow {
    const row = this.queue(name);
    if (!row) throw queueNotFound(name);
    return row;
  }

  createQueue(name: string, config: Partial<QueueConfig>, now: number): QueueRow {
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

  /** Deletes a queue with its tasks, tombstones and lease counts. */
  deleteQueue(name: string): void {
    const sql = this.#sql;
    sql.purgeTasks.run(name);
    sql.purgeTombstones.run(name);
    sql.purgeLeaseCounts.run(name);
    sql.queueDelete.run(name);
    this.#leaseCountsPrunedAt.delete(name);
    this.touched.add(name);
  }

  insert(queue: string, tasks: NewTask[], now: number): ItemResult<Task>[] {
    const sql = this.#sql;
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
    this.touched.add(queue);
    return results;
  }

  lease(stored: QueueRow, request: LeaseRequest, now: number): LeasedTask[] {
    const sql = this.#sql;
    const queue = stored.name;
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
      const rows = this.#candidates(queue, tag, now, afterEta, afterSeq, want);
      for (const row of rows) {
        if (seen.has(row.seq)) continue;
        if (stored.max_leases !== null && row.attempts >= stored.max_leases) {
          this.deadLetter(stored, row, `leased ${row.attempts} times, the queue's maxLeases`, now);
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
    if (leased.length > 0) this.#countLeases(queue, leased.length, now);
    return leased;
  }

  /** A page of lease candidates: of every tag (`tag` undefined), of one tag, or untagged. */
  #candidates(
    queue: string,
    tag: string | null | undefined,
    now: number,
    afterEta: number,
    afterSeq: number,
    want: number,
  ): TaskRowWithPayload[] {
    const sql = this.#sql;
    if (tag === undefined) {
      return candidateRows(sql.candidates, queue, now, afterEta, afterSeq, want);
    }
    if (tag !== null) {
      return candidateRows(sql.candidatesOfTag, queue, now, afterEta, afterSeq, tag, want);
    }
    const scan = want * UNTAGGED_SCAN_FACTOR;
    return candidateRows(sql.candidatesUntagged, queue, now, afterEta, afterSeq, scan, want);
  }

  #countLeases(queue: string, count: number, now: number): void {
    this.#sql.countLeases.run(queue, now, count);
    const prunedAt = this.#leaseCountsPrunedAt.get(queue) ?? -Infinity;
    if (now - prunedAt < PRUNE_LEASE_COUNTS_EVERY_MS) return;
    this.#sql.pruneLeaseCounts.run(queue, now - HOUR_MS);
    this.#leaseCountsPrunedAt.set(queue, now);
  }

  /**
   * Moves a task out of the running: into the queue's dead-letter queue as a new ready task,
   * or to the dead state here. `row.last_error` is the note it keeps, if it has one.
   * Returns the task where it ended up.
   */
  deadLetter(stored: QueueRow, row: TaskRow, note: string, now: number): Task {
    const sql = this.#sql;
    const lastError = row.last_error ?? note;
    const target = stored.dead_letter_queue;
    if (target === null) {
      sql.markDead.run(now, lastError, row.seq);
      const dead = { ...row, dead: 1, lease_token: null, eta: now, last_error: lastError };
      return toTask(stored.name, dead, now, EMPTY);
    }
    const id = this.#moveTo(target, row, now, lastError, stored.name);
    if (row.named) this.#tombstone(stored, row.id, now);
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

  /**
   * Moves a task to another queue (created with defaults when missing) as a new ready task,
   * under its id unless that is taken there. Returns the id it has there.
   */
  #moveTo(
    queue: string,
    row: TaskRow,
    now: number,
    lastError: string | null,
    deadLetteredFrom: string | null,
  ): string {
    const sql = this.#sql;
    if (!this.queue(queue)) this.createQueue(queue, {}, now);
    const id = sql.idLive.get(queue, row.id) ? this.#ids.taskId(now) : row.id;
    sql.moveTask.run(queue, id, now, lastError, deadLetteredFrom, row.seq);
    sql.deleteBySeq.run(row.seq);
    this.touched.add(queue);
    return id;
  }

  ack(stored: QueueRow, refs: LeaseRef[], now: number): ItemResult<null>[] {
    const sql = this.#sql;
    const queue = stored.name;
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
  }

  extend(stored: QueueRow, refs: LeaseRef[], leaseSeconds: number, now: number) {
    const eta = now + Math.round(leaseSeconds * 1000);
    return refs.map((ref) =>
      this.#fenced(stored, ref, now, (row) => {
        this.#sql.setEta.run(eta, row.seq);
        return toTask(stored.name, { ...row, eta }, now, EMPTY);
      }),
    );
  }

  release(stored: QueueRow, releases: ReleaseRequest[], now: number): ItemResult<Task>[] {
    const results = releases.map((release) =>
      this.#fenced(stored, release.ref, now, (row) => {
        const lastError =
          release.error === undefined ? row.last_error : truncateNote(release.error);
        const noted = { ...row, last_error: lastError };
        if (release.deadLetter) {
          return this.deadLetter(stored, noted, 'rejected by the consumer', now);
        }
        const eta = now + Math.round((release.delaySeconds ?? 0) * 1000);
        this.#sql.releaseTask.run(eta, lastError, row.seq);
        return toTask(stored.name, { ...noted, lease_token: null, eta }, now, EMPTY);
      }),
    );
    this.touched.add(stored.name);
    return results;
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

  delete(stored: QueueRow, ids: string[], now: number): ItemResult<null>[] {
    const sql = this.#sql;
    const queue = stored.name;
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
  }

  /** A caller-chosen id stays refused for the queue's dedup window once its task is gone. */
  #tombstone(stored: QueueRow, id: string, now: number): void {
    this.#sql.tombstoneSet.run(stored.name, id, now + stored.dedup_window_seconds * 1000);
  }

  redrive(stored: QueueRow, ids: string[] | undefined, now: number): number {
    const sql = this.#sql;
    const wanted = ids === undefined ? null : new Set(ids);
    let moved = 0;
    for (const row of sql.redriveCandidates.all(stored.name) as unknown as TaskRow[]) {
      if (wanted && !wanted.has(row.id)) continue;
      if (row.dead) {
        sql.reviveDead.run(now, row.seq);
        moved += 1;
      } else if (row.dead_lettered_from !== null) {
        this.#moveTo(row.dead_lettered_from, row, now, row.last_error, null);
        moved += 1;
      }
    }
    this.touched.add(stored.name);
    return moved;
  }
}
