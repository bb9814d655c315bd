/**
 * What the server did, second by second, over the last hour: the data behind
 * `GET /v1/stats/history` and the dashboard's charts.
 *
 * - Counts (inserted, leased, acked, failed, deadLettered) are kept per queue and for all
 *   queues together, one number per second, in 5-minute chunks allocated on first use: a
 *   series idle all hour costs nothing, one used once 1.4 KB, one busy all hour 17 KB.
 *   Measured: 1,000 queues counting inserts, leases and acks every second of an hour, with
 * their backlog samples, hold 56 MiB. A queue that is deleted is dropped, and its counts
 *   are taken out of the all-queues sums.
 * - Backlog (ready + delayed) is not counted but sampled (./sampler.ts), in rounds every few
 *   seconds. Each queue keeps its last SAMPLES samples (in arrays that grow to that size as
 *   samples come); a round's point holds each queue's
 *   latest sample at or before it (a queue nobody touches keeps its backlog: only leases that
 *   run out move tasks back to ready without a request), and seconds without a round are
 *   null.
 *
 * Seconds are whole seconds of the server's clock (`Math.floor(ms / 1000)`).
 */

/** How far back the history goes, in seconds. */
export const HISTORY_SECONDS = 3600;

export const COUNT_SERIES = ['inserted', 'leased', 'acked', 'failed', 'deadLettered'] as const;
export type CountSeries = (typeof COUNT_SERIES)[number];

/** Backlog samples kept per queue: an hour of rounds at the shortest interval, 5 s. */
const SAMPLES = HISTORY_SECONDS / 5;
/** A typed array costs about 200 bytes besides its data: chunks of a minute (240 bytes of data)
 * more than doubled the memory of a busy queue; 5 minutes costs an idle one little. */
const CHUNK_SECONDS = 300;
/** An hour that does not start on a chunk's first second touches one chunk more. */
const CHUNKS = HISTORY_SECONDS / CHUNK_SECONDS + 1;

/** The answer of `GET /v1/stats/history` (docs/protocol.md, "Stats history"). */
export interface HistoryAnswer {
  step: 1;
  /** Milliseconds since the epoch of the first (oldest) point. */
  start: number;
  series: Record<CountSeries, number[]> & { backlog: (number | null)[] };
}

/** Per-second counts of one series for the last hour, in chunks of CHUNK_SECONDS. */
class SecondCounts {
  readonly #chunks: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(CHUNKS);
  /** The chunk number (seconds since the epoch / CHUNK_SECONDS) each slot holds; -1: none. */
  readonly #numbers = new Float64Array(CHUNKS).fill(-1);

  add(second: number, count: number): void {
    const number = Math.floor(second / CHUNK_SECONDS);
    const slot = number % CHUNKS;
    let chunk = this.#chunks[slot];
    if (this.#numbers[slot] !== number) {
      if (chunk) chunk.fill(0);
      else chunk = this.#chunks[slot] = new Uint32Array(CHUNK_SECONDS);
      this.#numbers[slot] = number;
    }
    chunk![second % CHUNK_SECONDS]! += count;
  }

