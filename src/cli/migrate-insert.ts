/**
 * Inserting source tasks on the target for `pullq migrate`, and the per-queue report the
 * inserts are tallied in. A task keeps its id, so an id the target already has (or deleted
 * within its dedup window) comes back `already_exists`: counted as already present, never
 * inserted twice. That is what makes an interrupted migration safe to run again.
 */
import type { ItemResult, NewTask, Task } from '../backends/backend.ts';
import { isPullqError } from '../protocol/errors.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { MigrateSide } from './migrate-side.ts';

export interface TaskFailure {
  id: string;
  code: string;
  message: string;
}

export interface QueueReport {
  queue: string;
  /** Whether the migration made the queue on the target (or, dry, would make it). */
  created: boolean;
  /** The target's `paused` was set to the source's. */
  pausedChanged: boolean;
  /** Ready and delayed tasks inserted on the target. */
  copied: number;
  /** Tasks whose id the target already has (or recently deleted): not inserted again. */
  alreadyPresent: number;
  /** Leased on the source: not copied (their worker may still ack them there). */
  skippedLeased: number;
  deadCopied: number;
  /** Dead tasks not copied: not asked for, or impossible (see `deadSkippedWhy`). */
  deadSkipped: number;
  deadSkippedWhy: string | null;
  /** Dead on the source, on the target but not dead there (an interrupted run, or redriven). */
  deadNotDeadOnTarget: string[];
  failed: TaskFailure[];
}

/**
 * Payload bytes per insert call. Base64 and JSON make 16 MiB about 22 MiB on the wire, under
 * the 32 MiB request body `pullq serve` accepts by default; a page of 1000 tasks of 1 MiB
 * would otherwise be one request of over 1.3 GB.
 */
export const INSERT_BYTES = 16 * 1024 * 1024;

export function emptyReport(queue: string): QueueReport {
  return {
    queue,
    created: false,
    pausedChanged: false,
    copied: 0,
    alreadyPresent: 0,
    skippedLeased: 0,
    deadCopied: 0,
    deadSkipped: 0,
    deadSkippedWhy: null,
    deadNotDeadOnTarget: [],
    failed: [],
  };
}

/** The outcome of inserting one task on the target. */
export type InsertOutcome =
  { kind: 'inserted' } | { kind: 'present' } | { kind: 'failed'; code: string; message: string };

/** Tallies one task's insert outcome into the report. */
export function count(
  report: QueueReport,
  id: string,
  outcome: InsertOutcome | undefined,
  as: 'copied' | 'dead',
): void {
  if (outcome === undefined) {
    report.failed.push({ id, code: 'internal', message: 'the target answered no result' });
  } else if (outcome.kind === 'inserted') {
    if (as === 'copied') report.copied += 1;
    else report.deadCopied += 1;
  } else if (outcome.kind === 'present') {
    report.alreadyPresent += 1;
  } else {
    report.failed.push({ id, code: outcome.code, message: outcome.message });
  }
}

/** The task as a new one for the target: same id, payload, tag, and the ETA given. */
export function newTask(task: Task, eta: number): NewTask {
  return {
    id: task.id,
    payload: task.payload,
    eta,
    ...(task.tag === null ? {} : { tag: task.tag }),
  };
}

/**
 * Inserts `tasks` into the target queue in calls of at most 1000 tasks and INSERT_BYTES of
 * payload. A call refused as a whole because of one task (`details.index`) is made again
 * without it, so one task the target will not take (an ETA past its 30-day limit, a payload
 * over its size limit) costs only itself.
 */
export async function insertTasks(
  to: MigrateSide,
  queue: string,
  tasks: NewTask[],
): Promise<InsertOutcome[]> {
  const outcomes: InsertOutcome[] = [];
  for (const chunk of chunks(tasks)) outcomes.push(...(await insertChunk(to, queue, chunk)));
  return outcomes;
}

function chunks(tasks: NewTask[]): NewTask[][] {
  const result: NewTask[][] = [];
  let current: NewTask[] = [];
  let bytes = 0;
  for (const task of tasks) {
    const size = task.payload.byteLength;
    if (current.length > 0 && (current.length >= LIMITS.maxBatch || bytes + size > INSERT_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(task);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

async function insertChunk(
  to: MigrateSide,
  queue: string,
  tasks: NewTask[],
): Promise<InsertOutcome[]> {
  const outcomes = new Array<InsertOutcome | undefined>(tasks.length);
  let left = tasks.map((task, index) => ({ task, index }));
  while (left.length > 0) {
    const batch = left;
    let results: ItemResult<Task>[];
    try {
      // Retried through the Connection: caller-chosen ids make a repeat harmless (what the
      // first try inserted comes back as already present).
      results = await to.connection.ensure(async (backend) =>
        backend.insert(
          queue,
          batch.map((item) => item.task),
        ),
      );
    } catch (error) {
      const at = isPullqError(error) ? error.details?.index : undefined;
      const culprit = typeof at === 'number' ? batch[at] : undefined;
      if (!isPullqError(error) || error.retryable || culprit === undefined) throw to.failure(error);
      outcomes[culprit.index] = {
        kind: 'failed',
        code: error.code,
        message: error.message.replace(/^tasks\[\d+\]: /, ''),
      };
      left = batch.filter((item) => item !== culprit);
      continue;
    }
    batch.forEach((item, position) => {
      outcomes[item.index] = outcome(results[position]);
    });
    left = [];
  }
  return outcomes.map(
    (item) =>
      item ?? { kind: 'failed', code: 'internal', message: 'the target answered no result' },
  );
}

function outcome(result: ItemResult<Task> | undefined): InsertOutcome {
  if (result === undefined) {
    return { kind: 'failed', code: 'internal', message: 'the target answered no result' };
  }
  if (result.ok) return { kind: 'inserted' };
  if (result.error.code === 'already_exists') return { kind: 'present' };
  return { kind: 'failed', code: result.error.code, message: result.error.message };
}
