/**
 * memory: the reference backend. Plain maps in this process; nothing survives a restart.
 *
 * URL: `memory://` (each Connection gets its own store; pass one MemoryBackend around to share)
 * Capabilities: all.
 * Options: `clock` (default: the system clock).
 *
 * Every other backend must behave exactly like this one (the contract suite and the
 * model-based test check it), so it favours obviousness over speed: a lease scans and sorts.
 */
import type { TokenStore } from '../auth/token-store.ts';
import type { TokenRecord } from '../auth/tokens.ts';
import { PullqError } from '../protocol/errors.ts';
import { checkQueueName, truncateNote } from '../protocol/limits.ts';
import {
  DEFAULT_QUEUE_CONFIG,
  systemClock,
  type Backend,
  type Capabilities,
  type Clock,
  type InsertOptions,
  type ItemResult,
  type LeaseRef,
  type LeaseRequest,
  type LeasedTask,
  type ListRequest,
  type NewTask,
  type QueueConfig,
  type QueueInfo,
  type QueueStats,
  type RedriveRequest,
  type ReleaseRequest,
  type Task,
  type TaskPage,
  type TaskState,
} from './backend.ts';
import {
  Wakeups,
  checkInsert,
  checkLease,
  checkList,
  checkQueueConfig,
  checkIds,
  checkLeaseSeconds,
  checkRefs,
  checkReleases,
  idTaken,
  leaseLost,
  leaseWithWait,
  queueNotFound,
  randomId,
  refMatches,
  taskNotFound,
} from './common.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { MemoryTokenStore } from './memory-token-store.ts';

interface StoredTask {
  id: string;
  seq: number;
  /** Chosen by the producer: leaves a tombstone when it goes. */
  named: boolean;
  payload: Uint8Array;
  tag: string | null;
  enqueuedAt: number;
  eta: number;
  attempts: number;
  dead: boolean;
  leaseToken: string | null;
  lastError: string | null;
  deadLetteredFrom: string | null;
}

interface StoredQueue {
  info: QueueInfo;
  tasks: Map<string, StoredTask>;
  /** id -> time the tombstone ends */
  tombstones: Map<string, number>;
  /** Times of leases within the last hour, oldest first. */
  leaseTimes: number[];
}

const ALL_CAPABILITIES: Capabilities = {
  longPoll: true,
  tags: true,
  list: true,
  exactStats: true,
  deadLetters: true,
  queueAdmin: true,
};

export function stateOf(
  task: Pick<StoredTask, 'dead' | 'leaseToken' | 'eta'>,
  now: number,
): TaskState {
  if (task.dead) return 'dead';
  if (task.eta <= now) return 'ready';
  return task.leaseToken === null ? 'delayed' : 'leased';
}

export class MemoryBackend implements Backend, TokenStore {
  readonly capabilities = ALL_CAPABILITIES;
  readonly #clock: Clock;
  readonly #queues = new Map<string, StoredQueue>();
  readonly #tokens = new MemoryTokenStore();
  readonly #wakeups = new Wakeups();
  #seq = 0;
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    this.#open();
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    const stored =
      this.#queues.get(queue) ?? (options.createQueue ? this.#create(queue, {}, now) : undefined);
    if (!stored) throw queueNotFound(queue);
    const results = tasks.map((task): ItemResult<Task> => {
      if (task.id !== undefined) {
        if (stored.tasks.has(task.id)) return { ok: false, error: idTaken(queue, task.id, false) };
        const tombstone = stored.tombstones.get(task.id);
        if (tombstone !== undefined && tombstone > now) {
          return { ok: false, error: idTaken(queue, task.id, true) };
        }
        stored.tombstones.delete(task.id);
      }
      const entry: StoredTask = {
        id: task.id ?? randomId(),
        seq: ++this.#seq,
        named: task.id !== undefined,
        payload: task.payload,
        tag: task.tag ?? null,
        enqueuedAt: now,
        eta: task.eta ?? now,
        attempts: 0,
        dead: false,
        leaseToken: null,
        lastError: null,
        deadLetteredFrom: null,
      };
      stored.tasks.set(entry.id, entry);
      return { ok: true, value: this.#view(queue, entry, now, true) };
    });
    this.#wakeups.notify(queue);
    return results;
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    this.#open();
    checkLease(queue, request);
    return leaseWithWait(
      () => Promise.resolve(this.#leaseOnce(queue, request)),
      this.#wakeups,
      queue,
      request,
      () => this.#closed,
    );
  }

  #leaseOnce(queue: string, request: LeaseRequest): LeasedTask[] {
    const stored = this.#need(queue);
    if (stored.info.paused) return [];
    const now = this.#clock.now();
    let candidates = [...stored.tasks.values()]
      .filter((task) => !task.dead && task.eta <= now)
      .sort((a, b) => a.eta - b.eta || a.seq - b.seq);
    if (request.tag !== undefined) {
      candidates = candidates.filter((task) => task.tag === request.tag);
    } else if (request.groupByTag && candidates[0]) {
      const groupTag = candidates[0].tag;
      candidates = candidates.filter((task) => task.tag === groupTag);
    }
    const leased: LeasedTask[] = [];
    const maxLeases = stored.info.maxLeases;
    for (const task of candidates) {
      if (leased.length >= request.max) break;
      if (maxLeases !== null && task.attempts >= maxLeases) {
        this.#deadLetter(stored, task, `leased ${task.attempts} times, the queue's maxLeases`, now);
        continue;
      }
      task.attempts += 1;
      task.eta = now + Math.round(request.leaseSeconds * 1000);
      task.leaseToken = randomId();
      stored.leaseTimes.push(now);
      leased.push({
        ...this.#view(queue, task, now, true),
        state: 'leased',
        leaseToken: task.leaseToken,
      });
    }
    return leased;
  }