  /** Adds the counts of seconds `from`..`from + into.length - 1` into `into`. */
  addInto(into: Float64Array, from: number): void {
    const to = from + into.length - 1;
    for (
      let number = Math.floor(from / CHUNK_SECONDS);
      number <= Math.floor(to / CHUNK_SECONDS);
      number++
    ) {
      const slot = number % CHUNKS;
      const chunk = this.#chunks[slot];
      if (!chunk || this.#numbers[slot] !== number) continue;
      const first = Math.max(from, number * CHUNK_SECONDS);
      const last = Math.min(to, number * CHUNK_SECONDS + CHUNK_SECONDS - 1);
      for (let second = first; second <= last; second++) {
        into[second - from]! += chunk[second % CHUNK_SECONDS]!;
      }
    }
  }

  /** Takes `other`'s counts out of these (a dropped queue out of the all-queues sums). */
  subtract(other: SecondCounts): void {
    for (let slot = 0; slot < CHUNKS; slot++) {
      const mine = this.#chunks[slot];
      const theirs = other.#chunks[slot];
      if (!mine || !theirs || this.#numbers[slot] !== other.#numbers[slot]) continue;
      for (let index = 0; index < CHUNK_SECONDS; index++) {
        mine[index] = Math.max(0, mine[index]! - theirs[index]!);
      }
    }
  }
}

/** The last SAMPLES backlog samples of one queue, oldest first. */
class Samples {
  #seconds = new Uint32Array(8);
  #values = new Uint32Array(8);
  /** Where the oldest sample is, once the arrays are full at SAMPLES. */
  #oldest = 0;
  #size = 0;

  add(second: number, value: number): void {
    const capacity = this.#seconds.length;
    const last = (this.#oldest + this.#size - 1) % capacity;
    // A second round in the same second replaces the first.
    if (this.#size > 0 && this.#seconds[last] === second) {
      this.#values[last] = Math.min(value, 0xffff_ffff);
      return;
    }
    if (this.#size === capacity && capacity < SAMPLES) this.#grow(Math.min(SAMPLES, capacity * 2));
    const at = (this.#oldest + this.#size) % this.#seconds.length;
    this.#seconds[at] = second;
    this.#values[at] = Math.min(value, 0xffff_ffff);
    if (this.#size < this.#seconds.length) this.#size++;
    else this.#oldest = (this.#oldest + 1) % this.#seconds.length;
  }

  /** Adds, at each round of `rounds` (ascending), the latest sample at or before it. */
  addAtRounds(into: (number | null)[], from: number, rounds: readonly number[]): void {
    const capacity = this.#seconds.length;
    let index = 0;
    let latest: number | null = null;
    for (const round of rounds) {
      while (index < this.#size) {
        const at = (this.#oldest + index) % capacity;
        if (this.#seconds[at]! > round) break;
        latest = this.#values[at]!;
        index++;
      }
      if (latest !== null) into[round - from] = (into[round - from] ?? 0) + latest;
    }
  }

  /** Only while not yet full, so the samples are in place from 0. */
  #grow(capacity: number): void {
    const seconds = new Uint32Array(capacity);
    const values = new Uint32Array(capacity);
    seconds.set(this.#seconds);
    values.set(this.#values);
    this.#seconds = seconds;
    this.#values = values;
  }
}

interface QueueHistory {
  counts: Partial<Record<CountSeries, SecondCounts>>;
  samples: Samples | undefined;
}

export class History {
  readonly #queues = new Map<string, QueueHistory>();
  readonly #all: Partial<Record<CountSeries, SecondCounts>> = {};
  /** Seconds at which backlog rounds ran, oldest first (at most SAMPLES). */
  readonly #rounds: number[] = [];

  /** Counts `count` events of `series` in `queue` at `now` (ms). */
  add(queue: string, series: CountSeries, count: number, now: number): void {
    if (count <= 0) return;
    const second = Math.floor(now / 1000);
    const counts = this.#queue(queue).counts;
    (counts[series] ??= new SecondCounts()).add(second, count);
    (this.#all[series] ??= new SecondCounts()).add(second, count);
  }

  /** Records that a backlog round ran at `now`; its samples follow with `sample`. */
  round(now: number): void {
    const second = Math.floor(now / 1000);
    if (this.#rounds.at(-1) === second) return;
    this.#rounds.push(second);
    if (this.#rounds.length > SAMPLES) this.#rounds.shift();
  }

  sample(queue: string, backlog: number, now: number): void {
    (this.#queue(queue).samples ??= new Samples()).add(Math.floor(now / 1000), backlog);
  }

  /** Forgets a deleted queue, and takes its counts out of the all-queues sums. */
  drop(queue: string): void {
    const history = this.#queues.get(queue);
    if (!history) return;
    this.#queues.delete(queue);
    for (const series of COUNT_SERIES) {
      const counts = history.counts[series];
      if (counts) this.#all[series]?.subtract(counts);
    }
  }

  /** The queues with a history. */
  queues(): string[] {
    return [...this.#queues.keys()];
  }

  /**
   * The last `seconds` seconds up to `now`, oldest first, summed over `queues` (`'all'`: every
   * queue, from the all-queues sums).
   */
  answer(queues: readonly string[] | 'all', seconds: number, now: number): HistoryAnswer {
    const last = Math.floor(now / 1000);
    const from = last - seconds + 1;
    const histories =
      queues === 'all'
        ? [...this.#queues.values()]
        : queues.flatMap((queue) => this.#queues.get(queue) ?? []);
    const counts = {} as Record<CountSeries, number[]>;
    for (const series of COUNT_SERIES) {
      const into = new Float64Array(seconds);
      if (queues === 'all') this.#all[series]?.addInto(into, from);
      else for (const history of histories) history.counts[series]?.addInto(into, from);
      counts[series] = Array.from(into);
    }
    const backlog = new Array<number | null>(seconds).fill(null);
    const rounds = this.#rounds.filter((round) => round >= from && round <= last);
    // Rounds are in clock order unless the clock went back; the merge below needs them sorted.
    rounds.sort((a, b) => a - b);
    for (const history of histories) history.samples?.addAtRounds(backlog, from, rounds);
    return { step: 1, start: from * 1000, series: { ...counts, backlog } };
  }

  #queue(queue: string): QueueHistory {
    let history = this.#queues.get(queue);
    if (!history) {
      history = { counts: {}, samples: undefined };
      this.#queues.set(queue, history);
    }
    return history;
  }
}
