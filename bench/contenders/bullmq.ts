/**
 * BullMQ 6.7 on Redis as a contender of the side-by-side benchmark (bench/harness/contender.ts).
 *
 * - `bullmq`: the fast settings of peers.md 4.4. Worker `concurrency` from the run,
 *   `lockDuration` 30 s (the lease every contender gets), `stalledInterval` left at its 30 s
 *   default, `maxRetriesPerRequest: null` on the worker connection, no metrics. Jobs carry
 *   `removeOnComplete`/`removeOnFail` so finished jobs leave Redis as pullq's acked tasks do,
 *   and `attempts: 3` so a handler that throws is run again (BullMQ's default is one attempt,
 *   which would drop the task; 3 is pg-boss's default of 2 retries).
 * - `bullmq-defaults`: a Worker with only `concurrency` and the connection, jobs added with
 *   no options: finished jobs stay in Redis, and dispose logs how many keys the run left.
 *
 * ioredis `enableAutoPipelining` stays off: BullMQ's docs do not list it as a setting, its
 * maintainer doubts it suits BullMQ's Lua-script traffic (taskforcesh/bullmq#1127) and a user
 * reported lost-lock errors with it (#457).
 *
 * Each run uses its own queue name, so its keys are `bull:bench-<runId>:*`; dispose removes
 * them with `obliterate` and deletes whatever that left.
 */
import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
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

const REDIS_URL = 'redis://127.0.0.1:6379';
/** BullMQ's default key prefix (`prefix` option), which both variants keep. */
const PREFIX = 'bull';
const JOB_NAME = 'task';
/** The lease every contender gets where it is configurable (peers.md 4.3 R1). */
const LOCK_MS = 30_000;

type Variant = 'fast' | 'defaults';

const FAST_JOB_OPTIONS: JobsOptions = { removeOnComplete: true, removeOnFail: true, attempts: 3 };

export const bullmq = bullmqContender('fast');
export const bullmqDefaults = bullmqContender('defaults');

function bullmqContender(variant: Variant): Contender {
  const fast = variant === 'fast';
  const name = fast ? 'bullmq' : 'bullmq-defaults';
  const jobOptions: JobsOptions | undefined = fast ? FAST_JOB_OPTIONS : undefined;
  const info: ContenderInfo = {
    name,
    system: 'BullMQ',
    // Filled in by `prepare`: package versions and the Redis server's.
    versions: {},
    settings: fast
      ? {
          worker: {
            concurrency: 'ConsumerOptions.concurrency',
            lockDuration: LOCK_MS,
            stalledInterval: '30000 (default)',
            maxRetriesPerRequest: null,
            metrics: 'off (default)',
          },
          jobOptions: FAST_JOB_OPTIONS,
          addOne: 'Queue.add',
          addBatch: 'Queue.addBulk',
          enableAutoPipelining: false,
        }
      : {
          worker: { concurrency: 'ConsumerOptions.concurrency' },
          jobOptions: 'none (finished jobs are kept)',
          addOne: 'Queue.add',
          addBatch: 'Queue.addBulk',
        },
    brokerProcesses: ['redis-server'],
  };

  async function prepare({ runId }: { runId: string }): Promise<Prepared> {
    const queue = `bench-${runId}`;
    const redis = await connect();
    try {
      Object.assign(info.versions, {
        bullmq: packageVersion('bullmq'),
        ioredis: packageVersion('ioredis'),
        redis: serverVersion(await redis.info('server')),
      });
      const leftover = await queueKeys(redis, queue);
      if (leftover.length > 0) {
        throw new Error(`${name}: ${leftover.length} keys already under ${PREFIX}:${queue}:`);
      }
    } finally {
      await redis.quit();
    }
    return {
      config: { redisUrl: REDIS_URL, queue },
      pids: [],
      dispose: () => dispose(queue),
    };
  }

  async function dispose(queue: string): Promise<void> {
    const { Queue } = await import('bullmq');
    const redis = await connect();
    try {
      const before = (await queueKeys(redis, queue)).length;
      const bull = new Queue(queue, { connection: { url: REDIS_URL } });
      try {
        await bull.obliterate({ force: true });
      } finally {
        await bull.close();
      }
      const left = await queueKeys(redis, queue);
      if (left.length > 0) await redis.unlink(...left);
      process.stderr.write(
        `${name}: ${before} Redis keys under ${PREFIX}:${queue}: at dispose;` +
          ` obliterate left ${left.length}, deleted\n`,
      );
    } finally {
      await redis.quit();
    }
  }

  async function producer(config: Record<string, string>): Promise<Producer> {
    const { Queue } = await import('bullmq');
    const queue = new Queue<TaskBody>(requiredConfig(config, 'queue'), {
      connection: { url: requiredConfig(config, 'redisUrl') },
    });
    queue.on('error', (error) => process.stderr.write(`${name} queue: ${String(error)}\n`));
    await queue.waitUntilReady();
    return {
      async addOne(task) {
        await queue.add(JOB_NAME, task, jobOptions);
      },
      async addBatch(tasks) {
        await queue.addBulk(tasks.map((data) => ({ name: JOB_NAME, data, opts: jobOptions })));
      },
      close: () => queue.close(),
    };
  }

  async function consumer(
    config: Record<string, string>,
    options: ConsumerOptions,
  ): Promise<Consumer> {
    const { Worker } = await import('bullmq');
    const url = requiredConfig(config, 'redisUrl');
    const worker = new Worker<TaskBody>(
      requiredConfig(config, 'queue'),
      async (job) => {
        await options.handler(job.data);
      },
      fast
        ? {
            connection: { url, maxRetriesPerRequest: null },
            concurrency: options.concurrency,
            lockDuration: LOCK_MS,
          }
        : { connection: { url }, concurrency: options.concurrency },
    );
    worker.on('error', (error) => process.stderr.write(`${name} worker: ${String(error)}\n`));
    await worker.waitUntilReady();
    return {
      // Without `force`, close stops fetching and waits for the jobs in flight to complete.
      close: () => worker.close(),
    };
  }

  const contender: Contender = { info, prepare, producer, consumer };
  return contender;
}

async function connect(): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  return redis;
}

/** The run's keys, found with SCAN (never KEYS: the server may hold other engineers' data). */
async function queueKeys(redis: Redis, queue: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}:${queue}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

function serverVersion(infoServer: string): string {
  const match = /^redis_version:(\S+)/m.exec(infoServer);
  if (!match?.[1]) throw new Error('INFO server has no redis_version');
  return match[1];
}
