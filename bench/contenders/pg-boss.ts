/**
 * pg-boss 12.35 on PostgreSQL as a contender of the side-by-side benchmark
 * (bench/harness/contender.ts).
 *
 * - `pg-boss`: the fast settings of peers.md 4.4, each checked against 12.35's types. Pools of
 *   20; the producer's instance supervises (one instance must, for expiry and retention), the
 *   consumers' do not; no cron (`schedule: false`); LISTEN/NOTIFY on the consumers with the
 *   queue's `notify`, so a new job wakes them instead of waiting for the next poll; a
 *   partitioned queue; `expireInSeconds` 30, the lease every contender gets. `work()` fetches
 *   100 jobs at a time, keeps fetching while batches come back full, polls every 0.5 s when
 *   empty, and settles each job by its own outcome (`perJobResults`), so one throwing handler
 *   does not retry its 99 neighbours. One fetch loop per 25 handler slots, at most 4 (peers.md
 *   suggests 2-8), and a limiter across the loops runs at most `concurrency` handlers at once,
 *   which is what the run asked for.
 * - `pg-boss-defaults`: constructor and queue with defaults; `work()` with only
 *   `localConcurrency` = the run's concurrency. With no options at all, one worker fetches one
 *   job per 2 s poll (0.5 tasks/s), which no run of thousands of tasks can wait for.
 *
 * Each run installs pg-boss into its own schema, dropped at dispose after logging how many job
 * rows and bytes it held (pg-boss keeps completed jobs for `deleteAfterSeconds`, 7 days).
 */
import type { ConstructorOptions, Job, JobResult, PgBoss, Queue, WorkOptions } from 'pg-boss';
import type pg from 'pg';
import type {
  Consumer,
  ConsumerOptions,
  Contender,
  ContenderInfo,
  Prepared,
  Producer,
  TaskBody,
} from '../harness/contender.ts';
import { requiredConfig } from '../harness/contender.ts';
import { packageVersion } from '../harness/environment.ts';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** The schema is per run, so the queue name can be fixed. */
const QUEUE = 'bench';
const BATCH_SIZE = 100;
const SLOTS_PER_FETCH_LOOP = 25;
const FETCH_LOOPS_MAX = 4;

type Variant = 'fast' | 'defaults';

const FAST_INSTANCE: ConstructorOptions = { max: 20, schedule: false, migrate: false };
const FAST_QUEUE: Omit<Queue, 'name'> = { notify: true, partition: true, expireInSeconds: 30 };
const FAST_WORK = {
  batchSize: BATCH_SIZE,
  burstWhenBatchFull: true,
  pollingIntervalSeconds: 0.5,
  perJobResults: true,
} as const satisfies WorkOptions;

export const pgBoss = pgBossContender('fast');
export const pgBossDefaults = pgBossContender('defaults');

