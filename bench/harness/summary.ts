/**
 * The summary of an invocation: per cell and contender, the median and range of the measured
 * (not warm-up) valid runs, and the ratio to the best peer (the best of the BullMQ and
 * pg-boss variants in that cell), as a terminal table and as Markdown.
 */
import type { Align } from '../../src/cli/output.ts';
import type { RunResult } from './result.ts';
import { spread, type Spread } from './stats.ts';

export interface CellInfo {
  name: string;
  label: string;
  /** The headline figure is p99 latency (lower is better), else the rate. */
  latency: boolean;
}

export interface SummaryRow {
  cell: CellInfo;
  contender: string;
  system: string;
  runs: number;
  validRuns: number;
  missing: number;
  duplicates: number;
  /** Runs the time limit ended. */
  timeLimited: number;
  /** The rate of those runs until the limit (not in `rate`: they are invalid). */
  limitedRate: Spread | null;
  rate: Spread | null;
  offered: Spread | null;
  p50: Spread | null;
  p99: Spread | null;
  max: Spread | null;
  cpuPer1k: Spread | null;
  /** Rate cells: median rate / the best peer's (above 1: faster). Latency cells: median p99 /
   * the best peer's (below 1: sooner). Null without a peer or a figure. */
  vsBestPeer: number | null;
}

/** The system names of pullq's own contenders; every other system is a peer. */
const OWN_SYSTEM = 'pullq';

export function summarize(
  results: readonly RunResult[],
  cells: readonly CellInfo[],
  contenders: readonly string[],
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const cell of cells) {
    const cellRows: SummaryRow[] = [];
    for (const contender of contenders) {
      const runs = results.filter(
        (run) => run.cell === cell.name && run.contender === contender && !run.warmup,
      );
      if (runs.length === 0) continue;
      const valid = runs.filter((run) => run.valid);
      cellRows.push({
        cell,
        contender,
        system: (runs[0] as RunResult).system,
        runs: runs.length,
        validRuns: valid.length,
        // Tasks a time-limited run did not reach are not lost: not counted as missing.
        missing: runs
          .filter((run) => !run.timeLimited)
          .reduce((sum, run) => sum + run.check.missing, 0),
        duplicates: runs.reduce((sum, run) => sum + run.check.duplicates, 0),
        timeLimited: runs.filter((run) => run.timeLimited).length,
        limitedRate: spread(runs.filter((run) => run.timeLimited).map((run) => run.perSecond)),
        rate: spread(valid.map((run) => run.perSecond)),
        offered: spread(valid.map((run) => run.offeredPerSecond)),
        p50: spread(valid.map((run) => run.latencyMs?.p50 ?? null)),
        p99: spread(valid.map((run) => run.latencyMs?.p99 ?? null)),
        max: spread(valid.map((run) => run.latencyMs?.max ?? null)),
        cpuPer1k: spread(valid.map((run) => run.cpuPer1k)),
        vsBestPeer: null,
      });
    }
    const figure = (row: SummaryRow): number | null =>
      (cell.latency ? row.p99?.median : row.rate?.median) ?? null;
    const peerFigures = cellRows
      .filter((row) => row.system !== OWN_SYSTEM)
      .map(figure)
      .filter((value): value is number => value !== null && value > 0);
    if (peerFigures.length > 0) {
      const best = cell.latency ? Math.min(...peerFigures) : Math.max(...peerFigures);
      for (const row of cellRows) {
        const value = figure(row);
        row.vsBestPeer = value === null ? null : value / best;
      }
    }
    rows.push(...cellRows);
  }
  return rows;
}

export interface Table {
  headers: string[];
  rows: string[][];
  align: Align[];
}

export function formatRate(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Milliseconds with the digits they can tell. */
export function formatMs(value: number): string {
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function formatCpu(value: number): string {
  return value < 1 ? value.toFixed(3) : value.toFixed(2);
}

function median(value: Spread | null, format: (value: number) => string): string {
  return value === null ? '-' : format(value.median);
}

function range(value: Spread | null, format: (value: number) => string): string {
  return value === null ? '-' : `${format(value.min)}–${format(value.max)}`;
}

function ratio(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(2)}×`;
}

function validity(row: SummaryRow): string {
  const notes: string[] = [];
  if (row.timeLimited > 0) {
    const rate =
      row.limitedRate === null ? '' : `, ${formatRate(row.limitedRate.median)}/s until then`;
    notes.push(`time limit${rate}`);
  }
  if (row.missing > 0) notes.push(`${row.missing.toLocaleString('en-US')} missing`);
  if (row.duplicates > 0) notes.push(`${row.duplicates.toLocaleString('en-US')} dup`);
  return `${row.validRuns}/${row.runs}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

/** The rate cells: enqueue, drain, backlog. */
export function throughputTable(rows: readonly SummaryRow[]): Table {
  return {
    headers: ['SCENARIO', 'CONTENDER', 'TASKS/S', 'MIN–MAX', 'VS BEST PEER', 'CPU-S/1K', 'VALID'],
    rows: rows
      .filter((row) => !row.cell.latency)
      .map((row) => [
        row.cell.name,
        row.contender,
        median(row.rate, formatRate),
        range(row.rate, formatRate),
        ratio(row.vsBestPeer),
        median(row.cpuPer1k, formatCpu),
        validity(row),
      ]),
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'left'],
  };
}

/** The latency cells: pickup, open-loop load (rate: what was offered). */
export function latencyTable(rows: readonly SummaryRow[]): Table {
  return {
    headers: [
      'SCENARIO',
      'CONTENDER',
      'RATE/S',
      'P50 MS',
      'P99 MS',
      'P99 MIN–MAX',
      'MAX MS',
      'P99 VS BEST PEER',
      'CPU-S/1K',
      'VALID',
    ],
    rows: rows
      .filter((row) => row.cell.latency)
      .map((row) => [
        row.cell.name,
        row.contender,
        median(row.offered, formatRate),
        median(row.p50, formatMs),
        median(row.p99, formatMs),
        range(row.p99, formatMs),
        median(row.max, formatMs),
        ratio(row.vsBestPeer),
        median(row.cpuPer1k, formatCpu),
        validity(row),
      ]),
    align: ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  };
}

export function markdownTable(table: Table): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  const rule = table.headers.map((_, column) => (table.align[column] === 'right' ? '---:' : '---'));
  return (
    [
      line(table.headers.map((header) => header.toLowerCase())),
      line(rule),
      ...table.rows.map(line),
    ].join('\n') + '\n'
  );
}
