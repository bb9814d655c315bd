/**
 * The batch verbs that change tasks by id (ack, extend, release, delete) and redrive, with
 * the rules of memory.ts. Batches are set-based: one statement takes all the items as arrays.
 *
 * Items are independent unless two name one task: then memory.ts applies them one after the
 * other (an ack, then a second ack of that task, which finds it gone). So a batch runs in
 * rounds, round k holding the k-th item of each id; a batch without repeated ids (nearly all
 * of them) is one round. Several rounds run in one transaction.
 */
import { truncateNote } from '../../protocol/limits.ts';
import type { ItemResult, LeaseRef, ReleaseRequest, Task } from '../backend.ts';
import { leaseLost, queueNotFound, refMatches, taskNotFound } from '../common.ts';
import type { Run } from './database.ts';
import { deadLetter, moveTo } from './moves.ts';
import { EMPTY, toTask, type QueueRow, type TaskRow } from './rows.ts';
import type { Statements } from './statements.ts';
import type { WriteContext } from './write-context.ts';

/** Indexes of the items, in rounds where each id appears at most once, in batch order. */
export function rounds(ids: readonly string[]): number[][] {
  const result: number[][] = [];
  const seen = new Map<string, number>();
  ids.forEach((id, index) => {
    const round = seen.get(id) ?? 0;
    seen.set(id, round + 1);
    (result[round] ??= []).push(index);
  });
  return result;
}

/** The refs of one round as the arrays of statements.ts LEASED_BY_REFS ($3, $4, $5). */
function refArrays(refs: readonly LeaseRef[]): [string[], (string | null)[], (number | null)[]] {
  return [
    refs.map((ref) => ref.id),
    refs.map((ref) => ('token' in ref ? ref.token : null)),
    refs.map((ref) => ('token' in ref ? null : ref.leaseExpiresAt)),
  ];
}

/** Why items failed: `lease_lost` for tasks that exist, `task_not_found` for the others. */
async function failures(
  run: Run,
  sql: Statements,
  queue: string,
  ids: string[],
): Promise<(id: string) => ItemResult<never>> {
  const [why] = await run<{ queue_found: boolean; ids: string[] }>(sql.liveIds, [queue, ids]);
  if (!why?.queue_found) throw queueNotFound(queue);
  const live = new Set(why.ids);
  return (id) => ({ ok: false, error: live.has(id) ? leaseLost(id) : taskNotFound(queue, id) });
}

/** Applies `round` to each round of `items` in turn; the results in batch order. */
export async function eachRound<I, T>(
  items: readonly I[],
  idOf: (item: I) => string,
  round: (items: I[]) => Promise<ItemResult<T>[]>,
): Promise<ItemResult<T>[]> {
  const results = new Array<ItemResult<T>>(items.length);
  for (const indexes of rounds(items.map(idOf))) {
    const answers = await round(indexes.map((index) => items[index] as I));
    indexes.forEach((index, at) => {
      results[index] = answers[at] as ItemResult<T>;
    });
  }
  return results;
}

/**
 * eachRound, straight on the pool when the batch is one round (one statement), else in one
 * transaction (`transaction`).
 */
export function inRounds<I, T>(
  items: readonly I[],
  idOf: (item: I) => string,
  run: Run,
  transaction: <R>(work: (run: Run) => Promise<R>) => Promise<R>,
  round: (run: Run, items: I[]) => Promise<ItemResult<T>[]>,
): Promise<ItemResult<T>[]> {
  const each = (runner: Run): Promise<ItemResult<T>[]> =>
    eachRound(items, idOf, (part) => round(runner, part));
  return rounds(items.map(idOf)).length === 1 ? each(run) : transaction(each);
}

export async function ackRound(
  run: Run,
  sql: Statements,
  queue: string,
  refs: LeaseRef[],
  now: number,
): Promise<ItemResult<null>[]> {
  const [row] = await run<{ ids: string[] }>(sql.ack, [queue, now, ...refArrays(refs)]);
  const acked = new Set(row?.ids);
  const failed = refs.filter((ref) => !acked.has(ref.id)).map((ref) => ref.id);
  if (failed.length === 0) return refs.map(() => ({ ok: true, value: null }));
  const failure = await failures(run, sql, queue, failed);
  return refs.map((ref) => (acked.has(ref.id) ? { ok: true, value: null } : failure(ref.id)));
}

