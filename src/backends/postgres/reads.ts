/**
 * The reads of the PostgreSQL backend (get, list, stats), each one statement that also tells
 * a missing queue (queue_not_found) from an empty one.
 */
import type { ListRequest, QueueStats, Task, TaskPage } from '../backend.ts';
import { queueNotFound } from '../common.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type { Run } from './database.ts';
import { EMPTY, payloadOf, toTask, type TaskRowWithPayload } from './rows.ts';
import type { Statements } from './statements.ts';

const HOUR_MS = 3_600_000;

export async function getTask(
  run: Run,
  sql: Statements,
  queue: string,
  id: string,
  now: number,
): Promise<Task | null> {
  const [row] = await run<TaskRowWithPayload>(sql.get, [queue, id]);
  if (!row) throw queueNotFound(queue);
  // The queue's row joined to no task.
  if (row.seq === null) return null;
  return toTask(queue, row, now, payloadOf(row.payload));
}

export async function listTasks(
  run: Run,
  sql: Statements,
  queue: string,
  request: ListRequest,
  now: number,
): Promise<TaskPage> {
  const after = request.cursor === undefined ? 0 : decodeCursor(request.cursor);
  const withPayload = request.includePayload ?? false;
  const state = request.state ?? 'all';
  const values: unknown[] = [queue, after, request.limit + 1];
  if (state === 'ready' || state === 'delayed' || state === 'leased') values.push(now);
  if (request.tag !== undefined) values.push(request.tag);
  const rows = await run<TaskRowWithPayload>(
    sql.list(state, request.tag !== undefined, withPayload),
    values,
  );
  if (rows.length === 0) throw queueNotFound(queue);
  // An empty page is one row of NULLs (the queue's row, joined to no task).
  const found = rows.filter((row) => row.seq !== null);
  const page = found.slice(0, request.limit);
  const last = page.at(-1);
  return {
    tasks: page.map((row) => toTask(queue, row, now, withPayload ? payloadOf(row.payload) : EMPTY)),
    nextCursor: found.length > request.limit && last ? encodeCursor(last.seq) : null,
  };
}

interface StatsRow {
  ready: number;
  oldest_ready: number | null;
  delayed: number;
  leased: number;
  oldest_waiting: number | null;
  dead: number;
  minute: number;
  hour: number;
}

export async function queueStats(
  run: Run,
  sql: Statements,
  queue: string,
  now: number,
): Promise<QueueStats> {
  const [row] = await run<StatsRow>(sql.stats, [queue, now, now - 60_000, now - HOUR_MS]);
  if (!row) throw queueNotFound(queue);
  return {
    ready: row.ready,
    delayed: row.delayed,
    leased: row.leased,
    dead: row.dead,
    oldestReadyAgeSeconds: row.oldest_ready === null ? null : (now - row.oldest_ready) / 1000,
    // Ready tasks all come before waiting ones in ETA order.
    oldestEta: row.oldest_ready ?? row.oldest_waiting,
    leasedLastMinute: row.minute,
    leasedLastHour: row.hour,
  };
}
