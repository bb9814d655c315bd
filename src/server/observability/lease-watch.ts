/**
 * The leases this server handed out and has not seen end: how lease expiries and the dead
 * letters that leases make are observed, since no Backend verb reports either.
 *
 * - Lease expiry: a task leased again (its attempts went up) whose previous lease, handed out
 *   by this server, was not acked, released, ended by an extend to 0 s, or deleted through
 *   this server. Leases handed out before a restart or by another server sharing the store
 *   are not seen; a task released through another server counts as expired here.
 * - Dead letter made by a lease: a lease past the queue's `maxLeases` dead-letters the task
 *   instead of leasing it, and says nothing. A task whose last allowed lease (attempts >=
 *   maxLeases) ended here without an ack is one waiting to happen: once its queue has been
 *   leased again, the sampler (./sampler.ts) gets it; `dead` there, or gone while the queue
 *   has a dead-letter queue, is one dead letter (and, when its lease ran out rather than
 *   being released, one expiry).
 *
 * At most MAX_LEASES are remembered, about 200 bytes each; past that the oldest are forgotten,
 * and what becomes of them is not counted.
 */
import type { LeasedTask, Task } from '../../backends/backend.ts';

export interface WatchedLease {
  readonly queue: string;
  readonly id: string;
  /** The task's attempts when this server last leased or released it. */
  attempts: number;
  /** When the lease ends; once released, when the task is leasable again. */
  end: number;
  /** Ended by a release rather than left to run out. */
  released: boolean;
  /** Lease calls on its queue when the sampler last looked at it. */
  checkedAt: number;
}

export class LeaseWatch {
  static readonly MAX_LEASES = 100_000;
  readonly #leases = new Map<string, WatchedLease>();
  /** Lease calls per queue: dead-lettering happens only in one. */
  readonly #leaseCalls = new Map<string, number>();

  get size(): number {
    return this.#leases.size;
  }

  leaseCalled(queue: string): void {
    this.#leaseCalls.set(queue, (this.#leaseCalls.get(queue) ?? 0) + 1);
  }

  /** A task this server leased. True when its previous lease, seen here, ran out. */
  leased(queue: string, task: LeasedTask): boolean {
    const key = keyOf(queue, task.id);
    const previous = this.#leases.get(key);
    const expired =
      previous !== undefined && !previous.released && task.attempts > previous.attempts;
    this.#leases.delete(key);
    this.#remember(key, {
      queue,
      id: task.id,
      attempts: task.attempts,
      end: task.eta,
      released: false,
      checkedAt: this.#leaseCalls.get(queue) ?? 0,
    });
    return expired;
  }

  extended(queue: string, task: Task, leaseSeconds: number): void {
    const lease = this.#leases.get(keyOf(queue, task.id));
    if (!lease) return;
    lease.end = task.eta;
    // A lease set to end now was ended on purpose, as a release is.
    if (leaseSeconds === 0) lease.released = true;
  }

  /** Released (not dead-lettered): leasable again at `task.eta`. */
  released(queue: string, task: Task): void {
    const key = keyOf(queue, task.id);
    const lease = this.#leases.get(key);
    if (lease) {
      Object.assign(lease, { released: true, end: task.eta, attempts: task.attempts });
      return;
    }
    // Leased elsewhere: watched still, for the dead letter its next lease may make.
    this.#remember(key, {
      queue,
      id: task.id,
      attempts: task.attempts,
      end: task.eta,
      released: true,
      checkedAt: this.#leaseCalls.get(queue) ?? 0,
    });
  }

  /** Acked, deleted, dead-lettered by a release, or found settled by the sampler. */
  ended(queue: string, id: string): void {
    this.#leases.delete(keyOf(queue, id));
  }

  dropQueue(queue: string): void {
    for (const [key, lease] of this.#leases) if (lease.queue === queue) this.#leases.delete(key);
    this.#leaseCalls.delete(queue);
  }

  /**
   * Leases over by `now` whose queue was leased since they were last looked at: up to `limit`,
   * oldest first. Each is marked looked at.
   */
  due(now: number, limit: number): WatchedLease[] {
    const due: WatchedLease[] = [];
    for (const lease of this.#leases.values()) {
      if (due.length >= limit) break;
      const calls = this.#leaseCalls.get(lease.queue) ?? 0;
      if (lease.end > now || lease.checkedAt >= calls) continue;
      lease.checkedAt = calls;
      due.push(lease);
    }
    return due;
  }

  #remember(key: string, lease: WatchedLease): void {
    this.#leases.set(key, lease);
    if (this.#leases.size > LeaseWatch.MAX_LEASES) {
      const oldest = this.#leases.keys().next();
      if (!oldest.done) this.#leases.delete(oldest.value);
    }
  }
}

function keyOf(queue: string, id: string): string {
  return `${queue}\n${id}`;
}