export async function extendRound(
  run: Run,
  sql: Statements,
  queue: string,
  refs: LeaseRef[],
  eta: number,
  now: number,
): Promise<ItemResult<Task>[]> {
  const rows = await run<TaskRow>(sql.extend, [queue, now, ...refArrays(refs), eta]);
  const extended = new Map(rows.map((row) => [row.id, row]));
  const failed = refs.filter((ref) => !extended.has(ref.id)).map((ref) => ref.id);
  const failure = failed.length === 0 ? null : await failures(run, sql, queue, failed);
  return refs.map((ref): ItemResult<Task> => {
    const row = extended.get(ref.id);
    if (row) return { ok: true, value: toTask(queue, row, now, EMPTY) };
    return (failure as (id: string) => ItemResult<never>)(ref.id);
  });
}

/** One round of a release, inside the verb's transaction. */
export async function releaseRound(
  ctx: WriteContext,
  stored: QueueRow,
  releases: ReleaseRequest[],
): Promise<ItemResult<Task>[]> {
  const { run, sql, now } = ctx;
  const queue = stored.name;
  const ids = releases.map((release) => release.ref.id);
  const rows = await run<TaskRow>(sql.lockTasks, [queue, ids]);
  const byId = new Map(rows.map((row) => [row.id, row]));
  const seqs: number[] = [];
  const etas: number[] = [];
  const notes: (string | null)[] = [];
  const results: ItemResult<Task>[] = [];
  for (const release of releases) {
    const { ref } = release;
    const row = byId.get(ref.id);
    if (!row) {
      results.push({ ok: false, error: taskNotFound(queue, ref.id) });
      continue;
    }
    if (row.dead || !refMatches(ref, { leaseToken: row.lease_token, eta: row.eta }, now)) {
      results.push({ ok: false, error: leaseLost(ref.id) });
      continue;
    }
    const lastError = release.error === undefined ? row.last_error : truncateNote(release.error);
    const noted = { ...row, last_error: lastError };
    if (release.deadLetter) {
      const value = await deadLetter(ctx, stored, noted, 'rejected by the consumer');
      results.push({ ok: true, value });
      continue;
    }
    const eta = now + Math.round((release.delaySeconds ?? 0) * 1000);
    seqs.push(row.seq);
    etas.push(eta);
    notes.push(lastError);
    const released = { ...noted, lease_token: null, eta };
    results.push({ ok: true, value: toTask(queue, released, now, EMPTY) });
  }
  if (seqs.length > 0) await run(sql.releaseRows, [queue, seqs, etas, notes]);
  ctx.touched.add(queue);
  return results;
}

export async function deleteRound(
  run: Run,
  sql: Statements,
  queue: string,
  ids: string[],
  now: number,
): Promise<ItemResult<null>[]> {
  const [row] = await run<{ queue_found: boolean; ids: string[]; tombstoned: string[] }>(
    sql.delete,
    [queue, ids, now],
  );
  if (!row?.queue_found) throw queueNotFound(queue);
  const deleted = new Set(row.ids);
  // Deleting again within the dedup window succeeds, as App Engine's SDK treated it.
  const tombstoned = new Set(row.tombstoned);
  return ids.map((id) =>
    deleted.has(id) || tombstoned.has(id)
      ? { ok: true, value: null }
      : { ok: false, error: taskNotFound(queue, id) },
  );
}

/** Moves dead letters back, in seq order, inside the verb's transaction. Returns how many. */
export async function redrive(
  ctx: WriteContext,
  stored: QueueRow,
  ids: string[] | undefined,
): Promise<number> {
  const { run, sql, now } = ctx;
  const queue = stored.name;
  const wanted = ids === undefined ? null : new Set(ids);
  const rows = await run<TaskRow>(sql.redriveCandidates, [queue]);
  const revive: number[] = [];
  let moved = 0;
  for (const row of rows) {
    if (wanted && !wanted.has(row.id)) continue;
    if (row.dead) {
      revive.push(row.seq);
    } else if (row.dead_lettered_from !== null) {
      await moveTo(ctx, row.dead_lettered_from, queue, row, row.last_error, null);
      moved += 1;
    }
  }
  if (revive.length > 0) await run(sql.revive, [queue, now, revive]);
  ctx.touched.add(queue);
  return moved + revive.length;
}
