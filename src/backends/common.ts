/**
 * What every backend shares: input checks, id and token generation, the errors of the
 * catalog they raise, and the long-poll loop. Backends persist; these decide nothing else.
 */
import { randomBytes } from 'node:crypto';
import { PullqError } from '../protocol/errors.ts';
import {
  LIMITS,
  checkBatchSize,
  checkEta,
  checkInt,
  checkNumber,
  checkPayloadSize,
  checkQueueName,
  checkTag,
  checkTaskId,
} from '../protocol/limits.ts';
import type {
  LeaseRequest,
  LeasedTask,
  ListRequest,
  NewTask,
  QueueConfig,
  ReleaseRequest,
  LeaseRef,
} from './backend.ts';

/** 96 random bits, URL-safe: valid as a task id and unguessable as a lease token. */
export function randomId(): string {
  return randomBytes(12).toString('base64url');
}

export function queueNotFound(name: string): PullqError {
  return new PullqError('queue_not_found', `queue ${JSON.stringify(name)} does not exist`, {
    details: { queue: name },
  });
}

export function taskNotFound(queue: string, id: string): PullqError {
  return new PullqError(
    'task_not_found',
    `task ${JSON.stringify(id)} is not in queue ${JSON.stringify(queue)}`,
    {
      details: { queue, id },
    },
  );
}

export function leaseLost(id: string): PullqError {
  return new PullqError(
    'lease_lost',
    `the lease on task ${JSON.stringify(id)} is no longer held: it expired, or the task was leased again, acked, released or deleted`,
    { details: { id } },
  );
}

export function idTaken(queue: string, id: string, tombstoned: boolean): PullqError {
  return new PullqError(
    'already_exists',
    tombstoned
      ? `task id ${JSON.stringify(id)} was used recently in queue ${JSON.stringify(queue)} and stays refused for the queue's dedup window`
      : `task id ${JSON.stringify(id)} already exists in queue ${JSON.stringify(queue)}`,
    { details: { queue, id, tombstoned } },
  );
}

export function checkInsert(queue: string, tasks: NewTask[], now: number): void {
  checkQueueName(queue);
  checkBatchSize(tasks.length, 'tasks');
  tasks.forEach((task, index) => {
    try {
      if (task.id !== undefined) checkTaskId(task.id);
      if (task.tag !== undefined) checkTag(task.tag);
      if (task.eta !== undefined) checkEta(task.eta, now);
      checkPayloadSize(task.payload.byteLength);
    } catch (error) {
      if (error instanceof PullqError) {
        throw new PullqError(error.code, `tasks[${index}]: ${error.message}`, {
          details: { ...error.details, index },
        });
      }
      throw error;
    }
  });
}

export function checkLease(queue: string, request: LeaseRequest): void {
  checkQueueName(queue);
  checkInt(request.max, 'max', 1, LIMITS.maxTasksPerLease);
  checkLeaseSeconds(request.leaseSeconds);
  if (request.tag !== undefined) checkTag(request.tag);
  if (request.waitSeconds !== undefined) {
    checkNumber(request.waitSeconds, 'waitSeconds', 0, LIMITS.maxWaitSeconds);
  }
}

export function checkIds(queue: string, ids: string[]): void {
  checkQueueName(queue);
  checkBatchSize(ids.length, 'ids');
  for (const id of ids) checkTaskId(id);
}

export function checkRefs(queue: string, refs: LeaseRef[]): void {
  checkIds(
    queue,
    refs.map((ref) => ref.id),
  );
}

export function checkLeaseSeconds(leaseSeconds: number): void {
  checkNumber(leaseSeconds, 'leaseSeconds', 0, LIMITS.maxLeaseSeconds);
}

export function checkReleases(queue: string, releases: ReleaseRequest[]): void {
  checkRefs(
    queue,
    releases.map((release) => release.ref),
  );
  for (const release of releases) {
    if (release.delaySeconds !== undefined) {
      checkNumber(release.delaySeconds, 'delaySeconds', 0, LIMITS.maxEtaAheadSeconds);
    }
  }
}