  /**
   * Moves a task out of the running: to the dead-letter queue, or to the dead state here.
   * Returns the task where it ended up.
   */
  #deadLetter(stored: StoredQueue, task: StoredTask, note: string, now: number): Task {
    const lastError = task.lastError ?? note;
    const target = stored.info.deadLetterQueue;
    if (target === null) {
      Object.assign(task, { dead: true, leaseToken: null, eta: now, lastError });
      return this.#view(stored.info.name, task, now, false);
    }
    this.#remove(stored, task, now);
    const moved = this.#moveInto(target, task, now, {
      lastError,
      deadLetteredFrom: stored.info.name,
    });
    return this.#view(target, moved, now, false);
  }

  /**
   * Puts a copy of `task` into `target` (created if missing) as a fresh ready task: a new seq,
   * no lease, attempts 0. Keeps its id unless `target` has that id already.
   */
  #moveInto(
    target: string,
    task: StoredTask,
    now: number,
    changes: Partial<StoredTask>,
  ): StoredTask {
    const into = this.#queues.get(target) ?? this.#create(target, {}, now);
    const id = into.tasks.has(task.id) ? randomId() : task.id;
    const moved: StoredTask = {
      ...task,
      id,
      seq: ++this.#seq,
      eta: now,
      attempts: 0,
      leaseToken: null,
      dead: false,
      ...changes,
    };
    into.tasks.set(id, moved);
    this.#wakeups.notify(target);
    return moved;
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkRefs(queue, refs);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    return refs.map((ref) =>
      this.#fenced(stored, ref, now, (task) => {
        this.#remove(stored, task, now);
        return null;
      }),
    );
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    this.#open();
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    return refs.map((ref) =>
      this.#fenced(stored, ref, now, (task) => {
        task.eta = now + Math.round(leaseSeconds * 1000);
        return this.#view(queue, task, now, false);
      }),
    );
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    this.#open();
    checkReleases(queue, releases);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    const results = releases.map((release) =>
      this.#fenced(stored, release.ref, now, (task) => {
        if (release.error !== undefined) task.lastError = truncateNote(release.error);
        if (release.deadLetter)
          return this.#deadLetter(stored, task, 'rejected by the consumer', now);
        task.leaseToken = null;
        task.eta = now + Math.round((release.delaySeconds ?? 0) * 1000);
        return this.#view(queue, task, now, false);
      }),
    );
    this.#wakeups.notify(queue);
    return results;
  }

  #fenced<T>(
    stored: StoredQueue,
    ref: LeaseRef,
    now: number,
    change: (task: StoredTask) => T,
  ): ItemResult<T> {
    const task = stored.tasks.get(ref.id);
    if (!task) return { ok: false, error: taskNotFound(stored.info.name, ref.id) };
    if (task.dead || !refMatches(ref, task, now)) return { ok: false, error: leaseLost(ref.id) };
    return { ok: true, value: change(task) };
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkIds(queue, ids);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    return ids.map((id): ItemResult<null> => {
      const task = stored.tasks.get(id);
      if (task) {
        this.#remove(stored, task, now);
        return { ok: true, value: null };
      }
      // Deleting again within the dedup window succeeds, as App Engine's SDK treated it.
      const tombstone = stored.tombstones.get(id);
      if (tombstone !== undefined && tombstone > now) return { ok: true, value: null };
      return { ok: false, error: taskNotFound(queue, id) };
    });
  }

  #remove(stored: StoredQueue, task: StoredTask, now: number): void {
    stored.tasks.delete(task.id);
    if (task.named) stored.tombstones.set(task.id, now + stored.info.dedupWindowSeconds * 1000);
  }

  async get(queue: string, id: string): Promise<Task | null> {
    this.#open();
    checkQueueName(queue);
    const task = this.#need(queue).tasks.get(id);
    return task ? this.#view(queue, task, this.#clock.now(), true) : null;
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    this.#open();
    checkList(queue, request);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    const after = request.cursor === undefined ? 0 : decodeCursor(request.cursor);
    const matching = [...stored.tasks.values()]
      .filter(
        (task) =>
          task.seq > after &&
          (request.state === undefined || stateOf(task, now) === request.state) &&
          (request.tag === undefined || task.tag === request.tag),
      )
      .sort((a, b) => a.seq - b.seq);
    const page = matching.slice(0, request.limit);
    const last = page.at(-1);
    return {
      tasks: page.map((task) => this.#view(queue, task, now, request.includePayload ?? false)),
      nextCursor: matching.length > request.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#open();
    checkQueueName(queue);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    const counts: Record<TaskState, number> = { ready: 0, delayed: 0, leased: 0, dead: 0 };
    let oldestReadyEta: number | null = null;
    let oldestEta: number | null = null;
    for (const task of stored.tasks.values()) {
      const state = stateOf(task, now);
      counts[state] += 1;
      if (state === 'ready' && (oldestReadyEta === null || task.eta < oldestReadyEta))
        oldestReadyEta = task.eta;
      if (state !== 'dead' && (oldestEta === null || task.eta < oldestEta)) oldestEta = task.eta;
    }
    const hourAgo = now - 3_600_000;
    while (stored.leaseTimes.length > 0 && (stored.leaseTimes[0] ?? 0) <= hourAgo)
      stored.leaseTimes.shift();
    return {
      ...counts,
      oldestReadyAgeSeconds: oldestReadyEta === null ? null : (now - oldestReadyEta) / 1000,
      oldestEta,
      leasedLastMinute: stored.leaseTimes.filter((time) => time > now - 60_000).length,
      leasedLastHour: stored.leaseTimes.length,
    };
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    this.#open();
    checkQueueName(queue);
    const stored = this.#need(queue);
    const now = this.#clock.now();
    const wanted = request.ids === undefined ? null : new Set(request.ids);
    let moved = 0;
    for (const task of [...stored.tasks.values()].sort((a, b) => a.seq - b.seq)) {
      if (wanted && !wanted.has(task.id)) continue;
      if (task.dead) {
        Object.assign(task, { dead: false, eta: now, attempts: 0, leaseToken: null });
        moved += 1;
      } else if (task.deadLetteredFrom !== null) {
        stored.tasks.delete(task.id);
        this.#moveInto(task.deadLetteredFrom, task, now, { deadLetteredFrom: null });
        moved += 1;
      }
    }
    this.#wakeups.notify(queue);
    return moved;
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(config, name);
    if (this.#queues.has(name)) {
      throw new PullqError('already_exists', `queue ${JSON.stringify(name)} already exists`, {
        details: { queue: name },
      });
    }
    return { ...this.#create(name, config, this.#clock.now()).info };
  }

  #create(name: string, config: Partial<QueueConfig>, now: number): StoredQueue {
    const stored: StoredQueue = {
      info: { ...DEFAULT_QUEUE_CONFIG, ...definedOnly(config), name, createdAt: now },
      tasks: new Map(),
      tombstones: new Map(),
      leaseTimes: [],
    };
    this.#queues.set(name, stored);
    return stored;
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    this.#open();
    checkQueueName(name);
    const stored = this.#queues.get(name);
    return stored ? { ...stored.info } : null;
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(patch, name);
    const stored = this.#need(name);
    Object.assign(stored.info, definedOnly(patch));
    if (patch.paused === false) this.#wakeups.notify(name);
    return { ...stored.info };
  }

  async deleteQueue(name: string): Promise<void> {
    this.#open();
    checkQueueName(name);
    this.#need(name);
    this.#queues.delete(name);
    this.#wakeups.notify(name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    this.#open();
    return [...this.#queues.values()]
      .map((stored) => ({ ...stored.info }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async purgeQueue(name: string): Promise<number> {
    this.#open();
    checkQueueName(name);
    const stored = this.#need(name);
    const count = stored.tasks.size;
    stored.tasks.clear();
    return count;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakeups.wakeAll();
  }

  // ---- TokenStore (src/auth/token-store.ts) ----

  async createToken(record: TokenRecord): Promise<void> {
    this.#open();
    return this.#tokens.createToken(record);
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    this.#open();
    return this.#tokens.findTokenByHash(tokenHash);
  }

  async listTokens(): Promise<TokenRecord[]> {
    this.#open();
    return this.#tokens.listTokens();
  }

  async revokeToken(name: string): Promise<boolean> {
    this.#open();
    return this.#tokens.revokeToken(name);
  }

  async countTokens(): Promise<number> {
    this.#open();
    return this.#tokens.countTokens();
  }

  #open(): void {
    if (this.#closed) throw new PullqError('unavailable', 'the backend is closed');
  }

  #need(queue: string): StoredQueue {
    const stored = this.#queues.get(queue);
    if (!stored) throw queueNotFound(queue);
    return stored;
  }

  #view(queue: string, task: StoredTask, now: number, withPayload: boolean): Task {
    return {
      queue,
      id: task.id,
      payload: withPayload ? task.payload : new Uint8Array(0),
      tag: task.tag,
      enqueuedAt: task.enqueuedAt,
      eta: task.eta,
      attempts: task.attempts,
      state: stateOf(task, now),
      lastError: task.lastError,
      deadLetteredFrom: task.deadLetteredFrom,
    };
  }
}

/** Drops keys whose value is undefined, so a patch never unsets a setting by accident. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(patch).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
