/**
 * redis: queues in Redis, shared by every process that uses the same Redis and prefix
 * (several `pullq serve`, or workers with no server in between). Needs Redis 6.2 or newer
 * and the `ioredis` package.
 *
 * URL: `redis://[user:password@]host:port[/db][?prefix=pullq]`, `rediss://` for TLS.
 * Capabilities: all. A long-poll wakes within milliseconds for a task inserted or released
 * through any process: every state change that may make a task ready publishes the queue's
 * name on `<prefix>:wake`, and each backend that has a long-poll waiting subscribes to it.
 * Options:
 * - `url` or `redis` (ioredis options); `prefix`: the first part of every key (default
 *   `pullq`), so deployments can share a Redis.
 * - `clock` (default: the system clock). Scripts get the time from it, never from Redis, so
 *   every process of a deployment should run with a synchronized clock (NTP), as with
 *   PostgreSQL.
 * - `connectWaitMs`, `commandTimeoutMs`: see redis-connection.ts. While Redis is away every
 *   call fails with `unavailable` within about a second, and the backend reconnects on its
 *   own.
 *
 * Every verb is one Lua script (lua-tasks.ts, lua-queues.ts), so each state change is atomic
 * and no two interleave. What survives a crash of Redis depends on Redis's persistence
 * settings; docs/redis.md says what each gives.
 */
import { randomBytes } from 'node:crypto';
import type { TokenStore } from '../../auth/token-store.ts';
import type { TokenRecord } from '../../auth/tokens.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName, truncateNote } from '../../protocol/limits.ts';
import {
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
} from '../backend.ts';
import {
  Wakeups,
  checkIds,
  checkInsert,
  checkLease,
  checkLeaseSeconds,
  checkList,
  checkRefs,
  checkReleases,
  idTaken,
  leaseLost,
  leaseWithWait,
  randomId,
  taskNotFound,
} from '../common.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { RedisConnection, type RedisConnectionOptions } from './redis-connection.ts';
import { RedisQueueAdmin, type RunScript } from './redis-queue-admin.ts';
import { RedisTokens } from './redis-tokens.ts';
import { int, list, okItems, optText, text, toLeased, toTask } from './replies.ts';
import { SCRIPTS } from './scripts.ts';

export interface RedisBackendOptions extends RedisConnectionOptions {
  /** The first part of every key and of the wake-up channel (default `pullq`). */
  prefix?: string;
  /** Default: the system clock. */
  clock?: Clock;
}

export const DEFAULT_PREFIX = 'pullq';
/** Letters, digits and `_ . : - { }` (braces make a Redis Cluster hash tag; docs/redis.md). */
export const PREFIX_PATTERN = /^[A-Za-z0-9_.:{}-]{1,100}$/;

const ALL_CAPABILITIES: Capabilities = {
  longPoll: true,
  tags: true,
  list: true,
  exactStats: true,
  deadLetters: true,
  queueAdmin: true,
};

/** A long-poll waits at most this long for its subscription before it looks anyway. */
const SUBSCRIBE_WAIT_MS = 500;

type Fence = [kind: string, value: string];

function fence(ref: LeaseRef): Fence {
  return 'token' in ref ? ['t', ref.token] : ['e', String(ref.leaseExpiresAt)];
}

function itemError(code: string, queue: string, id: string): PullqError {
  return code === 'not_found' ? taskNotFound(queue, id) : leaseLost(id);
}

export class RedisBackend implements Backend, TokenStore {
  readonly capabilities = ALL_CAPABILITIES;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #redis: RedisConnection;
  readonly #tokens: RedisTokens;
  readonly #queues: RedisQueueAdmin;
  readonly #wakeups = new Wakeups();
  #closed = false;

