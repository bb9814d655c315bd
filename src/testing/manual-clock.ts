import type { Clock } from '../backends/backend.ts';

/**
 * A clock that moves only when told to, so lease, ETA and dedup-window tests tick it instead of
 * sleeping. Pass one to a backend (`new MemoryBackend({ clock })`) and keep it to advance.
 */
export class ManualClock implements Clock {
  /** A fixed, realistic start (2025-11-21), so runs are reproducible and times read as dates. */
  static readonly DEFAULT_START = 1_763_700_000_000;

  #now: number;

  constructor(start: number = ManualClock.DEFAULT_START) {
    checkTime(start, 'start');
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds; returns the new time. */
  advance(ms: number): number {
    if (!Number.isSafeInteger(ms) || ms < 0) {
      throw new RangeError(`advance() takes a whole number of milliseconds >= 0, got ${ms}`);
    }
    return this.set(this.#now + ms);
  }

  /** Sets the time (milliseconds since the epoch); it may move backwards, as real clocks do. */
  set(ms: number): number {
    checkTime(ms, 'time');
    this.#now = ms;
    return ms;
  }
}

function checkTime(ms: number, what: string): void {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`${what} must be whole milliseconds since the epoch, got ${ms}`);
  }
}
