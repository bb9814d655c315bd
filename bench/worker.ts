/**
 * Worker benchmark: `pullq serve` on SQLite in its own process, a Worker with 2 child
 * processes running a no-op handler, `once` until the queue is empty. Reports tasks/s from the
 * worker's start to its stop (children forked, every task leased, run and acked).
 *
 *   node bench/worker.ts [--tasks 100000] [--quick] [--processes 2] [--concurrency 50]
 *                        [--prefetch N (default: the worker's automatic size)]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Connection } from '../src/client/connection.ts';
import { Worker } from '../src/worker/worker.ts';
import { startPullqServer } from './contenders/pullq-server.ts';

const NOOP_HANDLER = fileURLToPath(new URL('../test/worker/fixtures/noop.ts', import.meta.url));

const { values } = parseArgs({
  options: {
    tasks: { type: 'string' },
    quick: { type: 'boolean', default: false },
    processes: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '50' },
    prefetch: { type: 'string' },
  },
});
const tasks = Number(values.tasks ?? (values.quick ? 10_000 : 100_000));
const processes = Number(values.processes);
const concurrency = Number(values.concurrency);
const prefetch = values.prefetch === undefined ? undefined : Number(values.prefetch);

const dir = await mkdtemp(join(tmpdir(), 'pullq-bench-worker-'));
const server = await startPullqServer(['--data', dir], join(dir, 'no-config'));
try {
  await using connection = new Connection(server.url, { token: server.token });
  const queue = connection.simpleQueue('bench');
  process.stderr.write(`inserting ${tasks} tasks...\n`);
  const batch = Array.from({ length: 1000 }, () => ({ body: { n: 1 } }));
  for (let done = 0; done < tasks; done += 1000) {
    await queue.putMany(batch.slice(0, Math.min(1000, tasks - done)));
  }
  const worker = new Worker({
    connection,
    queue: 'bench',
    handler: NOOP_HANDLER,
    processes,
    concurrency,
    ...(prefetch === undefined ? {} : { prefetch }),
    once: true,
    logLevel: 'warn',
  });
  process.stderr.write(`draining with ${processes} processes x ${concurrency}...\n`);
  const started = performance.now();
  await worker.start();
  await worker.done;
  const seconds = (performance.now() - started) / 1000;
  const stats = worker.stats();
  if (stats.processed !== tasks || (await queue.qsize()) !== 0) {
    throw new Error(`invalid run: processed ${stats.processed} of ${tasks}`);
  }
  const rate = Math.round(tasks / seconds);
  process.stdout.write(
    `${JSON.stringify({ bench: 'worker', tasks, processes, concurrency, prefetch: prefetch ?? 'auto', seconds: Number(seconds.toFixed(2)), tasksPerSecond: rate })}\n`,
  );
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
