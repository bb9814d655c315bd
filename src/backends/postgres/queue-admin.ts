/** Queue admin on PostgreSQL (create, update, delete), with the rules of memory.ts. */
import { PullqError } from '../../protocol/errors.ts';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, type QueueInfo } from '../backend.ts';
import { queueNotFound } from '../common.ts';
import { definedOnly } from '../memory.ts';
import type { Run } from './database.ts';
import { toInfo, type QueueRow } from './rows.ts';
import type { Statements } from './statements.ts';
import type { WriteContext } from './write-context.ts';

/** One statement: INSERT ... ON CONFLICT DO NOTHING tells a taken name without a race. */
export async function createQueue(
  run: Run,
  sql: Statements,
  name: string,
  config: Partial<QueueConfig>,
  now: number,
): Promise<QueueInfo> {
  const info: QueueInfo = { ...DEFAULT_QUEUE_CONFIG, ...definedOnly(config), name, createdAt: now };
  const [row] = await run<QueueRow>(sql.queueCreate, [
    name,
    info.createdAt,
    info.maxLeases,
    info.deadLetterQueue,
    info.dedupWindowSeconds,
    info.paused,
  ]);
  if (!row) {
    throw new PullqError('already_exists', `queue ${JSON.stringify(name)} already exists`, {
      details: { queue: name },
    });
  }
  return toInfo(row);
}

/** Inside the verb's transaction: the queue row is locked, merged with the patch, written. */
export async function updateQueue(
  ctx: WriteContext,
  name: string,
  patch: Partial<QueueConfig>,
): Promise<QueueInfo> {
  const [row] = await ctx.run<QueueRow>(ctx.sql.queueLockSettings, [name]);
  if (!row) throw queueNotFound(name);
  const info = { ...toInfo(row), ...definedOnly(patch) };
  await ctx.run(ctx.sql.queueUpdate, [
    name,
    info.maxLeases,
    info.deadLetterQueue,
    info.dedupWindowSeconds,
    info.paused,
  ]);
  // Resuming makes the queue's ready tasks leasable: waiting leases look again.
  if (patch.paused === false) ctx.touched.add(name);
  return info;
}

/** Inside the verb's transaction: the queue with its tasks, tombstones and lease counts. */
export async function deleteQueue(ctx: WriteContext, name: string): Promise<void> {
  // FOR UPDATE waits for inserts into the queue (they hold it FOR KEY SHARE) to commit, so
  // the DELETE of its tasks sees every one of them, and later inserts find no queue.
  const [row] = await ctx.run<QueueRow>(ctx.sql.queueLock, [name]);
  if (!row) throw queueNotFound(name);
  await ctx.run(ctx.sql.queueDelete, [name]);
  // Waiting leases look again, and fail with queue_not_found.
  ctx.touched.add(name);
}
