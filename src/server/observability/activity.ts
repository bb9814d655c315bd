/**
 * What this server did to each queue since it started: the counts behind
 * `pullq_operations_total`, `pullq_dead_letters_total` and `pullq_lease_expiries_total`, the
 * per-second history (./history.ts), the leases it watches (./lease-watch.ts), and when each
 * queue was last touched (the sampler samples the backlog of recently touched queues only).
 *
 * Counts are of tasks, not requests: an insert of 100 tasks of which 2 ids were taken counts
 * 98 inserted. Only what succeeded is counted. A deleted queue is dropped everywhere.
 */
import { History, type CountSeries } from './history.ts';
import { LeaseWatch } from './lease-watch.ts';

/**
 * - inserted, leased, acked, extended, deleted, purged, redriven: tasks the verb succeeded on
 * - released: tasks given back (not dead-lettered); failed: releases that carried an error
 *   note, given back or dead-lettered (a failed attempt)
 * - deadLettered: tasks dead-lettered out of the queue, by a release with deadLetter or by a
 *   lease past maxLeases (./lease-watch.ts)
 * - leaseExpiries: leases that ran out (./lease-watch.ts)
 */
export const COUNTED = [
  'inserted',
  'leased',
  'acked',
  'extended',
  'released',
  'failed',
  'deadLettered',
  'deleted',
  'purged',
  'redriven',
  'leaseExpiries',
] as const;
export type Counted = (typeof COUNTED)[number];

const HISTORY_SERIES: Partial<Record<Counted, CountSeries>> = {
  inserted: 'inserted',
  leased: 'leased',
  acked: 'acked',
  failed: 'failed',
  deadLettered: 'deadLettered',
};

export interface QueueActivity {
  readonly counts: Record<Counted, number>;
  /** Bumped by every change this server makes to the queue: stats read before are stale. */
  version: number;
  /** When (server clock, ms) a request last touched or viewed the queue. */
  touchedAt: number;
}

export class Activity {
  readonly history = new History();
  readonly leases = new LeaseWatch();
  /** Leases waiting for tasks to arrive (waitSeconds > 0) right now. */
  waiters = 0;
  readonly #queues = new Map<string, QueueActivity>();

  /** Counts `count` tasks of `what` in `queue`, at `now` (server clock, ms). */
  count(queue: string, what: Counted, count: number, now: number): void {
    const activity = this.changed(queue, now);
    if (count <= 0) return;
    activity.counts[what] += count;
    const series = HISTORY_SERIES[what];
    if (series) this.history.add(queue, series, count, now);
  }

  /** The server changed the queue (its stats read before are stale). */
  changed(queue: string, now: number): QueueActivity {
    const activity = this.touch(queue, now);
    activity.version++;
    return activity;
  }

  /** A request used the queue without changing it (stats, a view of its history). */
  touch(queue: string, now: number): QueueActivity {
    let activity = this.#queues.get(queue);
    if (!activity) {
      const counts = Object.fromEntries(COUNTED.map((what) => [what, 0])) as Record<
        Counted,
        number
      >;
      activity = { counts, version: 0, touchedAt: now };
      this.#queues.set(queue, activity);
    }
    activity.touchedAt = Math.max(activity.touchedAt, now);
    return activity;
  }

  /** The queue's change count (0 for a queue never touched). */
  version(queue: string): number {
    return this.#queues.get(queue)?.version ?? 0;
  }

  queues(): ReadonlyMap<string, QueueActivity> {
    return this.#queues;
  }

  /** Queues touched at or after `since` (server clock, ms). */
  touchedSince(since: number): string[] {
    const queues: string[] = [];
    for (const [queue, activity] of this.#queues) {
      if (activity.touchedAt >= since) queues.push(queue);
    }
    return queues;
  }

  /** Forgets a deleted queue. */
  drop(queue: string): void {
    this.#queues.delete(queue);
    this.history.drop(queue);
    this.leases.dropQueue(queue);
  }
}
