/**
 * The Redis backend alone, without HTTP: insert and drain rates (one consumer, and several
 * at once), lease cost against the size of the backlog, stats and purge on a large queue,
 * and Redis memory per queued task.
 * Runs under a key prefix of its own, deleted at the end.
 *
 *   node bench/redis-backend.ts [--url redis://127.0.0.1:6379] [--tasks 100000]
 *     [--consumers 4] [--backlog 200000]
 */
import { parseArgs } from 'node:util';
import type { NewTask } from '../src/backends/backend.ts';
import { dropPrefix } from '../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../src/backends/redis/open.ts';
import { RedisBackend } from '../src/backends/redis/redis-backend.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6379' },
    tasks: { type: 'string', default: '100000' },
    consumers: { type: 'string', default: '4' },
    backlog: { type: 'string', default: '200000' },
  },
});
const TASKS = Number(args.tasks);
const CONSUMERS = Number(args.consumers);
const BACKLOG = Number(args.backlog);
const BATCH = 100;
const OPTIONS = redisOptionsFromUrl(new URL(args.url));
const PREFIX = `pq-bench-${process.pid}`;
const payload = new TextEncoder().encode(JSON.stringify({ job: 'send-email', to: 'a@b.c', n: 1 }));

function batch(): NewTask[] {
  return Array.from({ length: BATCH }, () => ({ payload }));
}

async function fill(backend: RedisBackend, queue: string, count: number): Promise<number> {
  const started = performance.now();
  for (let done = 0; done < count; done += BATCH) {
    await backend.insert(queue, batch(), { createQueue: true });
  }
  return performance.now() - started;
}

/** Leases 100 and acks them until the queue is empty (or `rounds` times). */
async function drain(backend: RedisBackend, queue: string, rounds = Infinity) {
  let count = 0;
  let round = 0;
  for (; round < rounds; round++) {
    const tasks = await backend.lease(queue, { max: BATCH, leaseSeconds: 60 });
    if (tasks.length === 0) break;
    const results = await backend.ack(
      queue,
      tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
    );
    if (results.some((result) => !result.ok)) throw new Error('an ack failed');
    count += tasks.length;
  }
  return { count, rounds: round };
}

async function usedMemory(): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = new Redis({ ...OPTIONS.redis, lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  } finally {
    client.disconnect();
  }
}

const rate = (count: number, ms: number): number => Math.round(count / (ms / 1000));
const backends = Array.from(
  { length: CONSUMERS },
  () => new RedisBackend({ ...OPTIONS, prefix: PREFIX }),
);
const [backend] = backends;
if (!backend) throw new Error('--consumers must be at least 1');
try {
  const insertMs = await fill(backend, 'one', TASKS);
  console.log(
    `insert ${TASKS} in batches of ${BATCH}: ${rate(TASKS, insertMs)} tasks/s ` +
      `(${(insertMs / (TASKS / BATCH)).toFixed(3)} ms per batch)`,
  );
  let started = performance.now();
  const single = await drain(backend, 'one');
  let ms = performance.now() - started;
  console.log(
    `drain ${single.count}, 1 consumer (lease ${BATCH} + ack ${BATCH}): ${rate(single.count, ms)} tasks/s ` +
      `(${(ms / single.rounds).toFixed(3)} ms per lease+ack)`,
  );

  await fill(backend, 'many', TASKS);
  started = performance.now();
  const drained = await Promise.all(backends.map((each) => drain(each, 'many')));
  ms = performance.now() - started;
  const total = drained.reduce((sum, each) => sum + each.count, 0);
  console.log(
    `drain ${total}, ${CONSUMERS} consumers at once, each its own connection: ${rate(total, ms)} tasks/s`,
  );

  const before = await usedMemory();
  await fill(backend, 'small', 1000);
  const bigFillMs = await fill(backend, 'big', BACKLOG);
  const perTask = ((await usedMemory()) - before) / (BACKLOG + 1000);
  const time = async (queue: string): Promise<number> => {
    const t = performance.now();
    await drain(backend, queue, 10);
    await fill(backend, queue, 1000);
    return (performance.now() - t) / 10;
  };
  await time('small');
  await time('big');
  const small = await time('small');
  const big = await time('big');
  console.log(
    `lease+ack 100 (and put back): ${small.toFixed(3)} ms from a queue of 1000, ` +
      `${big.toFixed(3)} ms from a queue of ${BACKLOG} (filled in ${Math.round(bigFillMs)} ms)`,
  );
  let t = performance.now();
  await backend.stats('big');
  const statsMs = performance.now() - t;
  t = performance.now();
  const purged = await backend.purgeQueue('big');
  console.log(
    `on the queue of ${BACKLOG}: stats ${statsMs.toFixed(1)} ms, purge of ${purged} tasks ` +
      `${Math.round(performance.now() - t)} ms`,
  );
  console.log(
    `Redis memory per queued task (payload ${payload.length} bytes): ~${Math.round(perTask)} bytes`,
  );
} finally {
  await Promise.all(backends.map((each) => each.close()));
  await dropPrefix(OPTIONS, PREFIX);
}