  constructor(options: RedisBackendOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new PullqError(
        'invalid_argument',
        `invalid Redis key prefix ${JSON.stringify(prefix.slice(0, 120))}: use 1 to 100 of a-z, A-Z, 0-9 and _ . : - { }`,
        { details: { field: 'prefix' } },
      );
    }
    this.#prefix = prefix;
    this.#clock = options.clock ?? systemClock;
    this.#redis = new RedisConnection(options);
    this.#tokens = new RedisTokens(this.#redis, prefix);
    this.#queues = new RedisQueueAdmin(this.#run, this.#clock, this.#wakeups);
  }

  /** Runs a script with the prefix and the time as its first two arguments. */
  readonly #run: RunScript = async (name, now, args) =>
    this.#redis.run(SCRIPTS[name], [this.#prefix, String(now), ...args]);

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    this.#open();
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    const prepared = tasks.map((task) => ({
      task,
      id: task.id ?? randomId(),
      eta: task.eta ?? now,
    }));
    const args: (string | Buffer)[] = [queue, options.createQueue ? '1' : '0'];
    for (const { task, id, eta } of prepared) {
      const payload = Buffer.from(
        task.payload.buffer,
        task.payload.byteOffset,
        task.payload.length,
      );
      args.push(id, task.id === undefined ? '0' : '1');
      args.push(task.tag === undefined ? '0' : '1', task.tag ?? '', String(eta), payload);
    }
    const outcomes = okItems(await this.#run('insert', now, args), queue);
    this.#wakeups.notify(queue);
    return prepared.map(({ task, id, eta }, index): ItemResult<Task> => {
      const outcome = text(outcomes[index]);
      if (outcome !== 'ok') return { ok: false, error: idTaken(queue, id, outcome === 'tomb') };
      return {
        ok: true,
        value: {
          queue,
          id,
          payload: task.payload,
          tag: task.tag ?? null,
          enqueuedAt: now,
          eta,
          attempts: 0,
          state: eta <= now ? 'ready' : 'delayed',
          lastError: null,
          deadLetteredFrom: null,
        },
      };
    });
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    this.#open();
    checkLease(queue, request);
    if ((request.waitSeconds ?? 0) > 0 && !request.signal?.aborted) {
      // Subscribed before the first look, so no wake-up is missed between the two.
      await this.#redis.subscribe(
        `${this.#prefix}:wake`,
        (name) => this.#wakeups.notify(name),
        SUBSCRIBE_WAIT_MS,
      );
    }
    return leaseWithWait(
      () => this.#leaseOnce(queue, request),
      this.#wakeups,
      queue,
      request,
      () => this.#closed,
    );
  }

  async #leaseOnce(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    // A long-poll may look again after close(): it then ends with what it has.
    if (this.#closed) return [];
    const now = this.#clock.now();
    const mode = request.tag !== undefined ? 'tag' : request.groupByTag ? 'group' : 'all';
    const reply = await this.#run('lease', now, [
      queue,
      String(request.max),
      String(Math.round(request.leaseSeconds * 1000)),
      mode,
      request.tag ?? '',
      // 96 random bits per token, 16 base64url characters each, back to back.
      randomBytes(12 * request.max).toString('base64url'),
      randomId(),
    ]);
    return okItems(reply, queue).map((item) => toLeased(item, queue));
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkRefs(queue, refs);
    const now = this.#clock.now();
    const args = [queue, ...refs.flatMap((ref) => [ref.id, ...fence(ref)])];
    const outcomes = okItems(await this.#run('ack', now, args), queue);
    return refs.map((ref, index): ItemResult<null> => {
      const outcome = text(outcomes[index]);
      if (outcome === 'ok') return { ok: true, value: null };
      return { ok: false, error: itemError(outcome, queue, ref.id) };
    });
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    this.#open();
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    const now = this.#clock.now();
    const args = [
      queue,
      String(Math.round(leaseSeconds * 1000)),
      ...refs.flatMap((ref) => [ref.id, ...fence(ref)]),
    ];
    const items = okItems(await this.#run('extend', now, args), queue);
    return this.#taskResults(items, queue, now, (index) => refs[index]?.id ?? '');
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    this.#open();
    checkReleases(queue, releases);
    const now = this.#clock.now();
    const args = [queue, randomId()];
    for (const release of releases) {
      args.push(release.ref.id, ...fence(release.ref));
      args.push(String(Math.round((release.delaySeconds ?? 0) * 1000)));
      args.push(release.error === undefined ? '0' : '1', truncateNote(release.error ?? ''));
      args.push(release.deadLetter ? '1' : '0');
    }
    const items = okItems(await this.#run('release', now, args), queue);
    this.#wakeups.notify(queue);
    return this.#taskResults(items, queue, now, (index) => releases[index]?.ref.id ?? '');
  }

  /** Items of [status, view?] as batch results. */
  #taskResults(
    items: unknown[],
    queue: string,
    now: number,
    idAt: (index: number) => string,
  ): ItemResult<Task>[] {
    return items.map((item, index): ItemResult<Task> => {
      const [status, view] = list(item);
      const outcome = text(status);
      if (outcome !== 'ok') return { ok: false, error: itemError(outcome, queue, idAt(index)) };
      return { ok: true, value: toTask(view, now).task };
    });
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkIds(queue, ids);
    const now = this.#clock.now();
    const outcomes = okItems(await this.#run('delete', now, [queue, ...ids]), queue);
    return ids.map((id, index): ItemResult<null> =>
      text(outcomes[index]) === 'ok'
        ? { ok: true, value: null }
        : { ok: false, error: taskNotFound(queue, id) },
    );
  }

  async get(queue: string, id: string): Promise<Task | null> {
    this.#open();
    checkQueueName(queue);
    const now = this.#clock.now();
    const [view] = okItems(await this.#run('get', now, [queue, id]), queue);
    return view === undefined ? null : toTask(view, now).task;
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    this.#open();
    checkList(queue, request);
    const now = this.#clock.now();
    const after = request.cursor === undefined ? 0 : decodeCursor(request.cursor);
    const reply = await this.#run('list', now, [
      queue,
      String(after),
      String(request.limit),
      request.state ?? '',
      request.tag === undefined ? '0' : '1',
      request.tag ?? '',
      request.includePayload ? '1' : '0',
    ]);
    const found = okItems(reply, queue).map((view) => toTask(view, now));
    const page = found.slice(0, request.limit);
    const last = page.at(-1);
    return {
      tasks: page.map(({ task }) => task),
      nextCursor: found.length > request.limit && last ? encodeCursor(last.seq) : null,
    };
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#open();
    checkQueueName(queue);
    const now = this.#clock.now();
    const [ready, delayed, leased, dead, oldest, minute, hour] = okItems(
      await this.#run('stats', now, [queue]),
      queue,
    );
    const oldestEta = optText(oldest) === null ? null : int(oldest);
    const oldestReady = oldestEta !== null && oldestEta <= now ? oldestEta : null;
    const lastMinute = int(minute);
    return {
      ready: int(ready),
      delayed: int(delayed),
      leased: int(leased),
      dead: int(dead),
      oldestReadyAgeSeconds: oldestReady === null ? null : (now - oldestReady) / 1000,
      oldestEta,
      leasedLastMinute: lastMinute,
      leasedLastHour: lastMinute + int(hour),
    };
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    this.#open();
    checkQueueName(queue);
    const now = this.#clock.now();
    const ids = request.ids === undefined ? ['0'] : ['1', ...request.ids];
    const [moved] = okItems(await this.#run('redrive', now, [queue, randomId(), ...ids]), queue);
    this.#wakeups.notify(queue);
    return int(moved);
  }

  // ---- queue admin, in ./redis-queue-admin.ts ----

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    this.#open();
    return this.#queues.createQueue(name, config);
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    this.#open();
    return this.#queues.getQueue(name);
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    return this.#queues.updateQueue(name, patch);
  }

  async deleteQueue(name: string): Promise<void> {
    this.#open();
    return this.#queues.deleteQueue(name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    this.#open();
    return this.#queues.listQueues();
  }

  async purgeQueue(name: string): Promise<number> {
    this.#open();
    return this.#queues.purgeQueue(name);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeups.wakeAll();
    await this.#redis.close();
  }

  // ---- TokenStore (src/auth/token-store.ts), in ./redis-tokens.ts ----

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
}