export function checkList(queue: string, request: ListRequest): void {
  checkQueueName(queue);
  checkInt(request.limit, 'limit', 1, LIMITS.maxListLimit);
  if (request.tag !== undefined) checkTag(request.tag);
}

export function checkQueueConfig(patch: Partial<QueueConfig>, queue: string): void {
  if (patch.maxLeases !== undefined && patch.maxLeases !== null) {
    checkInt(patch.maxLeases, 'maxLeases', 1, 1_000_000);
  }
  if (patch.deadLetterQueue !== undefined && patch.deadLetterQueue !== null) {
    checkQueueName(patch.deadLetterQueue);
    if (patch.deadLetterQueue === queue) {
      throw new PullqError('invalid_argument', 'a queue cannot be its own dead-letter queue', {
        details: { field: 'deadLetterQueue' },
      });
    }
  }
  if (patch.dedupWindowSeconds !== undefined) {
    checkInt(patch.dedupWindowSeconds, 'dedupWindowSeconds', 0, 365 * 24 * 3600);
  }
}

/** Does this ref name the lease a task holds now? `leaseToken` is null when it is not leased. */
export function refMatches(
  ref: LeaseRef,
  task: { leaseToken: string | null; eta: number },
  now: number,
): boolean {
  if (task.leaseToken === null) return false;
  if ('token' in ref) return ref.token === task.leaseToken;
  return ref.leaseExpiresAt === task.eta && task.eta > now;
}

/**
 * Wakes long-polls in this process when a queue may have gained a ready task. Backends that
 * share a store across processes add their own signal (PostgreSQL NOTIFY) on top.
 */
export class Wakeups {
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Counts notifications per queue, so a waiter can tell it missed one while it looked. */
  readonly #versions = new Map<string, number>();

  version(queue: string): number {
    return this.#versions.get(queue) ?? 0;
  }

  notify(queue: string): void {
    this.#versions.set(queue, this.version(queue) + 1);
    const waiters = this.#waiters.get(queue);
    if (!waiters) return;
    this.#waiters.delete(queue);
    for (const wake of waiters) wake();
  }

  /** Resolves on notify(queue), after `ms`, or on abort, whichever comes first. */
  wait(queue: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(queue);
      if (!waiters) this.#waiters.set(queue, (waiters = new Set()));
      const set = waiters;
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Releases every waiter (on close). */
  wakeAll(): void {
    for (const queue of [...this.#waiters.keys()]) this.notify(queue);
    this.#versions.clear();
  }

  get waiting(): number {
    let count = 0;
    for (const set of this.#waiters.values()) count += set.size;
    return count;
  }
}

/**
 * A task becomes ready by an insert or a release (which notify) or by its ETA passing (no
 * event): a waiting lease looks again at least this often, so delayed tasks and expired
 * leases are picked up within this delay.
 */
export const LONG_POLL_RECHECK_MS = 250;

/** Leases once; if nothing was ready and the request waits, sleeps until woken and retries. */
export async function leaseWithWait(
  leaseOnce: () => Promise<LeasedTask[]>,
  wakeups: Wakeups,
  queue: string,
  request: LeaseRequest,
  isClosed: () => boolean,
): Promise<LeasedTask[]> {
  const deadline = performance.now() + (request.waitSeconds ?? 0) * 1000;
  for (;;) {
    const seen = wakeups.version(queue);
    const tasks = await leaseOnce();
    const left = deadline - performance.now();
    if (tasks.length > 0 || left <= 0 || request.signal?.aborted || isClosed()) return tasks;
    if (wakeups.version(queue) !== seen) continue; // a task arrived while we looked
    await wakeups.wait(queue, Math.min(left, LONG_POLL_RECHECK_MS), request.signal);
  }
}
