/**
 * How a soak run reads: a table row per sample (RSS of each process, heaps, counts), the
 * verdict per process (RSS at warm-up end and at the end, fitted slope and growth against
 * the limit, CPU share), and one JSON summary line for scripts and notes.
 */
import { megabytes, type Trend } from './soak-memory.ts';
import type { Sample, SoakResult } from './soak-run.ts';

const pad = (text: string, width: number): string => text.padStart(width);
const mb = (bytes: number | null | undefined): string =>
  bytes === null || bytes === undefined ? '-' : megabytes(bytes);

const HEAPS = ['server', 'supervisor', 'producer'];

export function sampleHeader(roles: readonly string[]): string {
  return [
    pad('t s', 6),
    pad('inserted', 9),
    pad('processed', 9),
    pad('backlog', 7),
    ...roles.map((role) => pad(`${role} MB`, Math.max(9, role.length + 3))),
    ...HEAPS.map((role) => pad(`heap ${role}`, Math.max(9, role.length + 5))),
  ].join(' ');
}

export function sampleRow(sample: Sample, roles: readonly string[]): string {
  return [
    pad(sample.t.toFixed(1), 6),
    pad(String(sample.inserted), 9),
    pad(String(sample.processed ?? '-'), 9),
    pad(String(sample.backlog ?? '-'), 7),
    ...roles.map((role) => pad(mb(sample.rss[role]), Math.max(9, role.length + 3))),
    ...HEAPS.map((role) => pad(mb(sample.heap[role]), Math.max(9, role.length + 5))),
  ].join(' ');
}

/** CPU share of one core over the run, in percent (ticks are 1/100 s). */
function cpuPercent(samples: readonly Sample[], role: string): number | null {
  const first = samples[0];
  const last = samples.at(-1);
  const from = first?.cpu[role];
  const to = last?.cpu[role];
  if (first === undefined || last === undefined || from == null || to == null) return null;
  return last.t > first.t ? (to - from) / (last.t - first.t) : null;
}

export function verdictTable(result: SoakResult): string {
  const lines = [
    `${pad('process', 10)} ${pad('warm MB', 8)} ${pad('end MB', 8)} ${pad('MB/min', 8)} ${pad('growth MB', 9)} ${pad('limit MB', 8)} ${pad('heap MB', 8)} ${pad('cpu %', 6)}  verdict`,
  ];
  for (const role of result.roles) {
    const trend = result.trends[role] as Trend;
    const heap = result.heapTrends[role];
    const cpu = cpuPercent(result.samples, role);
    lines.push(
      [
        pad(role, 10),
        pad(megabytes(trend.warmBytes), 8),
        pad(megabytes(trend.endBytes), 8),
        pad(megabytes(trend.slopeBytesPerMinute, 2), 8),
        pad(megabytes(trend.growthBytes), 9),
        pad(megabytes(trend.limitBytes), 8),
        pad(heap === undefined ? '-' : megabytes(heap.growthBytes), 8),
        pad(cpu === null ? '-' : cpu.toFixed(0), 6),
        ` ${trend.ok ? 'ok' : 'GROWS'}`,
      ].join(' '),
    );
  }
  return lines.join('\n');
}

function heapGrowth(result: SoakResult, role: string): number | null {
  const heap = result.heapTrends[role];
  return heap === undefined ? null : Number(megabytes(heap.growthBytes));
}

export function summaryLine(result: SoakResult): string {
  return JSON.stringify({
    soak: result.ok ? 'pass' : 'fail',
    backend: result.options.backend,
    seconds: result.options.seconds,
    rate: result.options.rate,
    sustainedRate:
      result.producerSeconds > 0 ? Math.round(result.inserted / result.producerSeconds) : 0,
    producerSeconds: Number(result.producerSeconds.toFixed(1)),
    inserted: result.inserted,
    processed: result.processed,
    skipped: result.skipped,
    failedPuts: result.failedPuts,
    drainedInSeconds: result.drainedInSeconds,
    warmupSeconds: result.options.seconds * result.options.warmupFraction,
    limit: {
      fraction: result.options.limit.fraction,
      floorMb: Number(megabytes(result.options.limit.floorBytes)),
    },
    processes: Object.fromEntries(
      result.roles.map((role) => {
        const trend = result.trends[role] as Trend;
        return [
          role,
          {
            warmMb: Number(megabytes(trend.warmBytes)),
            endMb: Number(megabytes(trend.endBytes)),
            slopeMbPerMin: Number(megabytes(trend.slopeBytesPerMinute, 2)),
            growthMb: Number(megabytes(trend.growthBytes)),
            limitMb: Number(megabytes(trend.limitBytes)),
            heapGrowthMb: heapGrowth(result, role),
            cpuPercent: Math.round(cpuPercent(result.samples, role) ?? -1),
            ok: trend.ok,
          },
        ];
      }),
    ),
    problems: result.problems,
  });
}
