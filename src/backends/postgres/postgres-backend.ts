/**
 * postgres: queues in a PostgreSQL database, shared by every process connected to it: several
 * `pullq serve` behind a load balancer, or workers with no server in between.
 *
 * URL: `postgres://user:password@host:port/database?schema=pullq&poolSize=10` (open.ts)
 * Capabilities: all. A long-poll wakes at once for a task that becomes ready through any
 * server on the database (LISTEN/NOTIFY on the channel `pullq:<schema>`); tasks whose ETA
 * passes are seen within LONG_POLL_RECHECK_MS.
 * Options (PostgresBackendOptions): `connection` (a URL or a `pg` pool configuration),
 * `schema` (default `pullq`), `poolSize` (default 10), `connectTimeoutMs` (default 5000),
 * `clock` (default: the system clock; every time is a parameter, never the database's now()).
 *
 * Open with `await PostgresBackend.open(options)`: it loads the `pg` driver (an optional peer
 * dependency), brings the schema up to date (migrate.ts: safe when many servers start at
 * once) and starts listening.
 *
 * Every verb is one statement or one transaction. The hot ones (insert, lease, ack, extend,
 * delete) are one statement each for a batch of any size; the rest are transactions. When
 * the database goes away, verbs fail with `unavailable` (retryable) and the backend recovers
 * by itself once it is back: the pool opens new connections, the listener reconnects.
 */
import type pg from 'pg';
import type { TokenStore } from '../../auth/token-store.ts';
import type { TokenRecord } from '../../auth/tokens.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName } from '../../protocol/limits.ts';
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
  checkQueueConfig,
  checkRefs,
  checkReleases,
  leaseWithWait,
  queueNotFound,
} from '../common.ts';
import { loadOptional } from '../optional-dependency.ts';
import { IdSource } from '../id-source.ts';
import { Database, type PostgresConnectionOptions, type Run } from './database.ts';
import { insertTasks } from './insert.ts';
import { leaseFast, leaseSlow } from './lease.ts';
import { NotifyListener, channelOf } from './listener.ts';
import { migrate } from './migrate.ts';
import { Notifier } from './notifier.ts';
import { pgError } from './pg-error.ts';
import { createQueue, deleteQueue, updateQueue } from './queue-admin.ts';
import { getTask, listTasks, queueStats } from './reads.ts';
import { toInfo, type QueueRow } from './rows.ts';
import {
  ackRound,
  deleteRound,
  extendRound,
  inRounds,
  redrive,
  eachRound,
  releaseRound,
} from './settle.ts';
import { buildStatements, type Statements } from './statements.ts';
import { TokenTable } from './token-table.ts';
import type { WriteContext } from './write-context.ts';

export interface PostgresBackendOptions extends PostgresConnectionOptions {
  clock?: Clock;
}

const ALL_CAPABILITIES: Capabilities = {
  longPoll: true,
  tags: true,
  list: true,
  exactStats: true,
  deadLetters: true,
  queueAdmin: true,
};

const HOUR_MS = 3_600_000;
/** Expired tombstones are deleted about this often per backend, at most
 * TOMBSTONE_PRUNE_LIMIT at a time, so that no write stalls on a large backlog of them. */
const PRUNE_TOMBSTONES_EVERY_MS = 1000;
const TOMBSTONE_PRUNE_LIMIT = 5000;
/** A queue's lease counts older than an hour are deleted about this often (by lease). */
const PRUNE_LEASE_COUNTS_EVERY_MS = 60_000;

export class PostgresBackend implements Backend, TokenStore {
  readonly capabilities = ALL_CAPABILITIES;
  readonly #clock: Clock;
  readonly #db: Database;
  readonly #sql: Statements;
  readonly #listener: NotifyListener;
  readonly #notifier: Notifier;
  readonly #tokens: TokenTable;
  readonly #ids = new IdSource();
  readonly #wakeups = new Wakeups();
  readonly #leaseCountsPrunedAt = new Map<string, number>();
  #tombstonesPrunedAt = -Infinity;
  #closed = false;

