/**
 * What one run reports: one JSON line on stdout each, and the rows the summary is made of.
 */
import type { CpuSample } from './cpu.ts';
import type { ExactlyOnce } from './exactly-once.ts';
import type { ScenarioName } from './options.ts';
import type { LatencySummary } from './stats.ts';

export interface RunResult {
  kind: 'run';
  cell: string;
  scenario: ScenarioName;
  contender: string;
  system: string;
  /** 0-based; the first `warmups` are warm-up runs. */
  repetition: number;
  warmup: boolean;
  consumers: number | null;
  concurrency: number | null;
  tasks: number;
  /** The measured window: the producer's calls (enqueue), first to last handler start (drain),
   * the whole sequence (pickup), first scheduled send to last handler start (load). */
  seconds: number | null;
  perSecond: number | null;
  /** Open loop: the rate sent. */
  offeredPerSecond: number | null;
  /** Enqueue -> handler start; load: from the scheduled send time. */
  latencyMs: LatencySummary | null;
  /** Open loop: how far the producer itself fell behind its timetable. */
  sendLagMaxMs: number | null;
  /** CPU seconds of every process involved over the measured window, by part. */
  cpuSeconds: CpuSample | null;
  cpuPer1k: number | null;
  check: ExactlyOnce;
  valid: boolean;
  /** The run's time limit ended it before every task came through (it is then invalid). */
  timeLimited: boolean;
  error: string | null;
  startedAt: string;
}

/** The JSON line of a run: numbers rounded to what the measurement can tell. */
export function resultLine(result: RunResult): string {
  return JSON.stringify(result, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value,
  );
}
