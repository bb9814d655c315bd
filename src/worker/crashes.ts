/**
 * What the supervisor remembers of the children that died running a task: how many, and the
 * last one's note (kept on the task if it is released).
 *
 * A task whose child died is handed to another child under the same lease (a redelivery: the
 * server counts no attempt), at most MAX_REDELIVERIES times; then it is released instead. A
 * task that itself kills its child (out of memory, a native crash) would otherwise kill
 * children forever under a lease the keeper renews; released, it counts an attempt and the
 * queue's maxLeases dead-letters it in the end. Two lets a task survive its child being killed
 * twice in a row for reasons of its own.
 */
import type { Held } from './lease-keeper.ts';

export const MAX_REDELIVERIES = 2;

export class Crashes {
  readonly #seen = new WeakMap<Held, { count: number; note: string }>();

  /** Records that the child running `held` died; the count of such deaths so far. */
  record(held: Held, note: string): number {
    const count = (this.#seen.get(held)?.count ?? 0) + 1;
    this.#seen.set(held, { count, note });
    return count;
  }

  /** The note of the last child that died running it, if one did. */
  noteOf(held: Held): string | undefined {
    return this.#seen.get(held)?.note;
  }
}
