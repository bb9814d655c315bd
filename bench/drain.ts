/**
 * Drain benchmark: `pullq serve` in its own process, driven over HTTP through HttpBackend, as
 * a real deployment would be; or, with `--direct`, the store itself with no server between.
 *
 * Each run inserts N tasks (batches of 100, a few in flight), then drains them (lease 100,
 * ack 100, a few consumers at once) and checks that every task was processed exactly once: a
 * run with a missing task is invalid. Then the backlog check: drain 1,000 tasks from a queue
 * holding 1,000,000 and from one holding 1,000, and compare the rates.
 *
 *   npm run bench:drain -- [--tasks 100000] [--runs 5] [--backlog 1000000] [--quick]
 *                    [--consumers 8] [--producers 4] [--cpu-prof-dir DIR]
 *                    [--backend URL] [--direct]
 *
 * --backend URL: where the spawned server stores its queues (`pullq serve --backend URL`):
 *   SQLite in a fresh temporary folder by default, or postgres://..., redis://...
 * --direct: no server; the benchmark opens the backend URL itself through the transport
 *   registry, as `new Connection(url)` would (a SQLite file in a temporary folder when no
 *   --backend is given). The server CPU columns are then empty.
 * Queue names carry a random suffix, so a shared database may hold other runs' queues.
 *
 * Human lines and progress go to stderr; stdout gets the summary table and one JSON line
 * per run (and one for the backlog check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Backend, NewTask } from '../src/backends/backend.ts';
import { HttpBackend } from '../src/backends/http.ts';
import { formatTable } from '../src/cli/output.ts';
import { Progress } from '../src/cli/progress.ts';
import { transportFor } from '../src/client/registry.ts';
import { registerBuiltInTransports } from '../src/client/transports.ts';
import { withoutPassword } from '../src/client/registry.ts';

const PULLQ_BIN = fileURLToPath(new URL('../bin/pullq.mjs', import.meta.url));
const INSERT_BATCH = 100;
const BACKLOG_BATCH = 1000;
const LEASE_BATCH = 100;
const BACKLOG_SAMPLE = 1000;
const BACKLOG_REPEATS = 5;

interface BenchOptions {
  tasks: number;
  runs: number;
  backlog: number;
  consumers: number;
  producers: number;
  cpuProfDir: string | undefined;
  /** The store URL; undefined: SQLite in a temporary folder. */
  backend: string | undefined;
  direct: boolean;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: 'string' },
      runs: { type: 'string' },
      backlog: { type: 'string' },
      consumers: { type: 'string' },
      producers: { type: 'string' },
      quick: { type: 'boolean' },
      'cpu-prof-dir': { type: 'string' },
      backend: { type: 'string' },
      direct: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const int = (text: string | undefined, fallback: number, name: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`--${name} must be a whole number`);
    return value;
  };
  return {
    tasks: int(values.tasks, quick ? 10_000 : 100_000, 'tasks'),
    runs: int(values.runs, quick ? 3 : 5, 'runs'),
    backlog: int(values.backlog, quick ? 100_000 : 1_000_000, 'backlog'),
    consumers: int(values.consumers, 8, 'consumers'),
    producers: int(values.producers, 4, 'producers'),
    cpuProfDir: values['cpu-prof-dir'],
    backend: values.backend,
    direct: values.direct ?? false,
  };
}

