/**
 * The chaos controller: two loops, one SIGKILLing the server and starting it again after a
 * random pause, one SIGKILLing a random worker child. They go on until the producers are done
 * and both kinds of kill reached their minimums; the producers are paced to spread the tasks
 * over the time the kills take (see `allowed`), so kills land while tasks flow rather than on
 * an idle queue.
 *
 * Timing (ms, uniform in each range, from the seeded generator):
 * - the server stays up 500-2500 after it listens, then is down 100-1500 before the restart
 *   (the start itself takes ~0.7 s here): a cycle of ~3 s;
 * - a worker child is killed every 300-1500: the pool forks a replacement after 100 ms, and
 *   ~1 s between kills leaves the replacement time to take work.
 * A child that finished a task since it started is preferred: the pool restarts those at once,
 * while a child that dies idle doubles its pool's restart delay (up to 10 s). If none has for
 * 3 s (all idle, or just forked) any live child is killed.
 */
import type { LedgerWriter } from './chaos-ledger.ts';
import type { WorkerFleet } from './chaos-fleet.ts';
import type { ChaosServer } from './chaos-server.ts';

export interface ChaosTiming {
  serverUpMs: [number, number];
  serverDownMs: [number, number];
  workerGapMs: [number, number];
}

export const DEFAULT_TIMING: ChaosTiming = {
  serverUpMs: [500, 2500],
  serverDownMs: [100, 1500],
  workerGapMs: [300, 1500],
};

const ANY_CHILD_AFTER_MS = 3000;
/** A server start as measured here (~0.7 s), for planning only. */
const SERVER_START_MS = 800;
/** A restart that fails (the port taken for a moment, a loaded machine) is tried again. */
const START_TRIES = 5;

export interface ControllerOptions {
  server: ChaosServer;
  fleet: WorkerFleet;
  ledger: LedgerWriter;
  serverKills: number;
  workerKills: number;
  timing: ChaosTiming;
  random: () => number;
  /** Aborted with the error when a loop fails (the server cannot be started again). */
  failed: AbortController;
}

export class ChaosController {
  readonly #options: ControllerOptions;
  serverKills = 0;
  workerKills = 0;
  #producersDone = false;
  #startedAt = performance.now();
  #loops: Promise<void> | undefined;

  constructor(options: ControllerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#loops = Promise.all([this.#serverLoop(), this.#workerLoop()]).then(
      () => {},
      (error: unknown) => {
        this.#options.failed.abort(error);
        throw error;
      },
    );
    // finish() reports the failure; until then it must not count as unhandled.
    this.#loops.catch(() => {});
  }

  /**
   * How many of `tasks` the producers may have inserted by now: an even share of the time the
   * kills are planned to take (so that work flows all through the chaos, and a kill finds
   * attempts running rather than an idle queue), and never more than the share of the kills
   * done so far plus one step (the lesser of the two kinds: so that the last tasks wait for the
   * last kills when the machine is slower than planned).
   */
  allowed(tasks: number): number {
    const { serverKills, workerKills } = this.#options;
    const share = Math.min(
      serverKills === 0 ? 1 : this.serverKills / serverKills,
      workerKills === 0 ? 1 : this.workerKills / workerKills,
    );
    const step = 1 / Math.max(4, serverKills, workerKills);
    const byKills = Math.min(1, share + step);
    const byTime = (performance.now() - this.#startedAt) / this.#plannedMs;
    return Math.ceil(tasks * Math.min(byKills, byTime));
  }

  /** The kills' planned duration: their count by the mean time each takes. */
  get #plannedMs(): number {
    const { timing, serverKills, workerKills } = this.#options;
    const mean = ([min, max]: [number, number]): number => (min + max) / 2;
    const serverCycleMs = mean(timing.serverUpMs) + mean(timing.serverDownMs) + SERVER_START_MS;
    return Math.max(1, serverKills * serverCycleMs, workerKills * mean(timing.workerGapMs));
  }

  /** Ends the chaos once the minimums are reached; resolves with the server up. */
  async finish(): Promise<void> {
    this.#producersDone = true;
    await this.#loops;
  }

  get #over(): boolean {
    return (
      this.#producersDone &&
      this.serverKills >= this.#options.serverKills &&
      this.workerKills >= this.#options.workerKills
    );
  }

  async #serverLoop(): Promise<void> {
    const { server, timing } = this.#options;
    while (!this.#over && !this.#options.failed.signal.aborted) {
      await sleep(this.#between(timing.serverUpMs));
      if (this.#over) break;
      // A crash (an exit nobody asked for) was recorded by the server; it is started again.
      if (server.running) {
        await server.kill();
        this.serverKills += 1;
        await sleep(this.#between(timing.serverDownMs));
      }
      await this.#restart();
    }
  }

  async #restart(): Promise<void> {
    for (let tries = 1; ; tries += 1) {
      try {
        await this.#options.server.start();
        return;
      } catch (error) {
        if (tries >= START_TRIES) throw error;
        await sleep(1000);
      }
    }
  }

  async #workerLoop(): Promise<void> {
    const { fleet, ledger, timing } = this.#options;
    let idleSince = performance.now();
    while (!this.#over && !this.#options.failed.signal.aborted) {
      await sleep(this.#between(timing.workerGapMs));
      if (this.#over) break;
      let candidates = fleet.children({ any: false });
      if (candidates.length === 0 && performance.now() - idleSince >= ANY_CHILD_AFTER_MS) {
        candidates = fleet.children({ any: true });
      }
      const pid = candidates[Math.floor(this.#options.random() * candidates.length)];
      if (pid === undefined) continue;
      fleet.forget(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        continue; // it exited on its own meanwhile: not a kill
      }
      ledger.write('K', { id: 'child', pid });
      this.workerKills += 1;
      idleSince = performance.now();
    }
  }

  #between([min, max]: [number, number]): number {
    return min + this.#options.random() * (max - min);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** mulberry32: a small seeded generator, so `--seed` repeats a run's kill timing. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
