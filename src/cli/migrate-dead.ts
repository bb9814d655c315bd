/**
 * Dead tasks for `pullq migrate --include-dead`. The Backend has no verb that inserts a task
 * straight into the dead state, so a dead task is recreated the way tasks die: inserted,
 * leased, and released with `deadLetter` and the source's last error. Lease takes tasks by
 * ETA, then insertion, not by id; so dead tasks go in with ETA 0 (1970), ahead of every real
 * task, and one lease of exactly that many takes them. What that costs, said in docs/cli.md:
 * the copy shows attempts 1, and the target must not have workers leasing from the queue
 * meanwhile (they would take those tasks first).
 *
 * A queue with a dead-letter queue cannot keep dead tasks this way (dead-lettering would move
 * them there as ready tasks), nor can a target without dead letters: those are skipped and
 * counted.
 */
import type { LeasedTask, QueueInfo, ReleaseRequest, Task } from '../backends/backend.ts';
import { count, insertTasks, newTask, type QueueReport } from './migrate-insert.ts';
import type { MigrateSide } from './migrate-side.ts';

/** The ETA dead tasks are inserted with: leased before any task a producer put. */
const DEAD_ETA = 0;

/** Long enough for one release call; an interrupted run's lease ends soon after. */
const LEASE_SECONDS = 60;

/** Why the dead tasks of `source` cannot be copied to this target; null when they can. */
export function deadCopyBlocker(to: MigrateSide, source: QueueInfo): string | null {
  if (!to.backend.capabilities.deadLetters) {
    return 'the target keeps no dead letters';
  }
  if (source.deadLetterQueue !== null) {
    return `dead-lettering on the target would move them to ${source.deadLetterQueue} as ready tasks instead of keeping them dead in ${source.name}`;
  }
  return null;
}

/** Copies one page's dead tasks of `source` as dead tasks of the target queue. */
export async function copyDeadTasks(
  from: MigrateSide,
  to: MigrateSide,
  source: QueueInfo,
  dead: Task[],
  report: QueueReport,
): Promise<void> {
  const queue = source.name;
  const outcomes = await insertTasks(
    to,
    queue,
    dead.map((task) => newTask(task, DEAD_ETA)),
  );
  const pending = new Map<string, Task>();
  const present: Task[] = [];
  dead.forEach((task, index) => {
    const outcome = outcomes[index];
    if (outcome?.kind === 'inserted') pending.set(task.id, task);
    else if (outcome?.kind === 'present') present.push(task);
    else count(report, task.id, outcome, 'dead');
  });
  await Promise.all(
    present.map(async (task) => {
      const there = await to.call(async (backend) => backend.get(queue, task.id));
      if (there === null || there.state === 'dead') {
        // Dead there already, or its id was used and deleted there (a tombstone).
        report.alreadyPresent += 1;
      } else if (there.state === 'ready' && there.eta === DEAD_ETA) {
        pending.set(task.id, task); // inserted by an interrupted run, not dead-lettered yet
      } else {
        report.deadNotDeadOnTarget.push(task.id);
      }
    }),
  );
  if (pending.size === 0) return;
  // A paused queue leases nothing: it is resumed for this one lease (workers are stopped).
  if (source.paused)
    await to.call(async (backend) => backend.updateQueue(queue, { paused: false }));
  try {
    await deadLetter(from, to, queue, pending, report);
  } finally {
    if (source.paused) {
      await to.call(async (backend) => backend.updateQueue(queue, { paused: true }));
    }
  }
}

async function deadLetter(
  from: MigrateSide,
  to: MigrateSide,
  queue: string,
  pending: Map<string, Task>,
  report: QueueReport,
): Promise<void> {
  const leased = await to.call(async (backend) =>
    backend.lease(queue, { max: pending.size, leaseSeconds: LEASE_SECONDS }),
  );
  const releases: ReleaseRequest[] = [];
  const mine: Task[] = [];
  const strays: LeasedTask[] = [];
  for (const task of leased) {
    const wanted = pending.get(task.id);
    // A dead task of a later page that an interrupted run inserted is dead-lettered now too;
    // its own page counts it as already present.
    const source = wanted ?? (await deadOnSource(from, queue, task.id));
    if (source === null) {
      strays.push(task);
      continue;
    }
    if (wanted !== undefined) {
      pending.delete(task.id);
      mine.push(wanted);
    }
    releases.push({
      ref: { id: task.id, token: task.leaseToken },
      deadLetter: true,
      ...(source.lastError === null ? {} : { error: source.lastError }),
    });
  }
  // Only a task someone else inserted with an ETA of 0 gets here: it goes back at once.
  if (strays.length > 0) {
    await to.call(async (backend) =>
      backend.release(
        queue,
        strays.map((task) => ({ ref: { id: task.id, token: task.leaseToken } })),
      ),
    );
  }
  if (releases.length > 0) {
    const results = await to.call(async (backend) => backend.release(queue, releases));
    const byId = new Map(releases.map((release, index) => [release.ref.id, results[index]]));
    for (const task of mine) {
      const result = byId.get(task.id);
      if (result?.ok === true) report.deadCopied += 1;
      else {
        report.failed.push({
          id: task.id,
          code: result?.error.code ?? 'internal',
          message: `inserted on the target but not dead-lettered: ${result?.error.message ?? 'no result'}`,
        });
      }
    }
  }
  for (const id of pending.keys()) {
    report.failed.push({
      id,
      code: 'unavailable',
      message:
        'inserted on the target but not leased back to be dead-lettered (a worker on the target may hold it): stop the workers there and run the migration again',
    });
  }
}

/** The source's dead task of this id, or null. */
async function deadOnSource(from: MigrateSide, queue: string, id: string): Promise<Task | null> {
  const task = await from.call(async (backend) => backend.get(queue, id));
  return task?.state === 'dead' ? task : null;
}
