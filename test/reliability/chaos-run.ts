/**
 * One chaos run against one backend: `pullq serve` on a store of its own, worker supervisors
 * (chaos-worker.ts) and producers, the controller killing the server and worker children
 * while `tasks` numbered tasks go through; then, the chaos over, it waits until the queue is
 * empty (nothing ready, delayed, leased or dead), stops the workers (running attempts finish
 * and write their `D`), stops the server and judges from the ledger (chaos-checker.ts).
 *
 * Everything it started is stopped whatever happens; the run's folder (ledger, logs, SQLite
 * data) is deleted unless the run failed or `keep` is set, and its path is in the result.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../../src/client/connection.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { storeFor, type BackendName } from './chaos-backends.ts';
import { checkLedger, type ChaosCheck } from './chaos-checker.ts';
import { ChaosController, seededRandom, type ChaosTiming } from './chaos-controller.ts';
import { WorkerFleet, type FleetReport } from './chaos-fleet.ts';
import { LedgerWriter, readLedger } from './chaos-ledger.ts';
import { produce, type ProducerReport } from './chaos-producer.ts';
import { ChaosServer } from './chaos-server.ts';

const QUEUE = 'chaos';
/** Not a secret: the server listens on loopback for the run only. */
const ADMIN_TOKEN = 'pq_chaos-admin-token-loopback-only';

export interface ChaosOptions {
  backend: BackendName;
  tasks: number;
  serverKills: number;
  workerKills: number;
  seed: number;
  leaseSeconds: number;
  /** Worker supervisors, each with `processes` children of `concurrency` slots. */
  workers: number;
  processes: number;
  concurrency: number;
  producers: number;
  batch: number;
  /** The longest a handler works, ms (a random share of it each time). */
  workMs: number;
  timing: ChaosTiming;
  /** How long the queue may take to empty once the chaos is over. */
  drainTimeoutMs: number;
  keep: boolean;
  /** Progress lines, for the command line. */
  log?: (line: string) => void;
}

export interface ChaosResult {
  backend: BackendName;
  check: ChaosCheck;
  producers: ProducerReport;
  workers: FleetReport;
  seconds: number;
  /** Kept when the run failed or `keep` was set; deleted otherwise. */
  dir: string;
  /** What made the run fail besides the ledger's verdict (a timeout, a process that failed). */
  error: string | null;
  /** Every process the run started (servers, supervisors, children): all gone by now. */
  pids: number[];
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), `pullq-chaos-${options.backend}-`));
  const ledgerDir = join(dir, 'ledger');
  await mkdir(ledgerDir);
  const name = `chaos_${process.pid}_${Date.now().toString(36)}`;
  const store = storeFor(options.backend, dir, name);
  const controllerLedger = new LedgerWriter(ledgerDir, 'controller');
  const producerLedger = new LedgerWriter(ledgerDir, 'producer');
  const server = new ChaosServer({
    storeArgs: store.args,
    adminToken: ADMIN_TOKEN,
    dir,
    ledger: controllerLedger,
  });
  const fleet = new WorkerFleet();
  const failed = new AbortController();
  let producers: ProducerReport = { inserted: 0, landedEarlier: 0, batchRetries: 0 };
  let workers: FleetReport = { processed: 0, redelivered: 0, leaseLost: 0 };
  let error: string | null = null;
  try {
    await server.start();
    log(`${options.backend}: server on ${server.url}, run folder ${dir}`);
    await createQueue(server.url);
    await fleet.start(options.workers, {
      url: server.url,
      token: ADMIN_TOKEN,
      queue: QUEUE,
      dir: ledgerDir,
      processes: options.processes,
      concurrency: options.concurrency,
      leaseSeconds: options.leaseSeconds,
      workMs: options.workMs,
    });
    const controller = new ChaosController({
      server,
      fleet,
      ledger: controllerLedger,
      serverKills: options.serverKills,
      workerKills: options.workerKills,
      timing: options.timing,
      random: seededRandom(options.seed),
      failed,
    });
    controller.start();
    const progress = setInterval(() => {
      log(
        `${options.backend}: ${Math.round((performance.now() - started) / 1000)} s, ` +
          `server kills ${controller.serverKills}, worker kills ${controller.workerKills}`,
      );
    }, 10_000);
    try {
      producers = await produce({
        url: server.url,
        token: ADMIN_TOKEN,
        queue: QUEUE,
        tasks: options.tasks,
        batch: options.batch,
        loops: options.producers,
        ledger: producerLedger,
        allowed: () => controller.allowed(options.tasks),
        signal: failed.signal,
        log: (line) => log(`${options.backend}: ${line}`),
      });
      log(`${options.backend}: ${producers.inserted} inserted; chaos goes on to its minimums`);
      await controller.finish();
    } finally {
      clearInterval(progress);
    }
    log(`${options.backend}: chaos over; waiting for the queue to empty`);
    const left = await drained(server.url, options.drainTimeoutMs);
    if (left !== null) error = `the queue did not empty in ${options.drainTimeoutMs} ms: ${left}`;
    workers = await fleet.stop();
    await server.stop();
  } catch (thrown) {
    // The producers stop with an AbortError when a chaos loop failed: its error is the story.
    const caught: unknown = failed.signal.aborted ? failed.signal.reason : thrown;
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
    if (server.stderr !== '') error += `\nserver stderr:\n${server.stderr}`;
  } finally {
    await fleet.kill();
    await server.stop();
    controllerLedger.close();
    producerLedger.close();
  }
  const check = checkLedger(readLedger(ledgerDir));
  const result: ChaosResult = {
    backend: options.backend,
    check,
    producers,
    workers,
    seconds: (performance.now() - started) / 1000,
    dir,
    error,
    pids: [...server.pids, ...fleet.pids()],
  };
  await store.drop().catch((dropError: unknown) => {
    log(`${options.backend}: could not drop the run's store ${name}: ${String(dropError)}`);
  });
  if (!options.keep && passed(result)) await rm(dir, { recursive: true, force: true });
  return result;
}

/** A run passes when nothing was lost, every re-run has a cause and nothing else failed. */
export function passed(result: ChaosResult): boolean {
  const { check } = result;
  return (
    result.error === null &&
    check.lost.length === 0 &&
    check.rerunBy.unexplained === 0 &&
    check.serverCrashes === 0 &&
    check.torn === 0 &&
    check.inserted > 0
  );
}

async function createQueue(url: string): Promise<void> {
  await using connection = new Connection(url, { token: ADMIN_TOKEN });
  try {
    await connection.ensure(async (backend) => backend.createQueue(QUEUE));
  } catch (error) {
    if (!isPullqError(error, 'already_exists')) throw error;
  }
}

/** Polls the queue's stats until nothing is ready, delayed, leased or dead; null once it is,
 * else what was left when `timeoutMs` ran out. */
async function drained(url: string, timeoutMs: number): Promise<string | null> {
  await using connection = new Connection(url, { token: ADMIN_TOKEN });
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    try {
      const stats = await connection.ensure(async (backend) => backend.stats(QUEUE));
      const { ready, delayed, leased, dead } = stats;
      if (ready + delayed + leased + dead === 0) return null;
      last = `ready ${ready}, delayed ${delayed}, leased ${leased}, dead ${dead}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return last;
}
