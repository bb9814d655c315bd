/**
 * Worker: the supervisor of a multi-process worker. It never runs user code: it leases tasks
 * (into a prefetch buffer sized apart from concurrency: ./prefetch.ts), hands each to the
 * child process with the most free slots, renews the leases of everything buffered or running
 * before they end, and acks or releases each task by what its child reports. So a handler
 * that blocks its child's event loop keeps its lease, and a child that dies has its tasks
 * handed at once to a live child (their leases are still held, so they need not queue up
 * behind the backlog).
 *
 *   const worker = new Worker({ connection, queue: 'emails', handler: './tasks.ts' });
 *   await worker.start();
 *   ...
 *   const report = await worker.stop();
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { Capabilities, LeasedTask } from '../backends/backend.ts';
import type { Connection } from '../client/connection.ts';
import { sleep } from '../client/waits.ts';
import { PullqError } from '../protocol/errors.ts';
import { LIMITS } from '../protocol/limits.ts';
import { Crashes, MAX_REDELIVERIES } from './crashes.ts';
import { LeaseKeeper, type Held } from './lease-keeper.ts';
import { outcomeOf } from './policy.ts';
import { PrefetchTarget } from './prefetch.ts';
import { workerQueueInfo } from './queue-info.ts';
import { ChildPool, type ChildHandle } from './pool.ts';
import type { FromChild, Run } from './protocol.ts';
import { Settler } from './settler.ts';
import type { StopReport, WorkerEvents, WorkerStats } from './worker-events.ts';
import {
  resolveWorkerOptions,
  type ResolvedWorkerOptions,
  type WorkerOptions,
} from './worker-options.ts';

export type { WorkerOptions } from './worker-options.ts';

/** A lease a long-poll waits at most, so a dropped connection costs at most this much. */
const LONG_POLL_SECONDS = 20;

