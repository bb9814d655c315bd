/**
 * The SQLite backend alone, without HTTP: insert and drain rates, and lease cost against the
 * size of the backlog (it must not grow with it).
 *
 *   node bench/sqlite-backend.ts [--tasks 100000] [--backlog 1000000] [--synchronous FULL]
 *     [--dir /path/to/a/folder/on/the/disk/to/measure]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NewTask } from '../src/backends/backend.ts';
import { SqliteBackend } from '../src/backends/sqlite/sqlite-backend.ts';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    backlog: { type: 'string', default: '1000000' },
    synchronous: { type: 'string', default: 'NORMAL' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const TASKS = Number(args.tasks);
const BACKLOG = Number(args.backlog);
const synchronous = args.synchronous === 'FULL' ? 'FULL' : 'NORMAL';
const BATCH = 100;
const payload = new TextEncoder().encode(JSON.stringify({ job: 'send-email', to: 'a@b.c', n: 1 }));

function batch(): NewTask[] {
  return Array.from({ length: BATCH }, () => ({ payload }));
}

async function fill(backend: SqliteBackend, queue: string, count: number): Promise<number> {
  const started = performance.now();
  for (let done = 0; done < count; done += BATCH) {
    await backend.insert(queue, batch(), { createQueue: true });
  }
  return performance.now() - started;
}

/** Leases 100 and acks them, `rounds` times (or until empty); returns ms per round. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function drain(backend: SqliteBackend, queue: string, rounds = Infinity) {
  let leaseMs = 0;
  let ackMs = 0;
  const cpuStart = cpuMs();
  let count = 0;
  let round = 0;
  for (; round < rounds; round++) {
    let t = performance.now();
    const tasks = await backend.lease(queue, { max: BATCH, leaseSeconds: 60 });
    leaseMs += performance.now() - t;
    if (tasks.length === 0) break;
    t = performance.now();
    const results = await backend.ack(
      queue,
      tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
    );
    ackMs += performance.now() - t;
    if (results.some((result) => !result.ok)) throw new Error('an ack failed');
    count += tasks.length;
  }
  return { count, leaseMs, ackMs, rounds: round, cpuMs: cpuMs() - cpuStart };
}

/**
 * Leases and acks 1000 tasks (10 rounds of 100) and puts 1000 back, 7 times; returns the
 * median run by CPU time, which other processes on the machine disturb less than wall time.
 */
async function bestOf(backend: SqliteBackend, queue: string) {
  const runs = [];
  for (let i = 0; i < 7; i++) {
    runs.push(await drain(backend, queue, 10));
    await fill(backend, queue, 1000);
  }
  runs.sort((a, b) => a.cpuMs - b.cpuMs);
  return runs[3] ?? runs[0]!;
}

const dir = mkdtempSync(join(args.dir, 'pullq-bench-sqlite-'));
try {
  const backend = new SqliteBackend({ path: join(dir, 'bench.db'), synchronous });

  const insertMs = await fill(backend, 'rate', TASKS);
  const drained = await drain(backend, 'rate');
  const drainMs = drained.leaseMs + drained.ackMs;
  console.log(`synchronous=${synchronous}`);
  console.log(
    `insert ${TASKS} in batches of ${BATCH}: ${Math.round(TASKS / (insertMs / 1000))} tasks/s ` +
      `(${(insertMs / (TASKS / BATCH)).toFixed(3)} ms per batch)`,
  );
  console.log(
    `drain ${drained.count} (lease ${BATCH} + ack ${BATCH}): ` +
      `${Math.round(drained.count / (drainMs / 1000))} tasks/s ` +
      `(lease ${(drained.leaseMs / drained.rounds).toFixed(3)} ms, ` +
      `ack ${(drained.ackMs / drained.rounds).toFixed(3)} ms per batch; ` +
      `CPU ${(drained.cpuMs / drained.rounds).toFixed(3)} ms per lease+ack)`,
  );

  // Both queues keep their size while measured (1000 tasks leased and acked, then put back),
  // after one warm-up round that loads the pages a drain touches into the cache.
  await fill(backend, 'small', 2000);
  await drain(backend, 'small', 1);
  const small = await bestOf(backend, 'small');
  const bigFillMs = await fill(backend, 'big', BACKLOG);
  await drain(backend, 'big', 1);
  const big = await bestOf(backend, 'big');
  const per = (run: typeof small): string =>
    `lease ${(run.leaseMs / run.rounds).toFixed(3)} ms + ack ${(run.ackMs / run.rounds).toFixed(3)} ms ` +
    `per 100 (CPU ${(run.cpuMs / run.rounds).toFixed(3)} ms per lease+ack)`;
  console.log(`lease+ack 1000 from a queue of 1000: ${per(small)}`);
  console.log(
    `lease+ack 1000 from a queue of ${BACKLOG}: ${per(big)} (filled in ${Math.round(bigFillMs)} ms)`,
  );
  const t = performance.now();
  const stats = await backend.stats('big');
  console.log(`stats of the big queue: ${(performance.now() - t).toFixed(1)} ms`, stats.ready);
  const t2 = performance.now();
  await backend.list('big', { limit: 100, state: 'ready' });
  console.log(`list 100 ready of the big queue: ${(performance.now() - t2).toFixed(1)} ms`);
  await backend.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
