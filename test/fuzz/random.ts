/**
 * A seeded random source for the mutation fuzzers (mulberry32: 32 bits of state, fast, and
 * the same sequence on every machine), so a seed replays a run. fast-check has its own.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Bytes of any value. */
  bytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = this.int(0, 255);
    return bytes;
  }
}

/** The seed and the number of requests of one fuzz loop: fixed, unless FUZZ_SEED / FUZZ_RUNS. */
export interface FuzzSettings {
  seed: number;
  runs: number;
}

/**
 * The loop's defaults, or the environment's: FUZZ_SEED replays a printed seed, FUZZ_RUNS
 * sets the number of requests of every fuzz loop (more for a long hunt, fewer for a quick one).
 */
export function fuzzSettings(defaultSeed: number, defaultRuns: number): FuzzSettings {
  const seed = readInteger('FUZZ_SEED') ?? defaultSeed;
  const runs = readInteger('FUZZ_RUNS') ?? defaultRuns;
  return { seed, runs };
}

function readInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  }
  return value;
}
