/**
 * Tasks that leave the running, with the rules of memory.ts: dead-lettering (into the
 * queue's dead-letter queue as a new ready task, or to the dead state in place) and moves
 * between queues (dead letters in, redrive back out). Each runs inside the caller's
 * transaction, on rows that transaction has locked.
 */
import { DEFAULT_QUEUE_CONFIG, type Task } from '../backend.ts';
import { EMPTY, toTask, type QueueRow, type TaskRow } from './rows.ts';
import type { WriteContext } from './write-context.ts';

/** A caller-chosen id stays refused for the queue's dedup window once its task is gone. */
export async function tombstone(ctx: WriteContext, stored: QueueRow, id: string): Promise<void> {
  await ctx.run(ctx.sql.tombstoneSet, [
    stored.name,
    id,
    ctx.now + stored.dedup_window_seconds * 1000,
  ]);
}

/**
 * Moves a task out of the running: into the queue's dead-letter queue as a new ready task, or
 * to the dead state here. `row.last_error` is the note it keeps, if it has one. Returns the
 * task where it ended up.
 */
export async function deadLetter(
  ctx: WriteContext,
  stored: QueueRow,
  row: TaskRow,
  note: string,
): Promise<Task> {
  const { now } = ctx;
  const lastError = row.last_error ?? note;
  const target = stored.dead_letter_queue;
  if (target === null) {
    await ctx.run(ctx.sql.markDead, [stored.name, row.seq, now, lastError]);
    const dead = { ...row, dead: true, lease_token: null, eta: now, last_error: lastError };
    return toTask(stored.name, dead, now, EMPTY);
  }
  const id = await moveTo(ctx, target, stored.name, row, lastError, stored.name);
  if (row.named) await tombstone(ctx, stored, row.id);
  const moved: TaskRow = {
    ...row,
    id,
    eta: now,
    attempts: 0,
    dead: false,
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
export async function moveTo(
  ctx: WriteContext,
  target: string,
  from: string,
  row: TaskRow,
  lastError: string | null,
  deadLetteredFrom: string | null,
): Promise<string> {
  const { run, sql, now } = ctx;
  await run(sql.queueEnsure, [target, now, DEFAULT_QUEUE_CONFIG.dedupWindowSeconds]);
  // As an insert does: the target queue cannot be deleted under the task moving in.
  await run(sql.queueKeyShare, [target]);
  const [moved] = await run<{ id: string }>(sql.move, [
    from,
    row.seq,
    target,
    ctx.ids.taskId(now),
    now,
    lastError,
    deadLetteredFrom,
  ]);
  ctx.touched.add(target);
  return moved?.id ?? row.id;
}
