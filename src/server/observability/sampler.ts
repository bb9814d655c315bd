/**
 * The backlog sampler: in rounds every few seconds, the backlog (ready + delayed) of each
 * queue touched or viewed in the last WATCH_MINUTES goes into the history (./history.ts), and
 * the dead letters that leases made are looked for (./lease-watch.ts).
 *
 * Why not every queue every second: stats count rows, so their cost grows with the queues and
 * their sizes (measured: 22 ms for 1,000 queues of 100 tasks on SQLite, 8 ms for one queue of
 * 100,000). Rounds every 5 s over recently used queues keep that under 0.5% of a core for
 * 1,000 busy queues, and an idle server reads nothing. A queue nobody uses keeps its last
 * sample in the sums (its backlog only moves when a lease runs out).
 */
import type { Backend, Clock, QueueInfo } from '../../backends/backend.ts';
import type { Activity } from './activity.ts';
import type { StatsCache } from './stats-cache.ts';

export const DEFAULT_SAMPLE_SECONDS = 5;
/** A queue is sampled until this long after a request last touched or viewed it. */
const WATCH_MINUTES = 10;
/** Tasks looked up per round for dead letters made by leases. */
const CHECKS_PER_ROUND = 200;
/** Stats read within this long (and not changed since) are used as they are. */
const FRESH_MS = 1000;

export interface SamplerOptions {
  activity: Activity;
  stats: StatsCache;
  /** The store itself: these reads are not requests. */
  backend: Backend;
  clock: Clock;
  /** Seconds between rounds; 0: rounds run only when `round()` is called. */
  intervalSeconds: number;
  /** A round that failed (the store is unreachable); the next one tries again. */
  onError: (error: unknown) => void;
}

export class Sampler {
  readonly #options: SamplerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;

  constructor(options: SamplerOptions) {
    this.#options = options;
  }

  start(): void {
    const { intervalSeconds, onError } = this.#options;
    if (intervalSeconds <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.#running === null) this.round().catch(onError);
    }, intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** Stops the rounds; resolves once a round in progress has ended. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /** One round now (or the one in progress). */
  round(): Promise<void> {
    this.#running ??= this.#round().finally(() => (this.#running = null));
    return this.#running;
  }

  async #round(): Promise<void> {
    const { activity, stats, clock } = this.#options;
    const now = clock.now();
    const queues = activity.touchedSince(now - WATCH_MINUTES * 60_000);
    const read = await stats.many(queues, FRESH_MS);
    activity.history.round(now);
    for (const queue of queues) {
      const found = read.get(queue);
      if (found) activity.history.sample(queue, found.ready + found.delayed, now);
      // Deleted through another server sharing the store.
      else activity.drop(queue);
    }
    await this.#findDeadLetters(now);
  }

  /** Watched leases past the queue's maxLeases that ended without an ack: dead-lettered yet? */
  async #findDeadLetters(now: number): Promise<void> {
    const { activity, backend } = this.#options;
    const due = activity.leases.due(now, CHECKS_PER_ROUND);
    const infos = new Map<string, QueueInfo | null>();
    for (const { queue, id, lease } of due) {
      if (!infos.has(queue)) infos.set(queue, await backend.getQueue(queue));
      const info = infos.get(queue);
      if (!info) {
        activity.leases.dropQueue(queue);
        continue;
      }
      // Below maxLeases the task is leased again, not dead-lettered: counted then.
      if (info.maxLeases === null || lease.attempts < info.maxLeases) continue;
      const task = await backend.get(queue, id);
      const dead = task === null ? info.deadLetterQueue !== null : task.state === 'dead';
      if (dead) {
        activity.count(queue, 'deadLettered', 1, now);
        if (!lease.released) activity.count(queue, 'leaseExpiries', 1, now);
        if (info.deadLetterQueue !== null) activity.changed(info.deadLetterQueue, now);
      }
      // Settled (dead, acked or deleted elsewhere) or leased again elsewhere: not ours now.
      if (task === null || dead || task.attempts > lease.attempts) {
        activity.leases.ended(queue, id);
      }
    }
  }
}
