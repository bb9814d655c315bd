/**
 * The worker supervisors of a chaos run (chaos-worker.ts, one process each, forked with an
 * IPC channel) and what they report of their children: which are alive and which have
 * finished a task since they started. `stop()` asks each supervisor to stop (running
 * attempts finish, so every `D` is written before the ledger is read) and waits for it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  CHAOS_WORKER_ENTRY,
  type ChaosWorkerConfig,
  type FromChaosWorker,
} from './chaos-worker.ts';

/** A supervisor starts in ~1 s here (its children load the handler); generous for load. */
const START_TIMEOUT_MS = 60_000;
/** A stop waits for running attempts (at most CHAOS_WORK_MS each) and settles their acks,
 * retried for about 8 s; a supervisor slower than this is killed and the run fails. */
const STOP_TIMEOUT_MS = 60_000;

interface Supervisor {
  process: ChildProcess;
  exited: Promise<unknown>;
  stopped: { processed: number; redelivered: number; leaseLost: number } | null;
}

export interface FleetReport {
  processed: number;
  redelivered: number;
  leaseLost: number;
}

export class WorkerFleet {
  readonly #supervisors: Supervisor[] = [];
  /** Live children: pid -> has finished a task since it started. */
  readonly #children = new Map<number, boolean>();
  readonly #everyChild = new Set<number>();

  /** Forks `count` supervisors and waits until each has its children running. */
  async start(count: number, config: ChaosWorkerConfig): Promise<void> {
    const env = {
      ...process.env,
      CHAOS_LEDGER_DIR: config.dir,
      CHAOS_WORK_MS: String(config.workMs),
    };
    const starts = Array.from({ length: count }, async () => {
      const child = fork(CHAOS_WORKER_ENTRY, [JSON.stringify(config)], {
        env,
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      const supervisor: Supervisor = { process: child, exited: once(child, 'exit'), stopped: null };
      child.on('error', () => {}); // a send to a supervisor that just died; its exit tells
      this.#supervisors.push(supervisor);
      const started = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`a chaos worker did not start in ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        );
        void supervisor.exited.then(() => {
          clearTimeout(timer);
          reject(new Error('a chaos worker exited while starting'));
        });
        child.on('message', (message: FromChaosWorker) => {
          if (message.type === 'started') {
            clearTimeout(timer);
            resolve();
          }
          this.#onMessage(supervisor, message);
        });
      });
      await started;
    });
    await Promise.all(starts);
  }

  /** Live children that finished a task since they started; all live ones when `any`. */
  children(options: { any: boolean }): number[] {
    return [...this.#children]
      .filter(([, progressed]) => options.any || progressed)
      .map(([pid]) => pid);
  }

  /** Every supervisor and child process started, for the check that none is left running. */
  pids(): number[] {
    const supervisors = this.#supervisors.map((supervisor) => supervisor.process.pid ?? -1);
    return [...supervisors, ...this.#everyChild];
  }

  /** The controller killed it: no longer a candidate, whatever its supervisor says next. */
  forget(pid: number): void {
    this.#children.delete(pid);
  }

  async stop(): Promise<FleetReport> {
    for (const { process: child } of this.#supervisors) {
      // One that died already is found out below: it has no report.
      if (child.connected) child.send({ type: 'stop' });
    }
    const all = Promise.all(this.#supervisors.map(async (supervisor) => supervisor.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([all, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      await this.kill();
      throw new Error(`a chaos worker did not stop in ${STOP_TIMEOUT_MS} ms`);
    }
    const report: FleetReport = { processed: 0, redelivered: 0, leaseLost: 0 };
    for (const { stopped } of this.#supervisors) {
      if (stopped === null) throw new Error('a chaos worker exited without its report');
      report.processed += stopped.processed;
      report.redelivered += stopped.redelivered;
      report.leaseLost += stopped.leaseLost;
    }
    return report;
  }

  /** SIGKILL to every supervisor still running (its children exit when it is gone). */
  async kill(): Promise<void> {
    for (const supervisor of this.#supervisors) {
      const child = supervisor.process;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await Promise.all(this.#supervisors.map(async (supervisor) => supervisor.exited));
  }

  #onMessage(supervisor: Supervisor, message: FromChaosWorker): void {
    switch (message.type) {
      case 'child-start':
        this.#children.set(message.pid, false);
        this.#everyChild.add(message.pid);
        break;
      case 'child-progressed':
        if (this.#children.has(message.pid)) this.#children.set(message.pid, true);
        break;
      case 'child-exit':
        this.#children.delete(message.pid);
        break;
      case 'stopped':
        supervisor.stopped = message;
        break;
      default:
        break;
    }
  }
}