function pgBossContender(variant: Variant): Contender {
  const fast = variant === 'fast';
  const name = fast ? 'pg-boss' : 'pg-boss-defaults';
  const info: ContenderInfo = {
    name,
    system: 'pg-boss',
    // Filled in by `prepare`: package versions and the PostgreSQL server's.
    versions: {},
    settings: fast
      ? {
          instance: FAST_INSTANCE,
          producer: { supervise: true },
          consumer: { supervise: false, useListenNotify: true },
          queue: FAST_QUEUE,
          work: {
            ...FAST_WORK,
            localConcurrency: `ceil(concurrency / ${SLOTS_PER_FETCH_LOOP}), at most ${FETCH_LOOPS_MAX}`,
            handlersAtOnce: 'ConsumerOptions.concurrency',
          },
          addOne: 'send',
          addBatch: 'insert',
        }
      : {
          instance: 'defaults',
          queue: 'defaults',
          work: { localConcurrency: 'ConsumerOptions.concurrency' },
          addOne: 'send',
          addBatch: 'insert',
        },
    brokerProcesses: ['postgres'],
  };

  async function prepare({ runId }: { runId: string }): Promise<Prepared> {
    const schema = `pgboss_bench_${runId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
    const [version] = await sql<{ version: string }>(
      "SELECT current_setting('server_version') AS version",
    );
    Object.assign(info.versions, {
      'pg-boss': packageVersion('pg-boss'),
      pg: packageVersion('pg'),
      postgres: version?.version ?? 'unknown',
    });
    const [existing] = await sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (existing) throw new Error(`${name}: schema ${schema} already exists`);
    const boss = await startBoss(
      { connectionString: POSTGRES_URL, schema },
      { max: 2, supervise: false, schedule: false },
    );
    try {
      await boss.createQueue(QUEUE, fast ? FAST_QUEUE : {});
    } finally {
      await boss.stop();
    }
    return {
      config: { connectionString: POSTGRES_URL, schema },
      pids: [],
      dispose: () => dispose(schema),
    };
  }

  async function dispose(schema: string): Promise<void> {
    const states = await sql<{ state: string; count: number }>(
      `SELECT state, count(*)::int AS count FROM "${schema}".job GROUP BY state ORDER BY state`,
    );
    const [size] = await sql<{ bytes: string }>(
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const rows = states.map(({ state, count }) => `${count} ${state}`).join(', ') || 'none';
    process.stderr.write(
      `${name}: job rows ${rows}; ${size?.bytes ?? 0} bytes of tables in schema ${schema}` +
        ` at dispose; dropped\n`,
    );
  }

  async function producer(config: Record<string, string>): Promise<Producer> {
    const boss = await startBoss(config, fast ? { ...FAST_INSTANCE, supervise: true } : {});
    return {
      async addOne(task) {
        await boss.send(QUEUE, task);
      },
      async addBatch(tasks) {
        await boss.insert(
          QUEUE,
          tasks.map((data) => ({ data })),
        );
      },
      close: () => boss.stop(),
    };
  }

  async function consumer(
    config: Record<string, string>,
    options: ConsumerOptions,
  ): Promise<Consumer> {
    const { handler, concurrency } = options;
    const boss = await startBoss(
      config,
      fast ? { ...FAST_INSTANCE, supervise: false, useListenNotify: true } : {},
    );
    if (fast) {
      const limit = limiter(concurrency);
      const settle = async (job: Job<TaskBody>): Promise<JobResult> => {
        try {
          await handler(job.data);
          return { id: job.id, status: 'completed' };
        } catch (error) {
          return { id: job.id, status: 'failed', output: { message: String(error) } };
        }
      };
      const localConcurrency = Math.min(
        FETCH_LOOPS_MAX,
        Math.max(1, Math.ceil(concurrency / SLOTS_PER_FETCH_LOOP)),
      );
      await boss.work<TaskBody>(QUEUE, { ...FAST_WORK, localConcurrency }, (jobs) =>
        Promise.all(jobs.map((job) => limit(() => settle(job)))),
      );
    } else {
      // batchSize is 1 by default; the loop only keeps the handler honest if that changes.
      await boss.work<TaskBody>(QUEUE, { localConcurrency: concurrency }, async (jobs) => {
        for (const job of jobs) await handler(job.data);
      });
    }
    return {
      async close() {
        // offWork stops the fetch loops and waits for the batches in flight to settle.
        await boss.offWork(QUEUE, { wait: true });
        await boss.stop();
      },
    };
  }

  async function startBoss(
    config: Record<string, string>,
    options: ConstructorOptions,
  ): Promise<PgBoss> {
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({
      ...options,
      connectionString: requiredConfig(config, 'connectionString'),
      schema: requiredConfig(config, 'schema'),
    });
    boss.on('error', (error) => process.stderr.write(`${name}: ${String(error)}\n`));
    return boss.start();
  }

  const contender: Contender = { info, prepare, producer, consumer };
  return contender;
}

/** Runs `fn` with at most `max` running at once; a finished call hands its slot to the next. */
function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (running < max) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const { default: postgres } = await import('pg');
  const client = new postgres.Client(POSTGRES_URL);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
