/**
 * The runner's handle on one producer or consumer process (role.ts): start it, ask it to do
 * something and wait for its answer, stop it. Each request gets exactly one answer, in order;
 * an `error` from the process or its exit fails the request waiting (or the next one).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RECORD_DIR_ENV } from './recorder.ts';
import type { FromRole, RoleInit, ToRole } from './role-protocol.ts';

const ROLE_ENTRY = fileURLToPath(new URL('./role.ts', import.meta.url));
/** A consumer's close waits for its running handlers and acks: generous on a loaded machine. */
const STOP_TIMEOUT_MS = 60_000;

export class RoleProcess {
  readonly init: RoleInit;
  readonly #child: ChildProcess;
  readonly #answers: FromRole[] = [];
  readonly #waiting: { resolve(message: FromRole): void; reject(error: Error): void }[] = [];
  readonly #exited: Promise<void>;
  #failure: Error | null = null;

  private constructor(init: RoleInit) {
    this.init = init;
    this.#child = fork(ROLE_ENTRY, [JSON.stringify(init)], {
      // The runner's flags (type stripping, --conditions=pullq-source) carry over.
      execArgv: process.execArgv,
      env: { ...process.env, [RECORD_DIR_ENV]: init.recordDir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (message: FromRole) => this.#receive(message));
    this.#exited = once(this.#child, 'exit').then(([code, signal]) => {
      this.#fail(new Error(`the ${init.role} process exited (${String(signal ?? code)})`));
    });
  }

  /** Starts the process and waits until it loaded its contender (and opened its producer). */
  static async start(init: RoleInit): Promise<RoleProcess> {
    const role = new RoleProcess(init);
    try {
      await role.#next('ready');
    } catch (error) {
      role.kill();
      throw error;
    }
    return role;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Sends `message` and waits for its answer of type `answer`. */
  async request<T extends FromRole['type']>(
    message: ToRole,
    answer: T,
  ): Promise<Extract<FromRole, { type: T }>> {
    const reply = this.#next(answer);
    if (this.#child.connected) this.#child.send(message);
    return reply;
  }

  /** Asks the process to close and exit; kills it if it has not in STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const timer = setTimeout(() => this.kill(), STOP_TIMEOUT_MS);
    try {
      await this.request({ type: 'stop' }, 'stopped').catch(() => undefined);
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
    }
  }

  async #next<T extends FromRole['type']>(type: T): Promise<Extract<FromRole, { type: T }>> {
    const message = await new Promise<FromRole>((resolve, reject) => {
      const ready = this.#answers.shift();
      if (ready !== undefined) resolve(ready);
      else if (this.#failure !== null) reject(this.#failure);
      else this.#waiting.push({ resolve, reject });
    });
    if (message.type === 'error') {
      throw new Error(
        `the ${this.init.role} process of ${this.init.contender} failed: ${message.message}`,
      );
    }
    if (message.type !== type) {
      throw new Error(`the ${this.init.role} process answered ${message.type}, expected ${type}`);
    }
    return message as Extract<FromRole, { type: T }>;
  }

  #receive(message: FromRole): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter.resolve(message);
    else this.#answers.push(message);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}
