/**
 * The exactly-once check every run ends with: each task id 0..expected-1 must have been
 * delivered to a handler, once. A run with a missing task is invalid; duplicates are reported
 * (an at-least-once system may redeliver after a lost lease) but do not invalidate it. An id
 * outside the range means a task the run did not send: the run is invalid too.
 */

export interface ExactlyOnce {
  /** Tasks the run sent. */
  expected: number;
  /** Deliveries recorded, duplicates and strangers included. */
  deliveries: number;
  /** Tasks delivered at least once. */
  distinct: number;
  missing: number;
  /** Deliveries beyond the first of a task. */
  duplicates: number;
  /** Deliveries of ids the run never sent. */
  unexpected: number;
  valid: boolean;
}

/** Delivery counts per task id, kept as records arrive so the runner sees progress. */
export class DeliveryCounts {
  readonly expected: number;
  /** Deliveries per id, saturating at 255 (a count past 1 is a duplicate either way). */
  readonly #counts: Uint8Array;
  #deliveries = 0;
  #distinct = 0;
  #duplicates = 0;
  #unexpected = 0;

  constructor(expected: number) {
    this.expected = expected;
    this.#counts = new Uint8Array(expected);
  }

  /** Counts one delivery; true when it was the task's first. */
  add(id: number): boolean {
    this.#deliveries += 1;
    if (!Number.isInteger(id) || id < 0 || id >= this.expected) {
      this.#unexpected += 1;
      return false;
    }
    const count = this.#counts[id] as number;
    if (count < 255) this.#counts[id] = count + 1;
    if (count === 0) {
      this.#distinct += 1;
      return true;
    }
    this.#duplicates += 1;
    return false;
  }

  has(id: number): boolean {
    return (this.#counts[id] ?? 0) > 0;
  }

  get distinct(): number {
    return this.#distinct;
  }

  get complete(): boolean {
    return this.#distinct === this.expected;
  }

  result(): ExactlyOnce {
    const missing = this.expected - this.#distinct;
    return {
      expected: this.expected,
      deliveries: this.#deliveries,
      distinct: this.#distinct,
      missing,
      duplicates: this.#duplicates,
      unexpected: this.#unexpected,
      valid: missing === 0 && this.#unexpected === 0,
    };
  }
}

/** The check over a finished list of delivered ids. */
export function checkExactlyOnce(ids: Iterable<number>, expected: number): ExactlyOnce {
  const counts = new DeliveryCounts(expected);
  for (const id of ids) counts.add(id);
  return counts.result();
}
