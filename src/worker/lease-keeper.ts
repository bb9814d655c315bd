/**
 * The lease keeper: renews, in batches, every lease the supervisor holds (buffered or running)
 * before it ends. It runs in the supervisor, which runs no user code, so a handler blocking its
 * child's event loop for longer than the lease cannot starve it.
 *
 * Every tick (a third of the lease, between 1 s and 10 s) it extends each lease with less than
 * two thirds of its length left, back to the full length: a lease is renewed about once per
 * third, which leaves two ticks of slack for a slow backend before it could run out.
 */
import type { LeasedTask } from '../backends/backend.ts';
import type { Connection } from '../client/connection.ts';
import { isPullqError, PullqError } from '../protocol/errors.ts';
import { LIMITS, checkNumber } from '../protocol/limits.ts';
import type { ChildHandle } from './pool.ts';

/** A task this worker holds a lease on. */
export interface Held {
  /** Names this delivery between supervisor and child. */
  key: number;
  task: LeasedTask;
  /** Local time (connection clock) by which the lease surely ends. */
  expiresAt: number;
  /** The child running it; null while it waits in the buffer. */
  child: ChildHandle | null;
  /** performance.now() when it was handed to its child (0 while buffered). */
  sentAt: number;
}

export interface KeeperEvents {
  held(): Held[];
  renewed(count: number): void;
  lost(held: Held): void;
  failed(error: unknown): void;
}

export class LeaseKeeper {
  readonly #connection: Connection;
  readonly #queue: string;
  readonly #leaseMs: number;
  readonly #events: KeeperEvents;
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;
  renewals = 0;

  constructor(connection: Connection, queue: string, leaseSeconds: number, events: KeeperEvents) {
    this.#connection = connection;
    this.#queue = queue;
    this.#leaseMs = leaseSeconds * 1000;
    this.#events = events;
  }

  start(): void {
    const everyMs = Math.min(10_000, Math.max(1000, this.#leaseMs / 3));
    this.#timer = setInterval(() => void this.#renewDue(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** ctx.extendLease: this lease now ends `seconds` from now. */
  async extend(held: Held, seconds: number): Promise<void> {
    checkNumber(seconds, 'seconds', 0, LIMITS.maxLeaseSeconds);
    const startedAt = this.#connection.options.clock.now();
    const ref = { id: held.task.id, token: held.task.leaseToken };
    const [result] = await this.#connection.ensure(async (backend) =>
      backend.extend(this.#queue, [ref], seconds),
    );
    if (result === undefined) throw new PullqError('internal', 'extend answered no result');
    if (!result.ok) throw result.error;
    held.expiresAt = startedAt + seconds * 1000;
  }

  async #renewDue(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      const now = this.#connection.options.clock.now();
      const due = this.#events
        .held()
        .filter((held) => held.expiresAt - now < (this.#leaseMs * 2) / 3);
      let renewed = 0;
      for (let start = 0; start < due.length; start += LIMITS.maxBatch) {
        renewed += await this.#renew(due.slice(start, start + LIMITS.maxBatch));
      }
      if (renewed > 0) this.#events.renewed(renewed);
    } catch (error) {
      this.#events.failed(error);
    } finally {
      this.#renewing = false;
    }
  }

  async #renew(batch: Held[]): Promise<number> {
    const startedAt = this.#connection.options.clock.now();
    const refs = batch.map((held) => ({ id: held.task.id, token: held.task.leaseToken }));
    const results = await this.#connection.ensure(async (backend) =>
      backend.extend(this.#queue, refs, this.#leaseMs / 1000),
    );
    let renewed = 0;
    for (const [index, held] of batch.entries()) {
      const result = results[index];
      if (result?.ok === true) {
        held.expiresAt = startedAt + this.#leaseMs;
        renewed += 1;
      } else if (result !== undefined && isPullqError(result.error)) {
        if (result.error.code === 'lease_lost' || result.error.code === 'task_not_found') {
          this.#events.lost(held);
        }
      }
    }
    this.renewals += renewed;
    return renewed;
  }
}
