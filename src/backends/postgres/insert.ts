/**
 * Insert on PostgreSQL, with the rules of memory.ts: one statement for the whole batch
 * (statements.ts `insert`), then, only when some ids were refused, one read to say whether a
 * live task or a tombstone holds each of them.
 */
import { DEFAULT_QUEUE_CONFIG, type ItemResult, type NewTask, type Task } from '../backend.ts';
import { idTaken, queueNotFound } from '../common.ts';
import type { IdSource } from '../id-source.ts';
import type { Run } from './database.ts';
import type { Statements } from './statements.ts';

export interface Inserted {
  results: ItemResult<Task>[];
  /** Whether a task that is ready now was inserted (long-polls are to be woken). */
  ready: boolean;
}

export async function insertTasks(
  run: Run,
  sql: Statements,
  idSource: IdSource,
  queue: string,
  tasks: NewTask[],
  createQueue: boolean,
  now: number,
): Promise<Inserted> {
  const ids = tasks.map((task) => task.id ?? idSource.taskId(now));
  const [row] = await run<{ queue_found: boolean; ids: string[]; ready: boolean }>(sql.insert, [
    queue,
    now,
    ids,
    tasks.map((task) => task.id !== undefined),
    tasks.map((task) => task.tag ?? null),
    tasks.map((task) => task.eta ?? now),
    tasks.map((task) => task.payload),
    createQueue,
    DEFAULT_QUEUE_CONFIG.dedupWindowSeconds,
  ]);
  if (!row?.queue_found) throw queueNotFound(queue);
  // Of two items with one id, the first was inserted (and is live now).
  const inserted = new Set(row.ids);
  const accepted = ids.map((id) => inserted.delete(id));
  const refused = ids.filter((_, index) => !accepted[index]);
  let live = new Set<string>();
  if (refused.length > 0) {
    const [why] = await run<{ ids: string[] }>(sql.liveIds, [queue, refused]);
    live = new Set(why?.ids);
  }
  const results = tasks.map((task, index): ItemResult<Task> => {
    const id = ids[index] as string;
    if (!accepted[index]) return { ok: false, error: idTaken(queue, id, !live.has(id)) };
    const eta = task.eta ?? now;
    return {
      ok: true,
      value: {
        queue,
        id,
        payload: task.payload,
        tag: task.tag ?? null,
        enqueuedAt: now,
        eta,
        attempts: 0,
        state: eta <= now ? 'ready' : 'delayed',
        lastError: null,
        deadLetteredFrom: null,
      },
    };
  });
  return { results, ready: row.ready };
}
