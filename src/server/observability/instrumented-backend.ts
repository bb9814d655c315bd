/**
 * The server's backend with counting around it: buildServer puts it between every route (native
 * and v1beta2) and the store, so routes count nothing themselves. Each verb is passed through
 * unchanged (same arguments, results and errors); around it this times the call and counts,
 * in ./activity.ts, the tasks it succeeded on. Stats read through it are handed to the stats
 * cache (./stats-cache.ts), so a user's `stats` request also refreshes what `/metrics` shows.
 */
import type {
  Backend,
  Capabilities,
  Clock,
  InsertOptions,
  ItemResult,
  LeaseRef,
  LeaseRequest,
  LeasedTask,
  ListRequest,
  NewTask,
  QueueConfig,
  QueueInfo,
  QueueStats,
  RedriveRequest,
  ReleaseRequest,
  Task,
  TaskPage,
} from '../../backends/backend.ts';
import type { Activity } from './activity.ts';
import type { StatsCache } from './stats-cache.ts';

/** The verbs whose durations are observed. `lease_wait`: a lease with waitSeconds > 0, whose
 * duration is mostly the wait. */
export type TimedOperation = 'insert' | 'lease' | 'lease_wait' | 'ack' | 'extend' | 'release';
export const TIMED_OPERATIONS: readonly TimedOperation[] = [
  'insert',
  'lease',
  'lease_wait',
  'ack',
  'extend',
  'release',
];

export interface InstrumentedBackendOptions {
  activity: Activity;
  stats: StatsCache;
  clock: Clock;
  /** Called with each timed call's duration in seconds, failed calls included. */
  observe: (operation: TimedOperation, seconds: number) => void;
}

export class InstrumentedBackend implements Backend {
  readonly #inner: Backend;
  readonly #activity: Activity;
  readonly #stats: StatsCache;
  readonly #clock: Clock;
  readonly #observe: InstrumentedBackendOptions['observe'];

  constructor(inner: Backend, options: InstrumentedBackendOptions) {
    this.#inner = inner;
    this.#activity = options.activity;
    this.#stats = options.stats;
    this.#clock = options.clock;
    this.#observe = options.observe;
  }

  get capabilities(): Capabilities {
    return this.#inner.capabilities;
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options?: InsertOptions,
  ): Promise<ItemResult<Task>[]> {
    const started = performance.now();
    let results: ItemResult<Task>[];
    try {
      results = await this.#inner.insert(queue, tasks, options);
    } finally {
      this.#took('insert', started);
    }
    this.#activity.count(queue, 'inserted', okCount(results), this.#clock.now());
    return results;
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    const waits = (request.waitSeconds ?? 0) > 0;
    if (waits) this.#activity.waiters++;
    const started = performance.now();
    let tasks: LeasedTask[];
    try {
      tasks = await this.#inner.lease(queue, request);
    } finally {
      this.#took(waits ? 'lease_wait' : 'lease', started);
      if (waits) this.#activity.waiters--;
    }
    const now = this.#clock.now();
    const leases = this.#activity.leases;
    leases.leaseCalled(queue);
    let expired = 0;
    for (const task of tasks) if (leases.leased(queue, task)) expired++;
    this.#activity.count(queue, 'leased', tasks.length, now);
    if (expired > 0) this.#activity.count(queue, 'leaseExpiries', expired, now);
    return tasks;
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    const started = performance.now();
    let results: ItemResult<null>[];
    try {
      results = await this.#inner.ack(queue, refs);
    } finally {
      this.#took('ack', started);
    }
    this.#ended(queue, refs, results);
    this.#activity.count(queue, 'acked', okCount(results), this.#clock.now());
    return results;
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    const started = performance.now();
    let results: ItemResult<Task>[];
    try {
      results = await this.#inner.extend(queue, refs, leaseSeconds);
    } finally {
      this.#took('extend', started);
    }
    for (const result of results) {
      if (result.ok) this.#activity.leases.extended(queue, result.value, leaseSeconds);
    }
    this.#activity.count(queue, 'extended', okCount(results), this.#clock.now());
    return results;
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    const started = performance.now();
    let results: ItemResult<Task>[];
    try {
      results = await this.#inner.release(queue, releases);
    } finally {
      this.#took('release', started);
    }
    const now = this.#clock.now();
    let released = 0;
    let failed = 0;
    let dead = 0;
    results.forEach((result, index) => {
      const request = releases[index];
      if (!result.ok || !request) return;
      if (request.error !== undefined) failed++;
      if (request.deadLetter) {
        dead++;
        this.#activity.leases.ended(queue, request.ref.id);
        // Moved into its dead-letter queue, whose backlog changed too.
        if (result.value.queue !== queue) this.#activity.changed(result.value.queue, now);
      } else {
        released++;
        this.#activity.leases.released(queue, result.value);
      }
    });
    this.#activity.count(queue, 'released', released, now);
    this.#activity.count(queue, 'failed', failed, now);
    this.#activity.count(queue, 'deadLettered', dead, now);
    return results;
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    const results = await this.#inner.delete(queue, ids);
    results.forEach((result, index) => {
      const id = ids[index];
      if (result.ok && id !== undefined) this.#activity.leases.ended(queue, id);
    });
    this.#activity.count(queue, 'deleted', okCount(results), this.#clock.now());
    return results;
  }

  get(queue: string, id: string): Promise<Task | null> {
    return this.#inner.get(queue, id);
  }

  list(queue: string, request: ListRequest): Promise<TaskPage> {
    return this.#inner.list(queue, request);
  }

  async stats(queue: string): Promise<QueueStats> {
    const version = this.#activity.version(queue);
    const stats = await this.#inner.stats(queue);
    this.#activity.touch(queue, this.#clock.now());
    this.#stats.remember(queue, stats, version);
    return stats;
  }

  async redrive(queue: string, request?: RedriveRequest): Promise<number> {
    const moved = await this.#inner.redrive(queue, request);
    this.#activity.count(queue, 'redriven', moved, this.#clock.now());
    return moved;
  }

  createQueue(name: string, config?: Partial<QueueConfig>): Promise<QueueInfo> {
    return this.#inner.createQueue(name, config);
  }

  getQueue(name: string): Promise<QueueInfo | null> {
    return this.#inner.getQueue(name);
  }

  updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    return this.#inner.updateQueue(name, patch);
  }

  async deleteQueue(name: string): Promise<void> {
    await this.#inner.deleteQueue(name);
    this.#activity.drop(name);
    this.#stats.drop(name);
  }

  listQueues(): Promise<QueueInfo[]> {
    return this.#inner.listQueues();
  }

  async purgeQueue(name: string): Promise<number> {
    const purged = await this.#inner.purgeQueue(name);
    this.#activity.leases.dropQueue(name);
    this.#activity.count(name, 'purged', purged, this.#clock.now());
    return purged;
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Inlined try/finally in each verb rather than a wrapper taking a closure: one promise
   * and one closure less per call on the hot path. */
  #took(operation: TimedOperation, started: number): void {
    this.#observe(operation, (performance.now() - started) / 1000);
  }

  #ended(queue: string, refs: LeaseRef[], results: ItemResult<null>[]): void {
    const leases = this.#activity.leases;
    for (let index = 0; index < results.length; index++) {
      const ref = refs[index];
      if (results[index]?.ok && ref) leases.ended(queue, ref.id);
    }
  }
}

function okCount(results: readonly ItemResult<unknown>[]): number {
  let count = 0;
  for (const result of results) if (result.ok) count++;
  return count;
}