  /** Loads `pg`, migrates the schema and starts listening; fails with `unavailable` when the
   * database cannot be reached. */
  static async open(options: PostgresBackendOptions): Promise<PostgresBackend> {
    const driver = await loadOptional<typeof pg>('pg', 'the postgres backend');
    const backend = new PostgresBackend(driver, options);
    try {
      await migrate(backend.#db, backend.#clock.now());
      await backend.#listener.start().catch((error: unknown) => {
        throw pgError(error, backend.#db.place);
      });
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  private constructor(driver: typeof pg, options: PostgresBackendOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#db = new Database(driver, options);
    this.#sql = buildStatements(this.#db.schema);
    const channel = channelOf(this.#db.schema);
    this.#tokens = new TokenTable(this.#db.run, this.#db.schema);
    this.#notifier = new Notifier(this.#db.run, this.#sql.notify, channel);
    this.#listener = new NotifyListener({
      driver,
      clientConfig: this.#db.clientConfig,
      channel,
      onNotify: (queue) => this.#wakeups.notify(queue),
      // Notifications sent while the listener was away are lost: every waiter looks again.
      onListening: () => this.#wakeups.wakeAll(),
    });
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    this.#open();
    const now = this.#clock.now();
    checkInsert(queue, tasks, now);
    const { results, ready } = await insertTasks(
      this.#db.run,
      this.#sql,
      this.#ids,
      queue,
      tasks,
      options.createQueue ?? false,
      now,
    );
    if (ready) this.#woken([queue]);
    await this.#maybePruneTombstones(now);
    return results;
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    this.#open();
    checkLease(queue, request);
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
    if (!request.groupByTag) {
      const leased = await leaseFast(this.#db.run, this.#sql, this.#ids, queue, request, now);
      if (leased === 'missing') throw queueNotFound(queue);
      if (leased === 'paused' || leased === 'empty') return [];
      if (leased !== 'limited') {
        await this.#maybePruneLeaseCounts(queue, now);
        return leased;
      }
    }
    return this.#write(now, async (ctx) =>
      leaseSlow(ctx, await this.#queue(ctx.run, queue), request),
    );
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkRefs(queue, refs);
    const now = this.#clock.now();
    const results = await this.#rounds(refs, refId, (run, round) =>
      ackRound(run, this.#sql, queue, round, now),
    );
    await this.#maybePruneTombstones(now);
    return results;
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    this.#open();
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    const now = this.#clock.now();
    const eta = now + Math.round(leaseSeconds * 1000);
    return this.#rounds(refs, refId, (run, round) =>
      extendRound(run, this.#sql, queue, round, eta, now),
    );
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    this.#open();
    checkReleases(queue, releases);
    const now = this.#clock.now();
    return this.#write(now, async (ctx) => {
      const stored = await this.#queue(ctx.run, queue);
      return eachRound(
        releases,
        (release) => release.ref.id,
        (round) => releaseRound(ctx, stored, round),
      );
    });
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    this.#open();
    checkIds(queue, ids);
    const now = this.#clock.now();
    const results = await this.#rounds(
      ids,
      (id) => id,
      (run, round) => deleteRound(run, this.#sql, queue, round, now),
    );
    await this.#maybePruneTombstones(now);
    return results;
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    this.#open();
    checkQueueName(queue);
    const now = this.#clock.now();
    return this.#write(now, async (ctx) =>
      redrive(ctx, await this.#queue(ctx.run, queue), request.ids),
    );
  }

