/**
 * The copy of one queue for `pullq migrate`: the source's tasks, a page at a time in insertion
 * order, inserted on the target under their own ids, tags and ETAs, so lease order (ETA, then
 * insertion) is the same there. Leased tasks are left behind and counted; dead ones go to
 * migrate-dead.ts when asked for.
 */
import type { NewTask, QueueInfo, Task } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import { copyDeadTasks, deadCopyBlocker } from './migrate-dead.ts';
import {
  count,
  insertTasks,
  newTask,
  type InsertOutcome,
  type QueueReport,
} from './migrate-insert.ts';
import type { MigrateSide } from './migrate-side.ts';

export interface CopyOptions {
  dryRun: boolean;
  includeDead: boolean;
  /** Tasks read from the source per list call (1..1000). */
  pageSize: number;
  /** Called after each page with the number of source tasks it held. */
  onTasks?: (count: number) => void;
}

/**
 * Copies the tasks of `source` (the queue as the source has it) into the target queue of the
 * same name, which exists there (or, dry, `target` is what exists: null when nothing).
 */
export async function copyQueue(
  from: MigrateSide,
  to: MigrateSide,
  source: QueueInfo,
  target: QueueInfo | null,
  report: QueueReport,
  options: CopyOptions,
): Promise<void> {
  const queue = source.name;
  const present = options.dryRun ? await targetIds(to, target) : null;
  const insert = async (tasks: NewTask[]): Promise<InsertOutcome[]> =>
    present === null
      ? insertTasks(to, queue, tasks)
      : tasks.map((task) => ({ kind: present.has(task.id ?? '') ? 'present' : 'inserted' }));
  const deadBlocker = options.includeDead ? deadCopyBlocker(to, source) : null;

  let cursor: string | undefined;
  do {
    const request = { limit: options.pageSize, includePayload: true };
    const page = await from.call(async (backend) =>
      backend.list(queue, cursor === undefined ? request : { ...request, cursor }),
    );
    const live: Task[] = [];
    const dead: Task[] = [];
    for (const task of page.tasks) {
      if (task.state === 'leased') report.skippedLeased += 1;
      else if (task.state === 'dead') dead.push(task);
      else live.push(task);
    }
    const outcomes = await insert(live.map((task) => newTask(task, task.eta)));
    live.forEach((task, index) => {
      count(report, task.id, outcomes[index], 'copied');
    });
    if (dead.length > 0) {
      if (!options.includeDead || deadBlocker !== null) {
        report.deadSkipped += dead.length;
        report.deadSkippedWhy = options.includeDead
          ? deadBlocker
          : 'not asked for (--include-dead copies them)';
      } else if (present !== null) {
        for (const task of dead) {
          count(report, task.id, { kind: present.has(task.id) ? 'present' : 'inserted' }, 'dead');
        }
      } else {
        await copyDeadTasks(from, to, source, dead, report);
      }
    }
    options.onTasks?.(page.tasks.length);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** Every task id the target queue holds now (dry runs only: a real run lets inserts tell). */
async function targetIds(to: MigrateSide, target: QueueInfo | null): Promise<Set<string>> {
  const ids = new Set<string>();
  if (target === null) return ids;
  let cursor: string | undefined;
  do {
    const request = { limit: LIMITS.maxListLimit };
    const page = await to.call(async (backend) =>
      backend.list(target.name, cursor === undefined ? request : { ...request, cursor }),
    );
    for (const task of page.tasks) ids.add(task.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return ids;
}
