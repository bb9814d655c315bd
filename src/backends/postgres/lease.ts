/**
 * Leasing on PostgreSQL, in two paths with the rules of memory.ts.
 *
 * The fast path is one statement (statements.ts `leaseFast`): it takes the first `max` ready
 * rows in (eta, seq) order from the partial index tasks_ready with FOR UPDATE SKIP LOCKED,
 * leases them, and counts the lease. SKIP LOCKED is what lets many consumers on many servers
 * lease from one queue at once: each skips the rows another lease is taking instead of
 * waiting for it, and none is handed out twice. The index read stops after the batch, so the
 * cost is the same with 1,000 tasks queued as with 1,000,000 (bench/drain.ts measures it).
 *
 * The slow path is a transaction that pages through candidates: taken when the fast path
 * met a candidate past the queue's maxLeases (it is dead-lettered and does not count, so more
 * pages may be needed), and for groupByTag (the group is the tag of the oldest ready task
 * that no other lease holds).
 */
import type { LeaseRequest, LeasedTask } from '../backend.ts';
import type { IdSource } from '../id-source.ts';
import type { Run } from './database.ts';
import { deadLetter } from './moves.ts';
import { payloadOf, type QueueRow, type TaskRowWithPayload } from './rows.ts';
import type { Statements } from './statements.ts';
import type { WriteContext } from './write-context.ts';

interface FastRow {
  n: number;
  id: string;
  tag: string | null;
  enqueued_at: number;
  attempts: number;
  lease_token: string;
  last_error: string | null;
  dead_lettered_from: string | null;
  payload: Buffer;
}

export function leaseEnd(request: LeaseRequest, now: number): number {
  return now + Math.round(request.leaseSeconds * 1000);
}

/** Why the fast path leased nothing (see statements.ts fastLease). */
export type NothingLeased = 'missing' | 'paused' | 'limited' | 'empty';

/** The fast path: what it leased, or why it leased nothing. */
export async function leaseFast(
  run: Run,
  sql: Statements,
  ids: IdSource,
  queue: string,
  request: LeaseRequest,
  now: number,
): Promise<LeasedTask[] | NothingLeased> {
  const eta = leaseEnd(request, now);
  const tokens = Array.from({ length: request.max }, () => ids.token());
  const rows =
    request.tag === undefined
      ? await run<FastRow>(sql.leaseFast, [queue, now, request.max, eta, tokens])
      : await run<FastRow>(sql.leaseFastOfTag, [queue, now, request.max, eta, tokens, request.tag]);
  const [first] = rows;
  if (first?.n === 0) return first.id as NothingLeased;
  return rows.map((row) => ({
    queue,
    id: row.id,
    payload: payloadOf(row.payload),
    tag: row.tag,
    enqueuedAt: row.enqueued_at,
    eta,
    attempts: row.attempts,
    state: 'leased',
    lastError: row.last_error,
    deadLetteredFrom: row.dead_lettered_from,
    leaseToken: row.lease_token,
  }));
}

/** The slow path, inside the caller's transaction; `stored` is the queue's row. */
export async function leaseSlow(
  ctx: WriteContext,
  stored: QueueRow,
  request: LeaseRequest,
): Promise<LeasedTask[]> {
  const { run, sql, now } = ctx;
  const queue = stored.name;
  if (stored.paused) return [];
  let tag: string | null | undefined = request.tag;
  if (tag === undefined && request.groupByTag) {
    const [first] = await run<{ tag: string | null }>(sql.firstReadyTag, [queue, now]);
    if (!first) return [];
    tag = first.tag;
  }
  const eta = leaseEnd(request, now);
  const leased: LeasedTask[] = [];
  // A task just leased for 0 s is ready again and may show up in a later page: `seen` keeps
  // it from being leased twice.
  const seen = new Set<number>();
  let afterEta = Number.MIN_SAFE_INTEGER;
  let afterSeq = 0;
  for (;;) {
    const want = request.max - leased.length;
    const page = [queue, now, afterEta, afterSeq, want];
    const rows =
      tag === undefined
        ? await run<TaskRowWithPayload>(sql.candidates, page)
        : tag === null
          ? await run<TaskRowWithPayload>(sql.candidatesUntagged, page)
          : await run<TaskRowWithPayload>(sql.candidatesOfTag, [...page, tag]);
    const seqs: number[] = [];
    const tokens: string[] = [];
    for (const row of rows) {
      if (seen.has(row.seq)) continue;
      if (stored.max_leases !== null && row.attempts >= stored.max_leases) {
        await deadLetter(ctx, stored, row, `leased ${row.attempts} times, the queue's maxLeases`);
        continue;
      }
      const token = ctx.ids.token();
      seqs.push(row.seq);
      tokens.push(token);
      seen.add(row.seq);
      leased.push({
        queue,
        id: row.id,
        payload: payloadOf(row.payload),
        tag: row.tag,
        enqueuedAt: row.enqueued_at,
        eta,
        attempts: row.attempts + 1,
        state: 'leased',
        lastError: row.last_error,
        deadLetteredFrom: row.dead_lettered_from,
        leaseToken: token,
      });
    }
    if (seqs.length > 0) await run(sql.leaseRows, [queue, eta, seqs, tokens]);
    const last = rows.at(-1);
    if (rows.length < want || leased.length >= request.max || !last) break;
    afterEta = last.eta;
    afterSeq = last.seq;
  }
  if (leased.length > 0) await run(sql.countLeases, [queue, now, leased.length]);
  return leased;
}
