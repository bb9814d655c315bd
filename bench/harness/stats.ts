/**
 * Statistics of the side-by-side benchmark: quantiles of latency samples (nearest rank, so a
 * reported p99 is a latency some task really had) and the median and range of repeated runs.
 */

/** The q-quantile (0 < q <= 1) of ascending `sorted` by nearest rank; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median and range of one figure over repeated runs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many runs it summarizes. */
  runs: number;
}

/** The spread of the finite values, or null when there are none. */
export function spread(values: readonly (number | null)[]): Spread | null {
  const finite = values.filter(
    (value): value is number => value !== null && Number.isFinite(value),
  );
  if (finite.length === 0) return null;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    runs: finite.length,
  };
}

/** Latency of one run, in ms. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Summarizes samples (ms); sorts them in place, once. Null when there are none. */
export function latencySummary(samples: Float64Array): LatencySummary | null {
  if (samples.length === 0) return null;
  samples.sort();
  let sum = 0;
  for (const sample of samples) sum += sample;
  return {
    count: samples.length,
    p50: quantile(samples, 0.5),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
    p999: quantile(samples, 0.999),
    max: samples[samples.length - 1] as number,
    mean: sum / samples.length,
  };
}