export class Worker extends EventEmitter<WorkerEvents> {
  readonly queue: string;
  readonly #connection: Connection;
  readonly #options: ResolvedWorkerOptions;
  readonly #logger: Logger;
  readonly #settler: Settler;
  readonly #buffer: Held[] = [];
  readonly #running = new Map<number, Held>();
  readonly #stopping = new AbortController();
  readonly #counts = {
    processed: 0,
    failed: 0,
    retried: 0,
    dead: 0,
    released: 0,
    redelivered: 0,
    leaseLost: 0,
  };
  readonly #crashes = new Crashes();
  readonly #prefetch: PrefetchTarget;
  #keeper: LeaseKeeper | undefined;
  #pool: ChildPool | undefined;
  #capabilities: Capabilities | undefined;
  #maxLeases: number | null = null;
  #nextKey = 1;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stop: Promise<StopReport> | undefined;
  #force: (() => void) | undefined;
  #forced = false;
  #resolveDone!: (report: StopReport) => void;
  /** Resolves with the stop report once the worker has stopped (by stop() or `once`). */
  readonly done: Promise<StopReport> = new Promise((resolve) => (this.#resolveDone = resolve));

  constructor(options: WorkerOptions) {
    super();
    const resolved = resolveWorkerOptions(options);
    this.queue = resolved.queue;
    this.#connection = resolved.connection;
    this.#options = resolved;
    this.#prefetch = new PrefetchTarget(
      resolved.prefetch,
      resolved.processes * resolved.concurrency,
      performance.now(),
    );
    this.#logger =
      resolved.logger ??
      pino({ level: resolved.logLevel, name: 'pullq-worker' }, pino.destination(2));
    this.#settler = new Settler(this.#connection, this.queue, {
      leaseLost: (id, verb) => {
        this.#counts.leaseLost += 1;
        this.#logger.warn({ task: id, verb }, 'lease lost before the task was settled');
        this.emit('lease-lost', { id });
      },
      batchFailed: (verb, count, error) => {
        this.#logger.error({ verb, count, err: error }, 'settling failed; the leases will run out');
      },
    });
  }

  /** Reads the queue's settings, forks the children and starts leasing. */
  async start(): Promise<void> {
    if (this.#pool !== undefined)
      throw new PullqError('invalid_argument', 'the worker was started');
    const info = await workerQueueInfo(this.#connection, this.queue);
    this.#maxLeases = info.maxLeases;
    this.#capabilities = (await this.#connection.connect()).capabilities;
    this.#pool = new ChildPool(
      {
        handler: this.#options.handler,
        concurrency: this.#options.concurrency,
        logLevel: this.#options.logLevel,
      },
      this.#options.processes,
      this.#options.onChildOutput,
      {
        message: (child, message) => this.#onMessage(child, message),
        exit: (child, code, signal, expected) => this.#onExit(child, code, signal, expected),
        ready: (child) => {
          this.emit('child-start', { pid: child.pid });
          this.#dispatch();
        },
        loadFailed: (message) => this.#logger.error({ message }, 'handler module failed to load'),
      },
    );
    try {
      await this.#pool.start();
    } catch (error) {
      await this.#pool.kill();
      throw error;
    }
    this.#keeper = new LeaseKeeper(this.#connection, this.queue, this.#options.leaseSeconds, {
      held: () => [...this.#buffer, ...this.#running.values()],
      renewed: (count) => this.emit('renewed', { count }),
      lost: (held) => {
        const index = this.#buffer.indexOf(held);
        // A renewal that answers after its task was settled finds the task gone: no loss.
        if (index < 0 && this.#running.get(held.key) !== held) return;
        this.#counts.leaseLost += 1;
        if (index >= 0) this.#buffer.splice(index, 1);
        this.#logger.warn({ task: held.task.id }, 'lease lost while held');
        this.emit('lease-lost', { id: held.task.id });
      },
      failed: (error) => this.#logger.error({ err: error }, 'lease renewal failed'),
    });
    this.#keeper.start();
    this.#loop = this.#leaseLoop();
  }

  /**
   * Stops: no more leases, the buffer given back at once, running handlers given
   * `graceSeconds` to finish (acked or released as they do). `force` (or a second call with
   * it) aborts running handlers, releases their tasks and kills the children.
   */
  async stop(options: { force?: boolean } = {}): Promise<StopReport> {
    if (options.force === true) {
      this.#forced = true;
      this.#force?.();
    }
    this.#stop ??= this.#shutdown();
    return this.#stop;
  }

  stats(): WorkerStats {
    return {
      ...this.#counts,
      renewals: this.#keeper?.renewals ?? 0,
      inFlight: this.#running.size,
      buffered: this.#buffer.length,
      pids: (this.#pool?.children ?? []).map((child) => child.pid),
    };
  }

  async #leaseLoop(): Promise<void> {
    const signal = this.#stopping.signal;
    const longPoll = this.#capabilities?.longPoll === true && !this.#options.once;
    while (!signal.aborted) {
      const prefetch = this.#prefetch.limit(performance.now());
      if (this.#buffer.length > prefetch / 2) {
        await this.#waitForWake(1000);
        continue;
      }
      const max = Math.min(prefetch - this.#buffer.length, LIMITS.maxTasksPerLease);
      const startedAt = this.#connection.options.clock.now();
      let tasks: LeasedTask[];
      try {
        tasks = await this.#connection.ensure(
          async (backend) =>
            backend.lease(this.queue, {
              max,
              leaseSeconds: this.#options.leaseSeconds,
              ...(longPoll ? { waitSeconds: LONG_POLL_SECONDS, signal } : {}),
            }),
          signal,
        );
      } catch (error) {
        if (signal.aborted) break;
        this.#logger.error({ err: error }, 'lease failed; trying again in 1 s');
        await sleep(1000, signal);
        continue;
      }
      const expiresAt = startedAt + this.#options.leaseSeconds * 1000;
      for (const task of tasks) {
        this.#buffer.push({ key: this.#nextKey++, task, expiresAt, child: null, sentAt: 0 });
      }
      this.#dispatch();
      if (tasks.length > 0) continue;
      if (this.#options.once) {
        if (this.#buffer.length === 0 && this.#running.size === 0) {
          // A release still on its way can make a task ready again: let it land, then look.
          if (!this.#settler.idle) {
            await this.#settler.flush();
            continue;
          }
          void this.stop();
          return;
        }
        await this.#waitForWake(100);
      } else if (!longPoll) {
        await sleep(this.#connection.options.pollingInterval * 1000, signal);
      }
    }
  }

  #waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#stopping.signal.removeEventListener('abort', done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stopping.signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  #dispatch(): void {
    const pool = this.#pool;
    if (pool === undefined) return;
    const batches = new Map<ChildHandle, Run[]>();
    const now = performance.now();
    const buffered = this.#buffer.length;
    while (this.#buffer.length > 0) {
      const child = pool.freest();
      if (child === null) break;
      const held = this.#buffer.shift() as Held;
      held.child = child;
      held.sentAt = now;
      child.running.add(held.key);
      this.#running.set(held.key, held);
      const { id, queue, payload, tag, attempts, enqueuedAt } = held.task;
      const task = { id, queue, payload, tag, attempts, enqueuedAt };
      const runs = batches.get(child);
      if (runs === undefined) batches.set(child, [{ key: held.key, task }]);
      else runs.push({ key: held.key, task });
    }
    for (const [child, runs] of batches) {
      pool.send(child, { type: 'run', runs, timeoutSeconds: this.#options.timeoutSeconds });
    }
    this.#prefetch.started(buffered - this.#buffer.length, now);
    if (this.#buffer.length <= this.#prefetch.limit(now) / 2) this.#wake?.();
  }

  /** The task left its child: its slot is free. */
  #finish(held: Held): void {
    this.#free(held);
    this.#dispatch();
    this.#wake?.();
  }

  #free(held: Held): void {
    this.#running.delete(held.key);
    held.child?.running.delete(held.key);
  }

  /** The handler resolved: ack. The caller dispatches into the freed slots. */
  #done(child: ChildHandle, key: number): void {
    const held = this.#running.get(key);
    if (held === undefined) return; // released already (forced stop, lost child)
    this.#free(held);
    const { id, attempts } = held.task;
    this.#counts.processed += 1;
    const durationMs = performance.now() - held.sentAt;
    void this.#settler.ack({ id, token: held.task.leaseToken }).then((acked) => {
      this.emit('processed', { id, attempts, pid: child.pid, acked, durationMs });
    });
  }

  #onMessage(child: ChildHandle, message: FromChild): void {
    if (message.type === 'extend') {
      void this.#extendFor(child, message.key, message.requestId, message.seconds);
      return;
    }
    if (message.type === 'done') {
      for (const key of message.keys) this.#done(child, key);
      this.#dispatch();
      this.#wake?.();
      return;
    }
    if (message.type !== 'failed') return;
    const held = this.#running.get(message.key);
    if (held === undefined) return; // released already (forced stop, lost child)
    this.#finish(held);
    const { id, attempts } = held.task;
    const ref = { id, token: held.task.leaseToken };
    const durationMs = performance.now() - held.sentAt;
    const { failure } = message;
    this.#counts.failed += 1;
    this.emit('failed', { id, attempts, pid: child.pid, error: failure.message, durationMs });
    const outcome = outcomeOf(ref, attempts, failure, this.#maxLeases, this.#options.backoff);
    if (outcome.kind === 'dead') this.#counts.dead += 1;
    else this.#counts.retried += 1;
    void this.#settler.release(outcome.release).then(() => {
      if (outcome.kind === 'dead') this.emit('dead', { id, attempts, error: failure.message });
      else this.emit('retried', { id, attempts, delayMs: outcome.delayMs });
    });
  }

  async #extendFor(
    child: ChildHandle,
    key: number,
    requestId: number,
    seconds: number,
  ): Promise<void> {
    const held = this.#running.get(key);
    let error: string | null = null;
    if (held === undefined) {
      error = 'the task is no longer held by this worker';
    } else {
      try {
        await this.#keeper?.extend(held, seconds);
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
    }
    this.#pool?.send(child, { type: 'extended', requestId, error });
  }

  #onExit(
    child: ChildHandle,
    code: number | null,
    signal: NodeJS.Signals | null,
    expected: boolean,
  ): void {
    const lost = [...child.running]
      .map((key) => this.#running.get(key))
      .filter((held) => held !== undefined);
    this.emit('child-exit', {
      pid: child.pid,
      code,
      signal,
      expected,
      tasks: lost.map((held) => held.task.id),
    });
    if (!expected || lost.length > 0) {
      this.#logger.warn(
        { pid: child.pid, code, signal, tasks: lost.length },
        'worker process exited',
      );
    }
    const note = `worker process ${child.pid} died (${signal ?? `exit code ${code}`})`;
    const redeliver: Held[] = [];
    for (const held of lost) {
      this.#running.delete(held.key);
      const crashes = this.#crashes.record(held, note);
      // Once stopping, the buffer has been given back already: a task put there would be
      // renewed by nobody and released by nobody.
      if (this.#stopping.signal.aborted || crashes > MAX_REDELIVERIES) {
        this.#counts.released += 1;
        const ref = { id: held.task.id, token: held.task.leaseToken };
        void this.#settler.release({ ref, delaySeconds: 0, error: note });
        continue;
      }
      // The handler sees the same attempt number: the server counted no new lease. A new key,
      // because a key names one delivery to one child.
      held.child = null;
      held.key = this.#nextKey++;
      redeliver.push(held);
      this.#counts.redelivered += 1;
      this.emit('redelivered', { id: held.task.id, pid: child.pid, crashes });
    }
    if (redeliver.length > 0) {
      this.#logger.warn(
        { pid: child.pid, tasks: redeliver.map((held) => held.task.id) },
        'tasks of the dead worker process handed to the others',
      );
    }
    // At the front: they were leased before anything buffered, and the 2 s a dead child's task
    // may wait for its next try is far shorter than a deep buffer takes to drain.
    this.#buffer.unshift(...redeliver);
    this.#dispatch();
    this.#wake?.();
  }

  async #shutdown(): Promise<StopReport> {
    this.#stopping.abort();
    await this.#loop;
    const buffered = this.#buffer.splice(0);
    await Promise.all(
      buffered.map(async (held) => {
        // A task back from a dead child keeps the note of its crash for the dashboard.
        const note = this.#crashes.noteOf(held);
        const ref = { id: held.task.id, token: held.task.leaseToken };
        return this.#settler.release(note === undefined ? { ref } : { ref, error: note });
      }),
    );
    this.#counts.released += buffered.length;
    const pool = this.#pool;
    const aborted: string[] = [];
    if (pool !== undefined) {
      pool.drain();
      const forced = new Promise<void>((resolve) => {
        this.#force = resolve;
        if (this.#forced) resolve();
      });
      let grace: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        grace = setTimeout(resolve, this.#options.graceSeconds * 1000);
      });
      await Promise.race([pool.exited(), forced, graceOver]);
      clearTimeout(grace);
      for (const held of [...this.#running.values()]) {
        aborted.push(held.task.id);
        if (held.child !== null) {
          pool.send(held.child, { type: 'abort', key: held.key, reason: 'the worker is stopping' });
        }
        this.#finish(held);
        const ref = { id: held.task.id, token: held.task.leaseToken };
        void this.#settler.release({
          ref,
          delaySeconds: 0,
          error: 'the worker stopped before the attempt finished',
        });
      }
      this.#counts.released += aborted.length;
      await pool.kill();
    }
    this.#keeper?.stop();
    await this.#settler.flush();
    const report: StopReport = {
      forced: aborted.length > 0,
      releasedBuffered: buffered.map((held) => held.task.id),
      releasedRunning: aborted,
    };
    this.emit('stopped', report);
    this.#resolveDone(report);
    return report;
  }
}
