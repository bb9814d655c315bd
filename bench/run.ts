/**
 * `npm run bench`: pullq side by side with BullMQ and pg-boss (bench/harness/, peers.md
 * section 4). For each scenario cell, each repetition runs every contender once in a shuffled
 * order; each run starts from fresh state and ends with the exactly-once check.
 *
 *   npm run bench -- [enqueue] [drain] [pickup] [load] [backlog] [--quick] [--contenders a,b]
 *                    [--runs N] [--warmups N] [--tasks N] [--pickups N] [--seconds N]
 *                    [--backlog N] [--time-limit N] [--no-docs]
 *
 * stdout: one JSON line per run, then the summary tables. stderr: progress. A full run (no
 * --quick) rewrites the side-by-side section of docs/benchmarks.md and its chart.
 * Ctrl-C stops after tearing down the run under way (a second one exits at once).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { formatTable } from '../src/cli/output.ts';
import { CONTENDER_NAMES, HEADLINE, loadContenders } from './contenders/index.ts';
import type { Contender } from './harness/contender.ts';
import { writeDocs, sideBySideSection } from './harness/docs.ts';
import { readEnvironment } from './harness/environment.ts';
import { parseOptions, USAGE, type BenchOptions } from './harness/options.ts';
import { resultLine, type RunResult } from './harness/result.ts';
import { measureRun, type Calibration } from './harness/runs.ts';
import { cellsOf, measuresLatency, type Cell } from './harness/scenarios.ts';
import { median } from './harness/stats.ts';
import {
  formatCpu,
  formatMs,
  formatRate,
  latencyTable,
  summarize,
  throughputTable,
  type Table,
} from './harness/summary.ts';

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

async function selectContenders(options: BenchOptions): Promise<Contender[]> {
  const names = options.contenders ?? (options.quick ? HEADLINE : CONTENDER_NAMES);
  const { contenders, missing } = await loadContenders(names);
  for (const note of missing) say(`skipped ${note}`);
  if (options.contenders !== null && missing.length > 0) {
    throw new Error('a contender asked for by --contenders is not available');
  }
  if (contenders.length === 0) throw new Error('no contender to run');
  return contenders;
}

/** Each contender's best drain median (valid runs) and the consumer count that gave it. */
function calibrate(
  results: readonly RunResult[],
  contenders: readonly Contender[],
): Map<string, Calibration> {
  const calibrations = new Map<string, Calibration>();
  for (const contender of contenders) {
    for (const consumers of [1, 2]) {
      const rates = results
        .filter(
          (run) =>
            run.scenario === 'drain' &&
            run.contender === contender.info.name &&
            run.consumers === consumers &&
            run.valid &&
            !run.warmup &&
            run.perSecond !== null,
        )
        .map((run) => run.perSecond as number);
      if (rates.length === 0) continue;
      const perSecond = median(rates);
      const best = calibrations.get(contender.info.name);
      if (best === undefined || perSecond > best.perSecond) {
        calibrations.set(contender.info.name, { perSecond, consumers });
      }
    }
  }
  return calibrations;
}

function outcome(result: RunResult): string {
  const figures: string[] = [];
  if (result.perSecond !== null) figures.push(`${formatRate(result.perSecond)} tasks/s`);
  if (result.latencyMs !== null) {
    figures.push(
      `p50 ${formatMs(result.latencyMs.p50)} ms, p99 ${formatMs(result.latencyMs.p99)} ms`,
    );
  }
  if (result.cpuPer1k !== null) figures.push(`${formatCpu(result.cpuPer1k)} CPU-s/1k`);
  const check = result.check;
  const verdict = result.timeLimited
    ? `INVALID: ${result.error}`
    : result.valid
      ? `exactly once${check.duplicates > 0 ? ` but ${check.duplicates} duplicates` : ''}`
      : `INVALID: ${check.missing} missing, ${check.duplicates} duplicates${result.error === null ? '' : `; ${result.error}`}`;
  return [...figures, verdict].join(', ');
}

