/**
 * Applies model operations to one backend and reports what a caller could observe,
 * normalized so that two backends can be compared: generated ids and lease tokens are random
 * in every backend, so they are renamed in order of appearance (`#1`, `#2`... and `~1`,
 * `~2`...). Operations pick earlier tasks and leases by position in that order, which means
 * the same thing in both backends as long as they agree.
 */
import assert from 'node:assert/strict';
import type {
  Backend,
  ItemResult,
  LeaseRef,
  ListRequest,
  NewTask,
  QueueConfig,
} from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { ManualClock } from '../../src/testing/index.ts';
import { NAMES, QUEUES, type IdPick, type LeasePick, type Op } from './model-ops.ts';

interface SeenLease {
  queue: string;
  id: string;
  token: string;
  eta: number;
}

const decoder = new TextDecoder();

/** Applies operations to one backend and reports what a caller could observe. */
export class ModelRunner {
  readonly backend: Backend;
  readonly clock: ManualClock;
  readonly #leases: SeenLease[] = [];
  /** Leases not yet acked or released through this runner (they may have run out). */
  readonly #live: SeenLease[] = [];
  readonly #ids: string[] = [];
  readonly #idNames = new Map<string, string>();
  readonly #tokenNames = new Map<string, string>();

  constructor(backend: Backend, clock: ManualClock) {
    this.backend = backend;
    this.clock = clock;
  }

  /** The observable outcome of one operation: its normalized value, or its error code. */
  async apply(op: Op): Promise<unknown> {
    try {
      return { value: this.#normalize(await this.#run(op)) };
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      // Anything but a catalog error is a bug: show it whole so the comparison fails loudly.
      return typeof code === 'string' ? { error: code } : { thrown: String(error) };
    }
  }

  /** Everything stored, queue by queue. */
  async snapshot(): Promise<unknown> {
    const queues: unknown[] = [await this.apply({ kind: 'listQueues' })];
    for (const queue of QUEUES) {
      queues.push({
        stats: await this.apply({ kind: 'stats', queue }),
        tasks: await this.apply({ kind: 'list', queue, limit: 1000, payload: true }),
      });
    }
    return queues;
  }

  async #run(op: Op): Promise<unknown> {
    const { backend } = this;
    switch (op.kind) {
      case 'insert': {
        const now = this.clock.now();
        const tasks = op.items.map((item): NewTask => ({
          payload: new TextEncoder().encode(item.text),
          ...(item.id === undefined ? {} : { id: item.id }),
          ...(item.tag === undefined ? {} : { tag: item.tag }),
          ...(item.etaOffset === undefined ? {} : { eta: now + item.etaOffset }),
        }));
        return backend.insert(op.queue, tasks, op.createQueue ? { createQueue: true } : {});
      }
      case 'lease': {
        const leased = await backend.lease(op.queue, {
          max: op.max,
          leaseSeconds: op.leaseSeconds,
          ...(op.tag === undefined ? {} : { tag: op.tag }),
          ...(op.groupByTag === undefined ? {} : { groupByTag: op.groupByTag }),
        });
        for (const task of leased) {
          const seen = { queue: op.queue, id: task.id, token: task.leaseToken, eta: task.eta };
          this.#leases.push(seen);
          this.#live.push(seen);
        }
        return leased;
      }
      case 'ack': {
        const [queue, refs] = this.#refs(op.picks);
        const results = await backend.ack(
          queue,
          refs.map(({ ref }) => ref),
        );
        this.#settle(results, refs);
        return results;
      }
      case 'extend': {
        const [queue, refs] = this.#refs(op.picks);
        const results = await backend.extend(
          queue,
          refs.map(({ ref }) => ref),
          op.leaseSeconds,
        );
        // A v1beta2 client fences with the newest lease end it was told.
        results.forEach((result, index) => {
          const seen = refs[index]?.seen;
          if (result.ok && seen) seen.eta = result.value.eta;
        });
        return results;
      }
      case 'release': {
        const [queue, refs] = this.#refs(op.items.map((item) => item.pick));
        const results = await backend.release(
          queue,
          op.items.map((item, index) => ({
            ref: refs[index]?.ref ?? { id: 'none', token: 'none' },
            ...(item.delaySeconds === undefined ? {} : { delaySeconds: item.delaySeconds }),
            ...(item.error === undefined ? {} : { error: item.error }),
            ...(item.deadLetter === undefined ? {} : { deadLetter: item.deadLetter }),
          })),
        );
        this.#settle(results, refs);
        return results;
      }
      case 'delete':
        return backend.delete(
          op.queue,
          op.ids.map((pick) => this.#id(pick)),
        );
      case 'get':
        return backend.get(op.queue, this.#id(op.id));
      case 'list':
        return this.#listAll(op.queue, {
          limit: op.limit,
          includePayload: op.payload,
          ...(op.state === undefined ? {} : { state: op.state }),
          ...(op.tag === undefined ? {} : { tag: op.tag }),
        });
      case 'stats':
        return backend.stats(op.queue);
      case 'advance':
        return this.clock.advance(op.ms);
      case 'createQueue':
        return backend.createQueue(op.queue, op.config);
      case 'updateQueue':
        return backend.updateQueue(op.queue, op.patch);
      case 'redrive':
        return backend.redrive(
          op.queue,
          op.ids === undefined ? {} : { ids: op.ids.map((pick) => this.#id(pick)) },
        );
      case 'purge':
        return backend.purgeQueue(op.queue);
      case 'deleteQueue':
        return backend.deleteQueue(op.queue);
      case 'listQueues':
        return backend.listQueues();
    }
  }

  /** Every page; cursors are opaque, so only whether there was a next page is kept. */
  async #listAll(queue: string, request: ListRequest): Promise<unknown[]> {
    const pages: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.backend.list(
        queue,
        cursor === null ? request : { ...request, cursor },
      );
      pages.push({ tasks: page.tasks, more: page.nextCursor !== null });
      cursor = page.nextCursor;
    } while (cursor !== null && pages.length < 50);
    return pages;
  }

