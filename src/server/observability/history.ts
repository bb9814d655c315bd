/**
 * What the server did, second by second, over the last hour: the data behind
 * `GET /v1/stats/history` and the dashboard's charts.
 *
 * - Counts (inserted, leased, acked, failed, deadLettered) are kept per queue and for all
 *   queues together, one number per second, in minute chunks allocated on first use: a queue
 *   idle all hour costs nothing, one busy every second of it about 240 bytes a minute per
 *   series (72 KB for all five). A queue that is deleted is dropped, and its counts are
 *   taken out of the all-queues sums.
 * - Backlog (ready + delayed) is not counted but sampled (./sampler.ts), in rounds every few
 *   seconds. Each queue keeps its last SAMPLES samples; a round's point holds each queue's
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
const MINUTES = HISTORY_SECONDS / 60;

/** The answer of `GET /v1/stats/history` (docs/protocol.md, "Stats history"). */
export interface HistoryAnswer {
  step: 1;
  /** Milliseconds since the epoch of the first (oldest) point. */
  start: number;
  series: Record<CountSeries, number[]> & { backlog: (number | null)[] };
}

/** Per-second counts of one series for the last hour, in minute chunks. */
class SecondCounts {
  readonly #chunks: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(MINUTES);
  /** The minute (since the epoch) each slot holds; -1: none yet. */
  readonly #minutes = new Float64Array(MINUTES).fill(-1);

  add(second: number, count: number): void {
    const minute = Math.floor(second / 60);
    const slot = minute % MINUTES;
    let chunk = this.#chunks[slot];
    if (this.#minutes[slot] !== minute) {
      if (chunk) chunk.fill(0);
      else chunk = this.#chunks[slot] = new Uint32Array(60);
      this.#minutes[slot] = minute;
    }
    chunk![second % 60]! += count;
  }

  /** Adds the counts of seconds `from`..`from + into.length - 1` into `into`. */
  addInto(into: Float64Array, from: number): void {
    const to = from + into.length - 1;
    for (let minute = Math.floor(from / 60); minute <= Math.floor(to / 60); minute++) {
      const slot = minute % MINUTES;
      const chunk = this.#chunks[slot];
      if (!chunk || this.#minutes[slot] !== minute) continue;
      const first = Math.max(from, minute * 60);
      const last = Math.min(to, minute * 60 + 59);
      for (let second = first; second <= last; second++) {
        into[second - from]! += chunk[second % 60]!;
      }
    }
  }

  /** Takes `other`'s counts out of these (a dropped queue out of the all-queues sums). */
  subtract(other: SecondCounts): void {
    for (let slot = 0; slot < MINUTES; slot++) {
      const mine = this.#chunks[slot];
      const theirs = other.#chunks[slot];
      if (!mine || !theirs || this.#minutes[slot] !== other.#minutes[slot]) continue;
      for (let index = 0; index < 60; index++) {
        mine[index] = Math.max(0, mine[index]! - theirs[index]!);
      }
    }
  }
}

/** The last SAMPLES backlog samples of one queue, oldest first. */
class Samples {
  readonly #seconds = new Float64Array(SAMPLES);
  readonly #values = new Float64Array(SAMPLES);
  #next = 0;
  #size = 0;

  add(second: number, value: number): void {
    const last = (this.#next + SAMPLES - 1) % SAMPLES;
    // A second round in the same second replaces the first.
    if (this.#size > 0 && this.#seconds[last] === second) {
      this.#values[last] = value;
      return;
    }
    this.#seconds[this.#next] = second;
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % SAMPLES;
    this.#size = Math.min(SAMPLES, this.#size + 1);
  }

  /** Adds, at each round of `rounds` (ascending), the latest sample at or before it. */
  addAtRounds(into: (number | null)[], from: number, rounds: readonly number[]): void {
    let index = 0;
    let latest: number | null = null;
    const oldest = (this.#next + SAMPLES - this.#size) % SAMPLES;
    for (const round of rounds) {
      while (index < this.#size) {
        const at = (oldest + index) % SAMPLES;
        if (this.#seconds[at]! > round) break;
        latest = this.#values[at]!;
        index++;
      }
      if (latest !== null) into[round - from] = (into[round - from] ?? 0) + latest;
    }
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
