/**
 * What the soak reads about a process and how it judges a memory series: resident memory and
 * CPU time from /proc (Linux only), the children of a process, and the growth trend of a
 * series of samples after warm-up.
 *
 * Judging growth: a process that leaks grows in step with the work it does, so the trend
 * over the measured window (after warm-up) is fitted with least squares and extrapolated over
 * that window. A single high sample (a GC that has not run yet, a young generation that just
 * grew) moves a least-squares slope much less than it moves a first-vs-last difference, which
 * is why the fit and not the end points is judged.
 */
import { readFileSync, readdirSync } from 'node:fs';

const KB = 1024;
const MB = 1024 * 1024;

/** VmRSS of a process in bytes; null when it is gone. */
export function rssBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match?.[1] === undefined ? null : Number(match[1]) * KB;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User plus system CPU time of a process, in clock ticks (USER_HZ, 100 on Linux). */
export function cpuTicks(pid: number): number | null {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
  return fields === null ? null : Number(fields[11]) + Number(fields[12]);
}

/** The pids whose parent is `pid`, in ascending order. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // ppid is field 4 of stat, the second after the name.
    if (statFields(Number(entry))?.[1] === String(pid)) children.push(Number(entry));
  }
  return children.sort((a, b) => a - b);
}

export interface Point {
  /** Seconds since the soak started. */
  t: number;
  bytes: number;
}

export interface GrowthLimit {
  /** The share of the series' first measured value it may grow over the window. */
  fraction: number;
  /** It may always grow this many bytes (the noise of a garbage-collected heap). */
  floorBytes: number;
}

export interface Trend {
  /** The first sample after warm-up, and the last one. */
  warmBytes: number;
  endBytes: number;
  /** Least-squares slope over the measured window, bytes per minute. */
  slopeBytesPerMinute: number;
  /** The slope times the window's length: the growth the fit says happened in it. */
  growthBytes: number;
  limitBytes: number;
  ok: boolean;
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}

/** The samples at or after `warmupEnd` seconds, judged against `limit`. */
export function judgeGrowth(
  points: readonly Point[],
  warmupEnd: number,
  limit: GrowthLimit,
): Trend {
  const measured = points.filter((point) => point.t >= warmupEnd);
  const first = measured[0];
  const last = measured.at(-1);
  if (first === undefined || last === undefined || measured.length < 3) {
    throw new Error(`too few samples after warm-up to judge a trend (${measured.length})`);
  }
  const perSecond = slope(measured.map((point) => ({ x: point.t, y: point.bytes })));
  const growthBytes = perSecond * (last.t - first.t);
  const limitBytes = Math.max(limit.floorBytes, limit.fraction * first.bytes);
  return {
    warmBytes: first.bytes,
    endBytes: last.bytes,
    slopeBytesPerMinute: perSecond * 60,
    growthBytes,
    limitBytes,
    ok: growthBytes <= limitBytes,
  };
}

export const megabytes = (bytes: number, digits = 1): string => (bytes / MB).toFixed(digits);
export { MB };