  /** The queue of the first picked lease (so most picks hit) and the refs. */
  #refs(picks: LeasePick[]): [string, { ref: LeaseRef; seen?: SeenLease }[]] {
    if (this.#leases.length === 0)
      return ['qa', picks.map(() => ({ ref: { id: 'none', token: 'none' } }))];
    const refs = picks.map((pick) => {
      const seen = this.#recentLease(pick);
      const ref: LeaseRef =
        pick.fence === 'token'
          ? { id: seen.id, token: seen.token }
          : pick.fence === 'expires'
            ? { id: seen.id, leaseExpiresAt: seen.eta }
            : { id: seen.id, token: 'forged' };
      return { ref, seen };
    });
    return [this.#recentLease(picks[0] ?? { from: 'all', lease: 0 }).queue, refs];
  }

  /** Counting back from the newest lease seen; callers check there is one. */
  #recentLease(pick: Pick<LeasePick, 'from' | 'lease'>): SeenLease {
    const leases = pick.from === 'live' && this.#live.length > 0 ? this.#live : this.#leases;
    return leases[leases.length - 1 - (pick.lease % leases.length)] as SeenLease;
  }

  /** Leases that were acked or released are no longer live. */
  #settle(results: ItemResult<unknown>[], refs: { seen?: SeenLease }[]): void {
    results.forEach((result, index) => {
      const seen = refs[index]?.seen;
      const at = seen ? this.#live.indexOf(seen) : -1;
      if (result.ok && at >= 0) this.#live.splice(at, 1);
    });
  }

  #id(pick: IdPick): string {
    if ('name' in pick) return pick.name;
    const ids = this.#ids;
    return ids[ids.length - 1 - (pick.known % Math.max(1, ids.length))] ?? 'none';
  }

  /** Plain data with generated ids and tokens renamed in order of appearance. */
  #normalize(value: unknown, key?: string): unknown {
    if (value instanceof Uint8Array) return decoder.decode(value);
    if (Array.isArray(value)) return value.map((item) => this.#normalize(item));
    if (value !== null && typeof value === 'object') {
      if ('error' in value && 'ok' in value && value.ok === false) {
        return { ok: false, error: (value.error as { code: string }).code };
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#normalize(v, k)]));
    }
    if (key === 'id' && typeof value === 'string') return this.#nameId(value);
    if (key === 'leaseToken' && typeof value === 'string') {
      let name = this.#tokenNames.get(value);
      if (!name) this.#tokenNames.set(value, (name = `~${this.#tokenNames.size + 1}`));
      return name;
    }
    return value;
  }

  #nameId(id: string): string {
    if (!this.#ids.includes(id)) this.#ids.push(id);
    if ((NAMES as readonly string[]).includes(id)) return id;
    let name = this.#idNames.get(id);
    if (!name) this.#idNames.set(id, (name = `#${this.#idNames.size + 1}`));
    return name;
  }
}

/**
 * Runs one sequence against memory (the reference) and `makeReal`, each on its own manual
 * clock moved in step, and asserts that every step and the final state look the same.
 */
export async function compareWithReference(
  makeReal: (clock: ManualClock) => Backend | Promise<Backend>,
  setup: Partial<QueueConfig>,
  ops: Op[],
): Promise<void> {
  const modelClock = new ManualClock();
  const realClock = new ManualClock();
  const model = new ModelRunner(new MemoryBackend({ clock: modelClock }), modelClock);
  const real = new ModelRunner(await makeReal(realClock), realClock);
  try {
    await model.backend.createQueue('qa', setup);
    await real.backend.createQueue('qa', setup);
    for (const [step, op] of ops.entries()) {
      const expected = await model.apply(op);
      const actual = await real.apply(op);
      assert.deepEqual(actual, expected, `step ${step}: ${JSON.stringify(op)}`);
    }
    assert.deepEqual(await real.snapshot(), await model.snapshot(), 'final state');
  } finally {
    await model.backend.close();
    await real.backend.close();
  }
}
