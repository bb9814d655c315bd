/**
 * The soak test: memory of the server, the worker and the producer over sustained load.
 *
 *   npm run soak -- [--seconds 600] [--rate 500] [--backend sqlite|postgres|redis]
 *                   [--sample-seconds 10] [--leak-bytes 0] [--samples-json FILE]
 *
 * --leak-bytes N runs a handler that keeps N bytes per task (soak-leaky-handler.ts), to see
 * the verdict catch a leak; --samples-json writes every sample (with heap sizes) to FILE.
 *
 * Prints a row per sample, the verdict per process and a JSON summary line; exits 1 when a
 * process's memory grows past the limit, the rate was not sustained, or a task was lost.
 * soak-run.ts says what runs and what is judged; the limits are argued below.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { MB } from './soak-memory.ts';
import { sampleHeader, sampleRow, summaryLine, verdictTable } from './soak-report.ts';
import { runSoak } from './soak-run.ts';
import type { StoreKind } from './soak-processes.ts';

/**
 * Limits of the 10-minute soak. Warm-up is the first 20% (120 s). After it a process may grow
 * by 128 MB, or half its RSS at warm-up end when that is more, as fitted by least squares
 * over the remaining 480 s.
 *
 * Why that much: a healthy process's RSS still rises after warm-up, in steps, because V8
 * grows its heap long after the heap used has levelled off. In four 10-minute runs on SQLite
 * at 500 tasks/s (2026-11-21) the heap used of the server, the supervisor and the producer
 * stayed between 11 and 90 MB, while their heap size stepped up by as much as 64 MB at once,
 * and RSS followed: the server's RSS rose by 25 to 60 MB between 350 and 400 s in every run
 * (its heap size from 108 to 170 MB in the last), the supervisor's heap size went from 85 to
 * 149 MB at 150 s, and the worker children levelled off only at about 290 s. A least-squares
 * fit reads a step in mid-window as up to 1.5 times its height: the healthy processes showed
 * up to 90 MB of fitted growth (the server, whose step falls mid-window). A leak grows with
 * the work instead: a handler keeping 1 KB per task (--leak-bytes 1024) made each worker
 * child grow 151 and 157 MB over the window (120,000 tasks each), so this limit catches a
 * leak of about 1 KB per task, and one of a few KB shows as several hundred MB.
 */
export const SOAK_WARMUP_FRACTION = 0.2;
export const SOAK_LIMIT = { fraction: 0.5, floorBytes: 128 * MB };

const BACKENDS: readonly StoreKind[] = ['sqlite', 'postgres', 'redis'];

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    rate: { type: 'string', default: '500' },
    backend: { type: 'string', default: 'sqlite' },
    'sample-seconds': { type: 'string', default: '10' },
    'leak-bytes': { type: 'string', default: '0' },
    'samples-json': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const sampleSeconds = Number(values['sample-seconds']);
const backend = values.backend as StoreKind;
const leakBytes = Number(values['leak-bytes']);
if (!BACKENDS.includes(backend)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}`);
for (const [name, value] of [
  ['--seconds', seconds],
  ['--rate', rate],
  ['--sample-seconds', sampleSeconds],
] as const) {
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
}
if (seconds / sampleSeconds < 10) {
  throw new Error('--seconds must be at least 10 samples long to fit a trend after warm-up');
}

process.stderr.write(
  `soak: ${seconds} s at ${rate} tasks/s on ${backend}, a sample every ${sampleSeconds} s\n`,
);
let headerShown = false;
const result = await runSoak({
  seconds,
  rate,
  backend,
  sampleSeconds,
  warmupFraction: SOAK_WARMUP_FRACTION,
  limit: SOAK_LIMIT,
  drainSeconds: 60,
  leakBytes,
  onSample: (sample, roles) => {
    if (!headerShown) process.stdout.write(`${sampleHeader(roles)}\n`);
    headerShown = true;
    process.stdout.write(`${sampleRow(sample, roles)}\n`);
  },
});
process.stdout.write(`\n${verdictTable(result)}\n`);
for (const problem of result.problems) process.stdout.write(`problem: ${problem}\n`);
process.stdout.write(`${summaryLine(result)}\n`);
if (values['samples-json'] !== undefined) {
  await writeFile(values['samples-json'], JSON.stringify(result.samples));
}
process.exitCode = result.ok ? 0 : 1;
