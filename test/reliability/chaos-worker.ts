/**
 * A worker supervisor of the chaos test, in a process of its own (forked by the controller
 * with an IPC channel): a `Worker` on the server's queue running chaos-handler.ts in
 * `processes` children. The controller SIGKILLs those children, never this process.
 *
 * It writes to its own ledger what only the supervisor sees: each ack's outcome (`A`), each
 * lost lease (`L`) and each task of a dead child handed to another (`R`); it tells the
 * controller over IPC which children are alive and which have finished a task since they
 * started (only those are killed: see ChaosController), and stops when told to. Its logs and
 * its children's go to `worker-<pid>.log` in the run's folder.
 *
 *   argv[2]: a JSON ChaosWorkerConfig
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Connection } from '../../src/client/connection.ts';
import { Worker } from '../../src/worker/worker.ts';
import { LedgerWriter } from './chaos-ledger.ts';

export interface ChaosWorkerConfig {
  url: string;
  token: string;
  queue: string;
  dir: string;
  processes: number;
  concurrency: number;
  leaseSeconds: number;
  /** The longest a handler works (CHAOS_WORK_MS of chaos-handler.ts). */
  workMs: number;
}

/** What a supervisor tells the controller. */
export type FromChaosWorker =
  | { type: 'started' }
  | { type: 'child-start'; pid: number }
  | { type: 'child-progressed'; pid: number }
  | { type: 'child-exit'; pid: number }
  | { type: 'stopped'; processed: number; redelivered: number; leaseLost: number };

export const CHAOS_WORKER_ENTRY = fileURLToPath(import.meta.url);
export const CHAOS_HANDLER = fileURLToPath(new URL('./chaos-handler.ts', import.meta.url));

function tell(message: FromChaosWorker): void {
  process.send?.(message);
}

async function main(config: ChaosWorkerConfig): Promise<void> {
  const ledger = new LedgerWriter(config.dir, `worker-${process.pid}`);
  const logFile = join(config.dir, `worker-${process.pid}.log`);
  const logger = pino({ level: 'warn', name: 'chaos-worker' }, pino.destination(logFile));
  const connection = new Connection(config.url, { token: config.token });
  const worker = new Worker({
    connection,
    queue: config.queue,
    handler: CHAOS_HANDLER,
    processes: config.processes,
    concurrency: config.concurrency,
    leaseSeconds: config.leaseSeconds,
    logLevel: 'warn',
    logger,
    onChildOutput: (line) => appendFileSync(logFile, `${line}\n`),
  });
  const ppid = process.pid;
  const progressed = new Set<number>();
  worker.on('child-start', ({ pid }) => tell({ type: 'child-start', pid }));
  worker.on('child-exit', ({ pid }) => {
    progressed.delete(pid);
    tell({ type: 'child-exit', pid });
  });
  worker.on('processed', ({ id, attempts, pid, acked }) => {
    ledger.write('A', { id, pid, ppid, attempt: attempts, flag: acked ? 1 : 0 });
    if (!progressed.has(pid)) {
      progressed.add(pid);
      tell({ type: 'child-progressed', pid });
    }
  });
  worker.on('lease-lost', ({ id }) => ledger.write('L', { id, ppid }));
  worker.on('redelivered', ({ id, pid }) => ledger.write('R', { id, pid, ppid }));
  // A failed attempt would be a bug of the handler; it is logged, and retried by the worker.
  worker.on('failed', (event) => logger.error(event, 'chaos handler failed'));

  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') void worker.stop();
  });
  process.on('disconnect', () => void worker.stop({ force: true }));
  await worker.start();
  tell({ type: 'started' });
  await worker.done;
  await connection.close();
  const stats = worker.stats();
  ledger.close();
  tell({
    type: 'stopped',
    processed: stats.processed,
    redelivered: stats.redelivered,
    leaseLost: stats.leaseLost,
  });
  process.disconnect?.();
}

if (process.argv[1] === CHAOS_WORKER_ENTRY) {
  await main(JSON.parse(process.argv[2] ?? '{}') as ChaosWorkerConfig);
}
