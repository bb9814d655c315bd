/**
 * Coalesces concurrent `put`s into insert requests: a put goes out at once when fewer than
 * MAX_INSERTS_IN_FLIGHT inserts of its queue are under way, and otherwise waits for one of
 * them to answer, then goes out with every put that came meanwhile (up to LIMITS.maxBatch to a
 * request). A lone put pays no wait; 32 puts in flight from one producer cost a handful of
 * requests instead of 32. Puts made in the same turn of the event loop go out together.
 *
 * Each put still gets its own result (a refused name fails only its own put), and a request
 * that fails as a whole fails every put in it with the same error.
 */
import type { NewTask } from '../backends/backend.ts';
import { PullqError } from '../protocol/errors.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { PutResult } from './put.ts';

/** Insert requests a queue keeps under way at once (docs/decisions.md). */
export const MAX_INSERTS_IN_FLIGHT = 2;

interface PendingPut {
  task: NewTask;
  resolve(result: PutResult): void;
  reject(error: unknown): void;
}

export class PutBatcher {
  readonly #send: (tasks: NewTask[]) => Promise<PutResult[]>;
  readonly #settled: () => void;
  readonly #pending: PendingPut[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #idle: (() => void)[] = [];

  /**
   * `send`: one insert request, one result per task in order. `settled`: called after each
   * request answers (the owner may have nothing left to track).
   */
  constructor(send: (tasks: NewTask[]) => Promise<PutResult[]>, settled: () => void) {
    this.#send = send;
    this.#settled = settled;
  }

  /** Nothing waits to be sent and no insert is under way. */
  get idle(): boolean {
    return this.#pending.length === 0 && this.#inFlight === 0;
  }

  put(task: NewTask): Promise<PutResult> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ task, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    });
  }

  /** Resolves once every put made so far has its answer. */
  async flush(): Promise<void> {
    if (this.idle) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < MAX_INSERTS_IN_FLIGHT && this.#pending.length > 0) {
      const batch = this.#pending.splice(0, LIMITS.maxBatch);
      this.#inFlight += 1;
      void this.#sendBatch(batch);
    }
  }

  async #sendBatch(batch: PendingPut[]): Promise<void> {
    try {
      const results = await this.#send(batch.map((pending) => pending.task));
      for (const [index, pending] of batch.entries()) {
        const result = results[index];
        if (result === undefined)
          pending.reject(new PullqError('internal', 'insert answered too few results'));
        else pending.resolve(result);
      }
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.#inFlight -= 1;
      this.#pump();
      if (this.idle) for (const resolve of this.#idle.splice(0)) resolve();
      this.#settled();
    }
  }
}
