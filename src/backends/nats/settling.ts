/**
 * Settling leases over JetStream, each fenced by the LeaseBook first (a ref that does not name
 * the lease held now gets `lease_lost` and nothing is sent):
 * - ack: `+ACK`, confirmed by the server (JetStream's double ack); the task's note goes too.
 * - extend: `+WPI` (working), which restarts the server's ack wait; the book moves the end.
 * - release: the error, if any, becomes the task's note; then `-NAK`, with the delay when
 *   delaySeconds is given (JetStream redelivers it then; the next lease counts one more
 *   delivery, so attempts go up as elsewhere).
 * - release with deadLetter: the dead letter is published, then the delivery acknowledged.
 * Items run side by side; their acks and naks leave in the batch's order on one connection.
 */
import type { ItemResult, LeaseRef, ReleaseRequest, Task } from '../backend.ts';
import { leaseLost } from '../common.ts';
import { truncateNote } from '../../protocol/limits.ts';
import type { NatsDeadLetters } from './dead-letters.ts';
import type { Lease } from './leases.ts';
import type { NatsParts } from './tasks.ts';

export class NatsSettling {
  readonly #parts: NatsParts;
  readonly #deadLetters: NatsDeadLetters;

  constructor(parts: NatsParts, deadLetters: NatsDeadLetters) {
    this.#parts = parts;
    this.#deadLetters = deadLetters;
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    const { book } = this.#parts;
    return Promise.all(
      refs.map(async (ref): Promise<ItemResult<null>> => {
        const lease = book.find(queue, ref);
        if (lease === null) return { ok: false, error: leaseLost(ref.id) };
        await book.ack(lease);
        await this.#dropNote(lease);
        return { ok: true, value: null };
      }),
    );
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    const { book } = this.#parts;
    return Promise.all(
      refs.map(async (ref): Promise<ItemResult<Task>> => {
        const lease = book.find(queue, ref);
        if (lease === null) return { ok: false, error: leaseLost(ref.id) };
        await book.extend(lease, leaseSeconds * 1000);
        return { ok: true, value: book.task(lease) };
      }),
    );
  }

  async release(
    queue: string,
    releases: ReleaseRequest[],
    deadLetterQueue: string | null,
  ): Promise<ItemResult<Task>[]> {
    const { book, clock } = this.#parts;
    return Promise.all(
      releases.map(async (release): Promise<ItemResult<Task>> => {
        const lease = book.find(queue, release.ref);
        if (lease === null) return { ok: false, error: leaseLost(release.ref.id) };
        const task = book.task(lease);
        const error = release.error === undefined ? null : truncateNote(release.error);
        if (release.deadLetter) {
          const note =
            error ??
            (await this.#deadLetters.readNote(queue, task.id)) ??
            'rejected by the consumer';
          const dead = this.#deadLetters;
          const moved = await dead.publish(queue, deadLetterQueue, task, task.attempts, note);
          await book.ack(lease);
          await this.#dropNote(lease);
          return { ok: true, value: moved };
        }
        if (error !== null) await this.#deadLetters.writeNote(queue, task.id, error);
        const delayMs = Math.round((release.delaySeconds ?? 0) * 1000);
        await book.nak(lease, delayMs);
        const eta = clock.now() + delayMs;
        const state = delayMs > 0 ? 'delayed' : 'ready';
        return { ok: true, value: { ...task, eta, state, lastError: error ?? task.lastError } };
      }),
    );
  }

  /** A note exists only if an earlier delivery was released with an error. */
  async #dropNote(lease: Lease): Promise<void> {
    if (lease.deliveryCount > 1) await this.#deadLetters.dropNote(lease.queue, lease.id);
  }
}
