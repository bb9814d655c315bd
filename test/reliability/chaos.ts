/**
 * The chaos test: producers insert numbered tasks into a real `pullq serve`, worker
 * supervisors process them in child processes, and a controller SIGKILLs and restarts the
 * server and SIGKILLs worker children throughout. A ledger written by producers, handlers and
 * supervisors then says what was inserted, processed, lost (must be 0) and processed more than
 * once, and why. One run per backend, one after the other; a table at the end.
 *
 *   npm run chaos -- [--tasks 50000] [--backend sqlite|postgres|redis|all] [--server-kills 20]
 *                    [--worker-kills 50] [--seed N] [--lease-seconds 5] [--keep]
 *                    [--workers 2] [--processes 2] [--concurrency 10] [--work-ms 20]
 *
 * --workers supervisors each run --processes children of --concurrency slots; a handler works
 * a random 0 to --work-ms ms. --keep keeps the run's folder (ledger, logs) even when it passed.
 *
 * `all` (the default) runs PostgreSQL and Redis when they can be reached and says which were
 * skipped; under CI=true one that cannot be reached fails the command. Exit code 1 when any run
 * failed; its folder (ledger, logs) is kept and named.
 */
import { parseArgs } from 'node:util';
import { BACKENDS, unreachable, type BackendName } from './chaos-backends.ts';
import { DEFAULT_TIMING } from './chaos-controller.ts';
import { passed, runChaos, type ChaosResult } from './chaos-run.ts';
import { chaosFailures, chaosNotes, chaosTable } from './chaos-table.ts';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '50000' },
    backend: { type: 'string', default: 'all' },
    'server-kills': { type: 'string', default: '20' },
    'worker-kills': { type: 'string', default: '50' },
    seed: { type: 'string' },
    'lease-seconds': { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    processes: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '10' },
    'work-ms': { type: 'string', default: '20' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'npm run chaos -- [--tasks 50000] [--backend sqlite|postgres|redis|all] [--server-kills 20] ' +
      '[--worker-kills 50] [--seed N] [--lease-seconds 5] [--workers 2] [--processes 2] ' +
      '[--concurrency 10] [--work-ms 20] [--keep]\n',
  );
  process.exit(0);
}

function count(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, not ${text}\n`);
    process.exit(2);
  }
  return value;
}

const tasks = count('tasks', values.tasks, 1);
const serverKills = count('server-kills', values['server-kills'], 0);
const workerKills = count('worker-kills', values['worker-kills'], 0);
const leaseSeconds = count('lease-seconds', values['lease-seconds'], 1);
const seed =
  values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count('seed', values.seed, 0);
const asked = values.backend;
if (asked !== 'all' && !(BACKENDS as readonly string[]).includes(asked)) {
  process.stderr.write(`--backend must be one of ${BACKENDS.join(', ')} or all, not ${asked}\n`);
  process.exit(2);
}
const backends: BackendName[] = asked === 'all' ? [...BACKENDS] : [asked as BackendName];

const log = (line: string): void => void process.stderr.write(`${line}\n`);
log(
  `chaos: ${tasks} tasks, >= ${serverKills} server kills, >= ${workerKills} worker kills, ` +
    `lease ${leaseSeconds} s, seed ${seed}`,
);
const results: ChaosResult[] = [];
const skipped: string[] = [];
for (const backend of backends) {
  const why = backend === 'sqlite' ? null : await unreachable(backend);
  if (why !== null) {
    // Asked for by name, or under CI, a backend that is not there is a failure.
    if (process.env['CI'] === 'true' || asked !== 'all') {
      log(`chaos: ${why}`);
      process.exit(1);
    }
    skipped.push(why);
    continue;
  }
  results.push(
    await runChaos({
      backend,
      tasks,
      serverKills,
      workerKills,
      seed,
      leaseSeconds,
      workers: count('workers', values.workers, 1),
      processes: count('processes', values.processes, 1),
      concurrency: count('concurrency', values.concurrency, 1),
      producers: 4,
      batch: 50,
      workMs: count('work-ms', values['work-ms'], 0),
      timing: DEFAULT_TIMING,
      drainTimeoutMs: 300_000,
      keep: values.keep,
      log,
    }),
  );
}
process.stdout.write(`${chaosTable(results)}\n\n${chaosNotes(results)}\n`);
for (const why of skipped) process.stdout.write(`skipped: ${why}\n`);
const failures = chaosFailures(results);
if (failures !== '') process.stdout.write(`\n${failures}\n`);
process.exitCode = results.every(passed) ? 0 : 1;