  async get(queue: string, id: string): Promise<Task | null> {
    this.#open();
    checkQueueName(queue);
    return getTask(this.#db.run, this.#sql, queue, id, this.#clock.now());
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    this.#open();
    checkList(queue, request);
    return listTasks(this.#db.run, this.#sql, queue, request, this.#clock.now());
  }

  async stats(queue: string): Promise<QueueStats> {
    this.#open();
    checkQueueName(queue);
    return queueStats(this.#db.run, this.#sql, queue, this.#clock.now());
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(config, name);
    return createQueue(this.#db.run, this.#sql, name, config, this.#clock.now());
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    this.#open();
    checkQueueName(name);
    const [row] = await this.#db.run<QueueRow>(this.#sql.queueGet, [name]);
    return row ? toInfo(row) : null;
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    this.#open();
    checkQueueName(name);
    checkQueueConfig(patch, name);
    return this.#write(this.#clock.now(), (ctx) => updateQueue(ctx, name, patch));
  }

  async deleteQueue(name: string): Promise<void> {
    this.#open();
    checkQueueName(name);
    await this.#write(this.#clock.now(), (ctx) => deleteQueue(ctx, name));
    this.#leaseCountsPrunedAt.delete(name);
  }

  async listQueues(): Promise<QueueInfo[]> {
    this.#open();
    return (await this.#db.run<QueueRow>(this.#sql.queueList, [])).map(toInfo);
  }

  async purgeQueue(name: string): Promise<number> {
    this.#open();
    checkQueueName(name);
    const [row] = await this.#db.run<{ queue_found: boolean; n: number }>(this.#sql.purge, [name]);
    if (!row?.queue_found) throw queueNotFound(name);
    return row.n;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeups.wakeAll();
    await this.#listener.stop();
    await this.#notifier.settle();
    await this.#db.end();
  }

  // ---- TokenStore (src/auth/token-store.ts), in ./token-table.ts ----

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

  async #queue(run: Run, name: string): Promise<QueueRow> {
    const [row] = await run<QueueRow>(this.#sql.queueGet, [name]);
    if (!row) throw queueNotFound(name);
    return row;
  }

  /** Runs `change` in one transaction; once it committed, wakes the queues it touched. */
  async #write<T>(now: number, change: (ctx: WriteContext) => Promise<T>): Promise<T> {
    const touched = new Set<string>();
    const result = await this.#db.transaction((run) =>
      change({ run, sql: this.#sql, ids: this.#ids, now, touched }),
    );
    this.#woken(touched);
    return result;
  }

  /** Queues that gained a ready task in a committed change: wakes their long-polls here at
   * once, and on every server through NOTIFY. */
  #woken(queues: Iterable<string>): void {
    for (const queue of queues) this.#wakeups.notify(queue);
    this.#notifier.notify(queues);
  }

  #rounds<I, T>(
    items: readonly I[],
    idOf: (item: I) => string,
    round: (run: Run, items: I[]) => Promise<ItemResult<T>[]>,
  ): Promise<ItemResult<T>[]> {
    return inRounds(items, idOf, this.#db.run, (work) => this.#db.transaction(work), round);
  }

  /*
   * Pruning runs after a verb's change has committed, and is upkeep: if it fails (the
   * database went away just then), the rows wait for the next prune, and the verb still
   * returns what it did rather than a failure that would hide committed work.
   */

  async #maybePruneTombstones(now: number): Promise<void> {
    if (now - this.#tombstonesPrunedAt < PRUNE_TOMBSTONES_EVERY_MS) return;
    this.#tombstonesPrunedAt = now;
    await this.#db.run(this.#sql.pruneTombstones, [now, TOMBSTONE_PRUNE_LIMIT]).catch(() => {});
  }

  async #maybePruneLeaseCounts(queue: string, now: number): Promise<void> {
    const prunedAt = this.#leaseCountsPrunedAt.get(queue) ?? -Infinity;
    if (now - prunedAt < PRUNE_LEASE_COUNTS_EVERY_MS) return;
    this.#leaseCountsPrunedAt.set(queue, now);
    await this.#db.run(this.#sql.pruneLeaseCounts, [queue, now - HOUR_MS]).catch(() => {});
  }
}

const refId = (ref: LeaseRef): string => ref.id;
