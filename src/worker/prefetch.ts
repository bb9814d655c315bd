/**
 * How many tasks the worker keeps leased ahead of its free slots.
 *
 * A fixed `prefetch` is used as given. By default the buffer is sized by what the slots use
 * up: enough for about PREFETCH_AHEAD_MS of work at the rate tasks have been starting, never
 * fewer than one task per slot (processes x concurrency) and, above that, never more than
 * AUTO_PREFETCH_MAX. Tasks of seconds start a few per second, so the buffer stays at one per
 * slot and no task waits in one worker while another sits idle; no-op tasks start tens of
 * thousands a second, and a buffer of one per slot ran dry during each lease round trip
 * (about 3 ms on a busy 2-core machine): see docs/decisions.md for the figures.
 */

/** The buffer holds about this long of work at the rate tasks start. */
export const PREFETCH_AHEAD_MS = 20;
/** The most an automatic buffer grows to (unless processes x concurrency is larger). */
export const AUTO_PREFETCH_MAX = 1000;
/** The start rate is measured over windows at least this long, then smoothed. */
const RATE_WINDOW_MS = 50;

/** The sizes an automatic buffer keeps between, for `slots` (processes x concurrency). */
export function autoPrefetchRange(slots: number): { min: number; max: number } {
  return { min: slots, max: Math.max(slots, AUTO_PREFETCH_MAX) };
}

export class PrefetchTarget {
  readonly #min: number;
  readonly #max: number;
  /** Tasks started per ms, smoothed over the windows so far. */
  #rate = 0;
  #windowStart: number;
  #windowStarted = 0;

  /**
   * `prefetch`: the fixed size, or undefined for automatic. `slots`: processes x concurrency.
   * `now`: the clock, in ms.
   */
  constructor(prefetch: number | undefined, slots: number, now: number) {
    // A fixed size is a range of one.
    const { min, max } =
      prefetch === undefined ? autoPrefetchRange(slots) : { min: prefetch, max: prefetch };
    this.#min = min;
    this.#max = max;
    this.#windowStart = now;
  }

  /** `count` tasks went from the buffer to slots. */
  started(count: number, now: number): void {
    this.#windowStarted += count;
    this.#roll(now);
  }

  /** The buffer's size now. */
  limit(now: number): number {
    this.#roll(now);
    const wanted = Math.round(this.#rate * PREFETCH_AHEAD_MS);
    return Math.min(this.#max, Math.max(this.#min, wanted));
  }

  /** Closes the window once it is long enough; a window with no start in it (an idle worker)
   * halves the rate. */
  #roll(now: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    // Half the weight on the last window: a drain that ends (or starts) moves the size within
    // a few windows, while one slow window does not halve it.
    this.#rate = (this.#rate + this.#windowStarted / elapsed) / 2;
    this.#windowStart = now;
    this.#windowStarted = 0;
  }
}
