/**
 * The worker's child processes: forks them, restarts one that dies, and picks the child with
 * the most free slots for each task.
 *
 * Restarts: a child that had finished at least one task since it started is restarted after
 * 100 ms, and the backoff starts over: it was doing work, so its death is an incident (the OOM
 * killer, an operator's kill), and its share of the slots is wanted back at once. A child that
 * died before finishing any task doubles the delay (up to 10 s): a handler that kills every
 * process it runs in must not make the pool fork in a tight loop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CHILD_CONFIG_ENV, type ChildConfig, type FromChild, type ToChild } from './protocol.ts';

const CHILD_ENTRY = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './child.ts' : './child.js', import.meta.url),
);

const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 10_000;

export interface ChildHandle {
  readonly pid: number;
  readonly process: ChildProcess;
  ready: boolean;
  draining: boolean;
  /** Keys of the deliveries this child runs. */
  readonly running: Set<number>;
  /** It reported a finished task (done or failed) since it started. */
  progressed: boolean;
}

export interface PoolEvents {
  message(child: ChildHandle, message: FromChild): void;
  /** A child exited; `expected` when the pool was stopping it. */
  exit(
    child: ChildHandle,
    code: number | null,
    signal: NodeJS.Signals | null,
    expected: boolean,
  ): void;
  ready(child: ChildHandle): void;
  loadFailed(message: string): void;
}

export class ChildPool {
  readonly #config: ChildConfig;
  readonly #processes: number;
  readonly #events: PoolEvents;
  readonly #children = new Set<ChildHandle>();
  readonly #exits = new Set<Promise<void>>();
  #stopping = false;
  #restartDelayMs = RESTART_FIRST_MS;
  #restartTimers = new Set<NodeJS.Timeout>();
  readonly #onOutput: ((line: string) => void) | undefined;

  /** `onOutput` gets each line the children write to stderr; without it they write to this
   * process's stderr themselves. */
  constructor(
    config: ChildConfig,
    processes: number,
    onOutput: ((line: string) => void) | undefined,
    events: PoolEvents,
  ) {
    this.#config = config;
    this.#processes = processes;
    this.#onOutput = onOutput;
    this.#events = events;
  }

  get children(): ChildHandle[] {
    return [...this.#children];
  }

  /** Forks every child; resolves once each loaded the handler module, rejects if one cannot. */
  async start(): Promise<void> {
    const started = Array.from({ length: this.#processes }, async () => this.#fork());
    await Promise.all(started);
  }

  /** The ready child with the most free slots, or null when every slot is taken. */
  freest(): ChildHandle | null {
    let best: ChildHandle | null = null;
    for (const child of this.#children) {
      if (!child.ready || child.draining) continue;
      if (best === null || child.running.size < best.running.size) best = child;
    }
    return best !== null && best.running.size < this.#config.concurrency ? best : null;
  }

  send(child: ChildHandle, message: ToChild): void {
    if (child.process.connected) child.process.send(message);
  }

  /** Tells every child to finish what it runs and exit; no child is restarted from now on. */
  drain(): void {
    this.#stopping = true;
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    for (const child of this.#children) {
      child.draining = true;
      this.send(child, { type: 'drain' });
    }
  }

  /** Kills every child still running (SIGKILL) and waits until all are gone. */
  async kill(): Promise<void> {
    this.drain();
    for (const child of this.#children) child.process.kill('SIGKILL');
    await this.exited();
  }

  /** Resolves once no child is left. */
  async exited(): Promise<void> {
    while (this.#exits.size > 0) await Promise.all([...this.#exits]);
  }

  #fork(): Promise<void> {
    const env = { ...process.env, [CHILD_CONFIG_ENV]: JSON.stringify(this.#config) };
    // execArgv carries type stripping and --conditions=pullq-source to the child.
    const proc = fork(CHILD_ENTRY, [], {
      serialization: 'advanced',
      execArgv: process.execArgv,
      env,
      stdio: ['ignore', 'inherit', this.#onOutput === undefined ? 'inherit' : 'pipe', 'ipc'],
    });
    if (proc.stderr !== null && this.#onOutput !== undefined) {
      const onOutput = this.#onOutput;
      createInterface({ input: proc.stderr, crlfDelay: Infinity }).on('line', onOutput);
    }
    const child: ChildHandle = {
      pid: proc.pid ?? -1,
      process: proc,
      ready: false,
      draining: this.#stopping,
      running: new Set(),
      progressed: false,
    };
    this.#children.add(child);
    let resolveExit!: () => void;
    const exit = new Promise<void>((resolve) => (resolveExit = resolve));
    this.#exits.add(exit);
    return new Promise<void>((resolve, reject) => {
      proc.on('message', (message: FromChild) => {
        if (message.type === 'ready') {
          child.ready = true;
          resolve();
          this.#events.ready(child);
        } else if (message.type === 'load-failed') {
          reject(new Error(`the handler module could not be loaded: ${message.message}`));
          this.#events.loadFailed(message.message);
        } else {
          if (message.type === 'done' || message.type === 'failed') child.progressed = true;
          this.#events.message(child, message);
        }
      });
      proc.on('error', () => {}); // a failed send to a dying child; 'exit' follows
      // The exit is handled once the IPC channel is closed too: only then has every message
      // the child sent before it exited (a last 'done') been read.
      let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      let disconnected = false;
      const gone = (): void => {
        if (exitStatus === null || !disconnected) return;
        this.#children.delete(child);
        const expected = this.#stopping;
        reject(
          new Error(
            `worker process ${child.pid} exited (${exitStatus.signal ?? exitStatus.code}) while starting`,
          ),
        );
        this.#events.exit(child, exitStatus.code, exitStatus.signal, expected);
        if (!expected && child.ready) this.#scheduleRestart(child.progressed);
        this.#exits.delete(exit);
        resolveExit();
      };
      proc.on('disconnect', () => {
        disconnected = true;
        gone();
      });
      proc.on('exit', (code, signal) => {
        exitStatus = { code, signal };
        disconnected ||= !proc.connected;
        gone();
      });
    });
  }

  #scheduleRestart(progressed: boolean): void {
    if (progressed) this.#restartDelayMs = RESTART_FIRST_MS;
    const delay = this.#restartDelayMs;
    this.#restartDelayMs = Math.min(RESTART_MAX_MS, this.#restartDelayMs * 2);
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (!this.#stopping) this.#fork().catch(() => this.#scheduleRestart(false));
    }, delay);
    this.#restartTimers.add(timer);
  }
}
