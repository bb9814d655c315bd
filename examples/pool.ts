/**
 * The seed's "A Simple Multiprocess Worker": N child processes, each running examples/worker.ts
 * (the same worker as above), each opening its own connection once started; a connection is
 * never shared across processes. The parent waits for all of them and prints the total.
 *
 *   node examples/pool.ts [--workers <n>] [--idle <seconds>]
 *
 * `--workers` defaults to the number of CPUs; `--idle` is passed to each worker, which stops
 * once the queue has stayed empty that long (default 2). SIGINT and SIGTERM are passed on to
 * the workers, which finish the task in hand and give their prefetched tasks back. The
 * workers read PULLQ_URL, PULLQ_TOKEN and PULLQ_QUEUE from the environment they inherit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: String(availableParallelism()) },
    idle: { type: 'string', default: '2' },
  },
});
const workerCount = Number(values.workers);
if (!Number.isInteger(workerCount) || workerCount < 1) {
  console.error('usage: node examples/pool.ts [--workers <n>] [--idle <seconds>]: n >= 1');
  process.exit(2);
}

const workerFile = fileURLToPath(new URL('worker.ts', import.meta.url));
let processed = 0;
const workers: Array<{ child: ChildProcess; closed: Promise<WorkerEnd> }> = [];

interface WorkerEnd {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function onSignal(signal: NodeJS.Signals): void {
  console.error(`pool: ${signal}, passing it on to the workers`);
  for (const { child } of workers) child.kill(signal);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

console.log(`pool starting ${workerCount} workers`);
for (let index = 0; index < workerCount; index++) {
  const child = fork(workerFile, ['--idle', values.idle], {
    // The same Node flags as this process (--conditions=pullq-source, for one).
    execArgv: process.execArgv,
    // Its own process group: Ctrl-C reaches only this parent, which passes it on once. Sent
    // by the terminal to the whole group as well, it would count as a second signal.
    detached: true,
  });
  child.on('message', (report: { processed: number }) => (processed += report.processed));
  // 'close', not 'exit': it comes after the last message on the channel.
  const closed = once(child, 'close').then(([code, signal]: unknown[]) => ({
    pid: child.pid,
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  workers.push({ child, closed });
  console.log(`pool started worker ${child.pid}`);
}

const ends = await Promise.all(workers.map(async (worker) => worker.closed));
for (const end of ends) {
  if (end.code !== 0) {
    console.error(`pool: worker ${end.pid} ended with ${end.signal ?? `exit code ${end.code}`}`);
    process.exitCode = 1;
  }
}
console.log(`pool processed ${processed} tasks with ${workerCount} workers`);