function printTable(title: string, table: Table): void {
  if (table.rows.length === 0) return;
  process.stdout.write(`\n${title}\n${formatTable(table.headers, table.rows, table.align)}`);
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const options = parsed;
  if (options.scenarios.includes('load') && !options.scenarios.includes('drain')) {
    say("load runs at a fraction of each contender's drain rate: running drain first");
    options.scenarios.splice(options.scenarios.indexOf('load'), 0, 'drain');
  }
  const contenders = await selectContenders(options);
  const brokers = new Set(contenders.flatMap((contender) => contender.info.brokerProcesses));
  const environment = await readEnvironment(brokers);
  const started = performance.now();

  const aborting = new AbortController();
  process.on('SIGINT', () => {
    if (aborting.signal.aborted) process.exit(130);
    say('stopping after the teardown of this run (Ctrl-C again to quit at once)');
    aborting.abort();
  });

  const cells: Cell[] = options.scenarios.flatMap((scenario) => cellsOf(scenario, options));
  const repetitions = (cell: Cell): { warmups: number; runs: number } =>
    cell.scenario === 'backlog'
      ? { warmups: 0, runs: options.backlogRuns }
      : { warmups: options.warmups, runs: options.runs };
  const total = cells.reduce((sum, cell) => {
    const { warmups, runs } = repetitions(cell);
    return sum + (warmups + runs) * contenders.length;
  }, 0);
  say(
    `pullq side-by-side benchmark: ${contenders.map((c) => c.info.name).join(', ')}; ` +
      `${cells.map((cell) => cell.name).join(', ')}; ${total} runs; Node ${process.version}, ` +
      `${environment.cores} CPUs, load average ${environment.loadAverageStart.join(' ')}`,
  );

  const results: RunResult[] = [];
  let calibrations = new Map<string, Calibration>();
  let done = 0;
  /** `cell contender` pairs that ran out of time once: their later repetitions would too. */
  const outOfTime = new Set<string>();
  plan: for (const cell of cells) {
    const { warmups, runs } = repetitions(cell);
    if (cell.kind === 'load') calibrations = calibrate(results, contenders);
    for (let repetition = 0; repetition < warmups + runs; repetition += 1) {
      const warmup = repetition < warmups;
      for (const contender of shuffled(contenders)) {
        if (aborting.signal.aborted) break plan;
        done += 1;
        const name = contender.info.name;
        const label = `[${done}/${total}] ${cell.name} ${warmup ? 'warm-up' : `run ${repetition - warmups + 1}/${runs}`} ${name}`;
        const calibration = calibrations.get(name) ?? null;
        if (cell.kind === 'load' && calibration === null) {
          say(`${label}: skipped, no valid drain run to take the rate from`);
          continue;
        }
        if (outOfTime.has(`${cell.name} ${name}`)) {
          say(`${label}: skipped, an earlier run of this cell ran out of time`);
          continue;
        }
        say(`${label}...`);
        const result = await measureRun({
          contender,
          cell,
          repetition,
          warmup,
          runId: `${cell.name.replace(/[^a-z0-9]/g, '')}${repetition}${randomBytes(3).toString('hex')}`,
          label,
          signal: aborting.signal,
          calibration,
          timeLimitSeconds: options.timeLimitSeconds,
        });
        if (aborting.signal.aborted && !result.valid) {
          say(`${label}: interrupted, not reported`);
          break plan;
        }
        results.push(result);
        if (result.timeLimited) outOfTime.add(`${cell.name} ${name}`);
        process.stdout.write(`${resultLine(result)}\n`);
        say(`${label}: ${outcome(result)}`);
      }
    }
  }

  const rows = summarize(
    results,
    cells.map((cell) => ({ name: cell.name, label: cell.label, latency: measuresLatency(cell) })),
    contenders.map((contender) => contender.info.name),
  );
  printTable(
    'Throughput (median of the valid measured runs; vs best peer: BullMQ/pg-boss best, above 1 is faster)',
    throughputTable(rows),
  );
  printTable(
    'Latency (enqueue -> handler start; vs best peer: p99 ratio, below 1 is sooner)',
    latencyTable(rows),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  say(`\nwall time ${(wallSeconds / 60).toFixed(1)} min (${Math.round(wallSeconds)} s)`);

  if (options.docs && !aborting.signal.aborted) {
    const section = sideBySideSection({
      rows,
      infos: contenders.map((contender) => contender.info),
      environment,
      loadAverageEnd: loadavg().map((value) => Math.round(value * 100) / 100),
      options,
      wallSeconds,
    });
    const written = await writeDocs(
      section,
      rows,
      `pullq side by side, ${environment.date.slice(0, 10)}, ${environment.cores} cores`,
    );
    say(`wrote ${written.join(' and ')}`);
  }
  if (aborting.signal.aborted) process.exitCode = 130;
  else if (results.some((result) => !result.valid && !result.warmup)) process.exitCode = 1;
}

await main();
