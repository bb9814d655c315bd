/**
 * pullq's contenders in the side-by-side benchmark:
 * - `pullq-sqlite` (the headline): `pullq serve` on SQLite in its own process, clients over
 *   HTTP; the consumer is pullq's Worker (1 child process per consumer process).
 * - `pullq-sqlite-manual`: the same server, consumed by a lease 100 / ack 100 loop through the
 *   Backend API (pullq-manual.ts).
 * - `pullq-postgres`, `pullq-redis`: the same server with `--backend postgres://...` (a schema
 *   of the run's own, dropped at dispose) or `redis://...` (a key prefix of the run's own,
 *   deleted at dispose).
 * - `pullq-embedded`: no server; producer and consumers open the SQLite file themselves
 *   (`sqlite:///path`). A long-poll sees tasks another process inserted within 250 ms
 *   (LONG_POLL_RECHECK_MS), which its pickup latency shows.
 * Producers use SimpleQueue `put` and `putMany`, as users do.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../../src/client/connection.ts';
import { Worker } from '../../src/worker/worker.ts';
import type {
  Consumer,
  ConsumerOptions,
  Contender,
  ContenderInfo,
  Prepared,
  Producer,
  TaskBody,
} from '../harness/contender.ts';
import { manualConsumer } from './pullq-manual.ts';
import { startPullqServer } from './pullq-server.ts';

const QUEUE = 'bench';
const HANDLER = fileURLToPath(new URL('./pullq-handler.ts', import.meta.url));
export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = 'redis://127.0.0.1:6379';

type Store = 'sqlite' | 'postgres' | 'redis' | 'embedded';

const STORE_SETTINGS: Record<Store, Record<string, unknown>> = {
  sqlite: {
    deployment: 'pullq serve --data <temp folder>, its own process',
    store: 'SQLite, WAL, synchronous=NORMAL',
    transport: 'HTTP/1.1 keep-alive (undici), admin token',
  },
  postgres: {
    deployment: 'pullq serve --backend postgres://... (a schema per run), its own process',
    store: 'PostgreSQL, pullq connection pool 10 + 1 LISTEN',
    transport: 'HTTP/1.1 keep-alive (undici), admin token',
  },
  redis: {
    deployment: 'pullq serve --backend redis://... (a key prefix per run), its own process',
    store: 'Redis, one Lua script per verb',
    transport: 'HTTP/1.1 keep-alive (undici), admin token',
  },
  embedded: {
    deployment: 'no server: each process opens sqlite:///<temp>/pullq.db',
    store: 'SQLite, WAL, synchronous=NORMAL',
    transport: 'none (in-process)',
  },
};

const WORKER_SETTINGS = {
  consumer:
    'Worker: 1 child process per consumer process, concurrency = the run, prefetch automatic (the default)',
  lease: '60 s, renewed by the supervisor; long-poll 20 s; acks batched',
  producer: 'SimpleQueue.put / putMany (1,000 per request)',
};

const MANUAL_SETTINGS = {
  consumer: 'manual loop: lease 100 (long-poll 5 s) -> handlers -> ack 100, one call each',
  lease: '30 s',
  producer: 'SimpleQueue.put / putMany (1,000 per request)',
};

/** The version in package.json; the pullq commit is recorded beside the figures. */
async function pullqVersion(): Promise<string> {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
}

async function prepareStore(store: Store, runId: string): Promise<Prepared> {
  const dir = await mkdtemp(join(tmpdir(), `pullq-bench-${runId}-`));
  const configHome = join(dir, 'config');
  const cleanups: (() => Promise<unknown>)[] = [
    async () => rm(dir, { recursive: true, force: true }),
  ];
  const dispose = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    if (store === 'embedded') {
      const url = `sqlite://${join(dir, 'pullq.db')}`;
      await createQueue(url, undefined);
      return { config: { url }, pids: [], dispose };
    }
    let args: string[];
    if (store === 'sqlite') {
      args = ['--data', join(dir, 'data')];
    } else if (store === 'postgres') {
      const schema = `pqbench_${runId.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('schema', schema);
      args = ['--backend', url.href];
      cleanups.push(async () => dropSchema(schema));
    } else {
      const prefix = `pqbench-${runId}`;
      const url = new URL(REDIS_URL);
      url.searchParams.set('prefix', prefix);
      args = ['--backend', url.href];
      cleanups.push(async () => dropRedisPrefix(prefix));
    }
    const server = await startPullqServer(args, configHome);
    cleanups.push(async () => server.stop());
    await createQueue(server.url, server.token);
    return { config: { url: server.url, token: server.token }, pids: [server.pid], dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function createQueue(url: string, token: string | undefined): Promise<void> {
  await using connection = new Connection(url, token === undefined ? {} : { token });
  await connection.ensure(async (backend) => backend.createQueue(QUEUE));
}

async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client(POSTGRES_URL);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function dropRedisPrefix(prefix: string): Promise<void> {
  const { dropPrefix } = await import('../../src/backends/redis/drop-prefix.ts');
  await dropPrefix({ url: REDIS_URL }, prefix);
}

function connect(config: Record<string, string>): Connection {
  const token = config['token'];
  return new Connection(config['url'] as string, token === undefined ? {} : { token });
}

async function producer(config: Record<string, string>): Promise<Producer> {
  const connection = connect(config);
  const queue = connection.simpleQueue<TaskBody>(QUEUE);
  return {
    addOne: async (task) => {
      await queue.put(task);
    },
    addBatch: async (tasks) => {
      const results = await queue.putMany(tasks.map((body) => ({ body })));
      const failed = results.find((result) => !result.ok);
      if (failed !== undefined && !failed.ok) throw failed.error;
    },
    close: async () => connection.close(),
  };
}

async function workerConsumer(
  config: Record<string, string>,
  options: ConsumerOptions,
): Promise<Consumer> {
  const connection = connect(config);
  const worker = new Worker({
    connection,
    queue: QUEUE,
    handler: HANDLER,
    processes: 1,
    concurrency: options.concurrency,
    logLevel: 'warn',
  });
  try {
    await worker.start();
  } catch (error) {
    await connection.close();
    throw error;
  }
  return {
    close: async () => {
      await worker.stop();
      await connection.close();
    },
  };
}

function pullqContender(
  name: string,
  store: Store,
  consumer: 'worker' | 'manual',
  brokerProcesses: string[],
): Contender {
  const info: ContenderInfo = {
    name,
    system: 'pullq',
    // Filled in by `prepare`.
    versions: {},
    settings: {
      ...STORE_SETTINGS[store],
      ...(consumer === 'worker' ? WORKER_SETTINGS : MANUAL_SETTINGS),
    },
    brokerProcesses,
  };
  return {
    info,
    prepare: async ({ runId }) => {
      info.versions['pullq'] ??= await pullqVersion();
      return prepareStore(store, runId);
    },
    producer,
    consumer: async (config, options) =>
      consumer === 'worker'
        ? workerConsumer(config, options)
        : manualConsumer(config, QUEUE, options),
  };
}

export const pullqSqlite = pullqContender('pullq-sqlite', 'sqlite', 'worker', []);
export const pullqSqliteManual = pullqContender('pullq-sqlite-manual', 'sqlite', 'manual', []);
export const pullqPostgres = pullqContender('pullq-postgres', 'postgres', 'worker', ['postgres']);
export const pullqRedis = pullqContender('pullq-redis', 'redis', 'worker', ['redis-server']);
export const pullqEmbedded = pullqContender('pullq-embedded', 'embedded', 'worker', []);
