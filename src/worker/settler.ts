/**
 * Settles leases in batches: acks (and releases) of tasks that finish within the same few ms
 * go out as one backend call of up to 1000, which is what lets a worker of many small tasks
 * outrun one ack round trip per task. Every item is fenced by its lease token; a lost lease
 * comes back as `false`, never a throw.
 */
import type { LeaseRef, ReleaseRequest } from '../backends/backend.ts';
import type { Connection } from '../client/connection.ts';
import { LIMITS } from '../protocol/limits.ts';

/** How long a settle waits for company before its batch goes out. */
const BATCH_WINDOW_MS = 2;

interface Pending<T> {
  item: T;
  resolve(settled: boolean): void;
}

export interface SettlerEvents {
  /** A settle that found its lease gone (the task ran past its lease and was leased again). */
  leaseLost(id: string, verb: 'ack' | 'release', reason: string): void;
  /** A whole batch failed after the connection's retries; its leases will run out. */
  batchFailed(verb: 'ack' | 'release', count: number, error: unknown): void;
}

export class Settler {
  readonly #connection: Connection;
  readonly #queue: string;
  readonly #events: SettlerEvents;
  readonly #acks: Pending<LeaseRef>[] = [];
  readonly #releases: Pending<ReleaseRequest>[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #flushing = new Set<Promise<void>>();

  constructor(connection: Connection, queue: string, events: SettlerEvents) {
    this.#connection = connection;
    this.#queue = queue;
    this.#events = events;
  }

  /** Resolves true once acked, false when the lease was lost or the call failed. */
  ack(ref: LeaseRef): Promise<boolean> {
    return this.#add(this.#acks, ref);
  }

  release(request: ReleaseRequest): Promise<boolean> {
    return this.#add(this.#releases, request);
  }

  /** Nothing waits to be sent and no batch is under way. */
  get idle(): boolean {
    return this.#acks.length === 0 && this.#releases.length === 0 && this.#flushing.size === 0;
  }

  /** Sends everything pending now and waits for every batch under way. */
  async flush(): Promise<void> {
    this.#sendAll();
    while (this.#flushing.size > 0) await Promise.all([...this.#flushing]);
  }

  #add<T>(list: Pending<T>[], item: T): Promise<boolean> {
    return new Promise((resolve) => {
      list.push({ item, resolve });
      if (list.length >= LIMITS.maxBatch) this.#sendAll();
      else this.#timer ??= setTimeout(() => this.#sendAll(), BATCH_WINDOW_MS);
    });
  }

  #sendAll(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#acks.length > 0) {
      this.#track(this.#send('ack', this.#acks.splice(0, LIMITS.maxBatch)));
    }
    while (this.#releases.length > 0) {
      this.#track(this.#send('release', this.#releases.splice(0, LIMITS.maxBatch)));
    }
  }

  #track(promise: Promise<void>): void {
    this.#flushing.add(promise);
    void promise.finally(() => this.#flushing.delete(promise));
  }

  async #send(verb: 'ack', batch: Pending<LeaseRef>[]): Promise<void>;
  async #send(verb: 'release', batch: Pending<ReleaseRequest>[]): Promise<void>;
  async #send(verb: 'ack' | 'release', batch: Pending<LeaseRef | ReleaseRequest>[]): Promise<void> {
    try {
      // A retried call whose first try landed finds its leases settled already: on a later
      // attempt, a lost lease or a missing task means the first try did the work.
      const results = await this.#connection.ensure(async (backend, attempt) => {
        const answers =
          verb === 'ack'
            ? await backend.ack(
                this.#queue,
                batch.map((pending) => pending.item as LeaseRef),
              )
            : await backend.release(
                this.#queue,
                batch.map((pending) => pending.item as ReleaseRequest),
              );
        return answers.map((answer) => answer.ok || attempt > 1);
      });
      for (const [index, pending] of batch.entries()) {
        const settled = results[index] ?? false;
        if (!settled) {
          const id = 'ref' in pending.item ? pending.item.ref.id : pending.item.id;
          this.#events.leaseLost(id, verb, 'the lease was lost before it was settled');
        }
        pending.resolve(settled);
      }
    } catch (error) {
      this.#events.batchFailed(verb, batch.length, error);
      for (const pending of batch) pending.resolve(false);
    }
  }
}