/** CPU seconds a process has used so far (Linux /proc), to tell who the bottleneck is. */
function processCpuSeconds(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface Server {
  url: string;
  /** The admin token the server was started with; every request carries it, as in production. */
  token: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(
  dataDir: string,
  backend: string | undefined,
  cpuProfDir: string | undefined,
): Promise<Server> {
  const token = `pq_${randomBytes(32).toString('base64url')}`;
  const nodeFlags = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const store = backend === undefined ? ['--data', dataDir] : ['--backend', backend];
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      PULLQ_BIN,
      'serve',
      '--port',
      '0',
      ...store,
      '--print-address-json',
      '--log-level',
      'warn',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own config folder: the benchmark never touches the user's credentials file.
      env: { ...process.env, PULLQ_ADMIN_TOKEN: token, XDG_CONFIG_HOME: join(dataDir, 'config') },
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /\{"listening":"([^"]+)"\}/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`pullq serve exited before listening:\n${stderr}`)));
  });
  return {
    url,
    token,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Payloads are the task's number, so the drain can check each one arrives exactly once. */
async function insertTasks(
  backend: Backend,
  queue: string,
  count: number,
  batchSize: number,
  producers: number,
  progress: Progress | null,
): Promise<void> {
  let next = 0;
  const producer = async (): Promise<void> => {
    while (next < count) {
      const start = next;
      const end = Math.min(count, start + batchSize);
      next = end;
      const tasks: NewTask[] = [];
      for (let n = start; n < end; n += 1) tasks.push({ payload: Buffer.from(String(n)) });
      const results = await backend.insert(queue, tasks);
      const failed = results.find((result) => !result.ok);
      if (failed && !failed.ok) throw failed.error;
      progress?.add(tasks.length);
    }
  };
  await Promise.all(Array.from({ length: producers }, producer));
}

interface DrainResult {
  processed: number;
  missing: number;
  duplicates: number;
  ackFailures: number;
  seconds: number;
}

/**
 * Leases 100 and acks 100 from `consumers` loops at once until `target` tasks were processed.
 * `seen[n]` counts how often task n arrived (payload n); a null `seen` skips the check.
 */
async function drain(
  backend: Backend,
  queue: string,
  target: number,
  consumers: number,
  seen: Uint8Array | null,
  progress: Progress | null,
): Promise<DrainResult> {
  let claimed = 0;
  let processed = 0;
  let duplicates = 0;
  let ackFailures = 0;
  let emptyStreak = 0;
  const started = performance.now();
  const consumer = async (): Promise<void> => {
    while (claimed < target) {
      const want = Math.min(LEASE_BATCH, target - claimed);
      claimed += want;
      const tasks = await backend.lease(queue, { max: want, leaseSeconds: 300 });
      claimed -= want - tasks.length;
      if (tasks.length === 0) {
        // Other consumers hold the rest; after many empty answers in a row, tasks are missing.
        if ((emptyStreak += 1) > 200) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      emptyStreak = 0;
      if (seen) {
        for (const task of tasks) {
          const n = Number(Buffer.from(task.payload).toString());
          if (seen[n] !== undefined) {
            if (seen[n] > 0) duplicates += 1;
            seen[n] += 1;
          }
        }
      }
      const results = await backend.ack(
        queue,
        tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
      );
      ackFailures += results.filter((result) => !result.ok).length;
      processed += tasks.length;
      progress?.add(tasks.length);
    }
  };
  await Promise.all(Array.from({ length: consumers }, consumer));
  const seconds = (performance.now() - started) / 1000;
  const missing = seen ? seen.reduce((sum, count) => sum + (count === 0 ? 1 : 0), 0) : 0;
  return { processed, missing, duplicates, ackFailures, seconds };
}

interface RunResult {
  run: number;
  tasks: number;
  insertSeconds: number;
  insertPerSecond: number;
  drainSeconds: number;
  drainPerSecond: number;
  missing: number;
  duplicates: number;
  ackFailures: number;
  valid: boolean;
  serverCpuInsert: number | null;
  serverCpuDrain: number | null;
  /** Server CPU time per drained task: 1e6 / this is the most one server core can drain. */
  serverMicrosPerDrainedTask: number | null;
  /** CPU of this process (the clients) per second of drain: 1 is one core busy. */
  clientCpuDrain: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const count = (value: number): string => Math.round(value).toLocaleString('en-US');

/** Queue names of this invocation: a shared database may hold queues of earlier ones. */
const SUFFIX = randomBytes(3).toString('hex');

async function measureRun(
  backend: Backend,
  server: Server | null,
  options: BenchOptions,
  run: number,
): Promise<RunResult> {
  const queue = `drain-run-${run}-${SUFFIX}`;
  await backend.createQueue(queue);
  const pid = server?.child.pid ?? null;

  let cpu0 = processCpuSeconds(pid);
  const insertProgress = new Progress({
    unit: 'tasks',
    total: options.tasks,
    label: `run ${run} insert`,
    force: true,
  });
  const insertStart = performance.now();
  await insertTasks(backend, queue, options.tasks, INSERT_BATCH, options.producers, insertProgress);
  const insertSeconds = (performance.now() - insertStart) / 1000;
  insertProgress.stop();
  let cpu1 = processCpuSeconds(pid);
  const serverCpuInsert = cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / insertSeconds;

  const seen = new Uint8Array(options.tasks);
  cpu0 = processCpuSeconds(pid);
  const clientCpu0 = process.cpuUsage();
  const drainProgress = new Progress({
    unit: 'tasks',
    total: options.tasks,
    label: `run ${run} drain`,
    force: true,
  });
  const drained = await drain(
    backend,
    queue,
    options.tasks,
    options.consumers,
    seen,
    drainProgress,
  );
  drainProgress.stop();
  cpu1 = processCpuSeconds(pid);
  const clientCpu = process.cpuUsage(clientCpu0);
  const serverCpuDrain = cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / drained.seconds;
  await backend.deleteQueue(queue);

  const result: RunResult = {
    run,
    tasks: options.tasks,
    insertSeconds,
    insertPerSecond: options.tasks / insertSeconds,
    drainSeconds: drained.seconds,
    drainPerSecond: drained.processed / drained.seconds,
    missing: drained.missing,
    duplicates: drained.duplicates,
    ackFailures: drained.ackFailures,
    valid: drained.missing === 0 && drained.duplicates === 0 && drained.ackFailures === 0,
    serverCpuInsert,
    serverCpuDrain,
    serverMicrosPerDrainedTask:
      cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1e6) / drained.processed,
    clientCpuDrain: (clientCpu.user + clientCpu.system) / 1e6 / drained.seconds,
  };
  say(
    `run ${run}: insert ${count(result.insertPerSecond)} tasks/s, drain ${count(result.drainPerSecond)} tasks/s` +
      (result.valid
        ? ', every task exactly once'
        : `, INVALID: ${result.missing} missing, ${result.duplicates} duplicates, ${result.ackFailures} failed acks`),
  );
  return result;
}

interface BacklogResult {
  backlog: number;
  sample: number;
  backlogPerSecond: number;
  smallPerSecond: number;
  ratio: number;
  preloadPerSecond: number;
}

async function measureBacklog(backend: Backend, options: BenchOptions): Promise<BacklogResult> {
  const big = `drain-backlog-${SUFFIX}`;
  const small = `drain-small-${SUFFIX}`;
  await backend.createQueue(big);
  await backend.createQueue(small);
  const preload = new Progress({
    unit: 'tasks',
    total: options.backlog,
    label: 'backlog preload',
    force: true,
  });
  const preloadStart = performance.now();
  await insertTasks(backend, big, options.backlog, BACKLOG_BATCH, options.producers, preload);
  const preloadSeconds = (performance.now() - preloadStart) / 1000;
  preload.stop();
  say(
    `preloaded ${count(options.backlog)} tasks in ${preloadSeconds.toFixed(1)}s (${count(options.backlog / preloadSeconds)}/s)`,
  );

  const bigRates: number[] = [];
  const smallRates: number[] = [];
  for (let repeat = 0; repeat < BACKLOG_REPEATS; repeat += 1) {
    const fromBig = await drain(backend, big, BACKLOG_SAMPLE, options.consumers, null, null);
    bigRates.push(fromBig.processed / fromBig.seconds);
    await insertTasks(backend, small, BACKLOG_SAMPLE, INSERT_BATCH, options.producers, null);
    const fromSmall = await drain(backend, small, BACKLOG_SAMPLE, options.consumers, null, null);
    smallRates.push(fromSmall.processed / fromSmall.seconds);
  }
  const backlogPerSecond = median(bigRates);
  const smallPerSecond = median(smallRates);
  await backend.deleteQueue(big);
  await backend.deleteQueue(small);
  return {
    backlog: options.backlog,
    sample: BACKLOG_SAMPLE,
    backlogPerSecond,
    smallPerSecond,
    ratio: backlogPerSecond / smallPerSecond,
    preloadPerSecond: options.backlog / preloadSeconds,
  };
}

/** The backend the benchmark drives: a spawned server over HTTP, or the store itself. */
async function openTarget(
  options: BenchOptions,
  dataDir: string,
): Promise<{ backend: Backend; server: Server | null }> {
  if (options.direct) {
    const href = options.backend ?? `sqlite://${join(dataDir, 'pullq.db')}`;
    registerBuiltInTransports();
    const url = new URL(href);
    const backend = await transportFor(url).open({
      url,
      href,
      protocol: 'native',
      project: undefined,
      hrdProject: false,
      token: undefined,
      timeoutMs: 30_000,
    });
    say(`direct: no server, ${withoutPassword(href)} opened in this process`);
    return { backend, server: null };
  }
  const server = await startServer(dataDir, options.backend, options.cpuProfDir);
  const store =
    options.backend === undefined ? `SQLite in ${dataDir}` : withoutPassword(options.backend);
  say(`server: ${server.url} (pid ${server.child.pid ?? '?'}), ${store}`);
  return { backend: new HttpBackend({ url: server.url, token: server.token }), server };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dataDir = await mkdtemp(join(tmpdir(), 'pullq-bench-'));
  say(
    `pullq drain benchmark: ${count(options.tasks)} tasks x ${options.runs} runs, backlog ${count(options.backlog)}; ` +
      `${options.producers} producers, ${options.consumers} consumers; ${cpus().length} CPUs; Node ${process.version}`,
  );
  const { backend, server } = await openTarget(options, dataDir);
  const runs: RunResult[] = [];
  let backlog: BacklogResult | null = null;
  try {
    for (let run = 1; run <= options.runs; run += 1) {
      const result = await measureRun(backend, server, options, run);
      runs.push(result);
      process.stdout.write(`${JSON.stringify({ kind: 'run', ...rounded(result) })}\n`);
    }
    if (options.backlog > 0) {
      backlog = await measureBacklog(backend, options);
      process.stdout.write(`${JSON.stringify({ kind: 'backlog', ...rounded(backlog) })}\n`);
    }
  } finally {
    await backend.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  const valid = runs.filter((run) => run.valid);
  const percent = (value: number | null): string =>
    value === null ? '-' : `${Math.round(value * 100)}%`;
  const rows = runs.map((run) => [
    String(run.run),
    count(run.tasks),
    count(run.insertPerSecond),
    count(run.drainPerSecond),
    percent(run.serverCpuInsert),
    percent(run.serverCpuDrain),
    run.serverMicrosPerDrainedTask === null ? '-' : run.serverMicrosPerDrainedTask.toFixed(1),
    percent(run.clientCpuDrain),
    run.valid ? 'ok' : `INVALID (${run.missing} missing, ${run.duplicates} dup)`,
  ]);
  rows.push([
    'median',
    '',
    count(median(valid.map((run) => run.insertPerSecond))),
    count(median(valid.map((run) => run.drainPerSecond))),
    '',
    '',
    '',
    '',
    `${valid.length}/${runs.length} valid`,
  ]);
  process.stdout.write(
    '\n' +
      formatTable(
        [
          'RUN',
          'TASKS',
          'INSERT/S',
          'DRAIN/S',
          'SERVER CPU INSERT',
          'SERVER CPU DRAIN',
          'SERVER CPU-µs/TASK',
          'CLIENT CPU DRAIN',
          'EXACTLY ONCE',
        ],
        rows,
        ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
      ),
  );
  if (backlog) {
    process.stdout.write(
      `\nbacklog: draining ${count(backlog.sample)} tasks from a queue of ${count(backlog.backlog)}: ` +
        `${count(backlog.backlogPerSecond)}/s; from a queue of ${count(backlog.sample)}: ${count(backlog.smallPerSecond)}/s; ` +
        `ratio ${backlog.ratio.toFixed(2)} (1.00: the backlog costs nothing)\n`,
    );
  }
  if (valid.length < runs.length) process.exitCode = 1;
}

function rounded<T extends object>(value: T): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      typeof field === 'number' && !Number.isInteger(field)
        ? Math.round(field * 1000) / 1000
        : field,
    ]),
  );
}

await main();
