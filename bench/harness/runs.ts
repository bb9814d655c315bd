/**
 * The measured runs, one function per kind of cell. Each opens a session (fresh state), moves
 * the tasks, takes its figures from the delivery records and the CPU samples, and ends with
 * the exactly-once check. A failure or a stall still reports the run, invalid, with the count
 * of what is missing.
 */
import { Progress } from '../../src/cli/progress.ts';
import type { Contender } from './contender.ts';
import { cpuDifference, type CpuSample } from './cpu.ts';
import { DeliveryCounts } from './exactly-once.ts';
import { firstT0, latencies, startSpan } from './figures.ts';
import type { RunResult } from './result.ts';
import { DEFAULT_CONCURRENCY, WARMUP_PICKUPS, type Cell } from './scenarios.ts';
import { RunSession, Stalled, TimeLimit, type FollowOptions } from './session.ts';
import { latencySummary } from './stats.ts';

/** No task recorded for this long ends a run as stalled (its missing tasks reported). */
const STALL_MS = 30_000;
/** A backlog run preloads and drains 1,000,000 tasks: it gets 4 times the time limit. */
const BACKLOG_LIMIT_FACTOR = 4;
/** A consumer's first fetch from a backlog of 1,000,000 may take a while (a table scan of a
 * store that does one): the backlog drain waits longer before calling it stalled. */
const BACKLOG_STALL_MS = 120_000;
/** Consumers started and idle this long before a pickup or load run sends its first task. */
const SETTLE_MS = 1000;
/** Pickups are spaced by a random 10 to 30 ms, so an idle consumer is caught anywhere in its
 * polling cycle rather than in step with it. */
const PICKUP_GAP_MS = [10, 30] as const;
/** The open-loop producer sends what is due every 5 ms. */
const LOAD_TICK_MS = 5;
/** Verifying an enqueue run: the tasks are drained by this many consumer processes. */
const VERIFY_CONSUMERS = 2;

/** A contender's best drain in this invocation: what its load runs take a fraction of. */
export interface Calibration {
  perSecond: number;
  consumers: number;
}

export interface RunContext {
  contender: Contender;
  cell: Cell;
  repetition: number;
  warmup: boolean;
  runId: string;
  /** Shown on the progress lines. */
  label: string;
  signal: AbortSignal;
  calibration: Calibration | null;
  /** A run still moving tasks after this long ends, reported invalid (`timeLimited`). */
  timeLimitSeconds: number;
}

interface Measured {
  tasks: number;
  counts: DeliveryCounts;
  seconds: number | null;
  perSecond: number | null;
  offeredPerSecond?: number;
  latencyMs?: RunResult['latencyMs'];
  sendLagMaxMs?: number | null;
  cpu: CpuSample | null;
  /** Tasks the CPU window covered. */
  cpuTasks: number;
  consumers: number | null;
  /** The time limit ended the run before every task came through. */
  timeLimited: boolean;
}

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function concurrencyOf(contender: Contender): number {
  return contender.info.concurrency ?? DEFAULT_CONCURRENCY;
}

export async function measureRun(context: RunContext): Promise<RunResult> {
  const { contender, cell } = context;
  const startedAt = new Date().toISOString();
  const concurrency = concurrencyOf(contender);
  let measured: Measured | null = null;
  let counts: DeliveryCounts | null = null;
  let error: string | null = null;
  let session: RunSession | null = null;
  try {
    session = await RunSession.open(contender, context.runId, context.signal);
    const limit =
      context.timeLimitSeconds * (cell.scenario === 'backlog' ? BACKLOG_LIMIT_FACTOR : 1);
    const args: RunArgs = {
      session,
      concurrency,
      label: context.label,
      deadline: performance.now() + limit * 1000,
      track: (made) => (counts = made),
    };
    switch (cell.kind) {
      case 'enqueue':
        measured = await runEnqueue(args, cell);
        break;
      case 'drain':
        measured = await runDrain(args, cell);
        break;
      case 'pickup':
        measured = await runPickup(args, cell);
        break;
      case 'load':
        if (context.calibration === null) {
          throw new Error('no valid drain run to take the load from');
        }
        measured = await runLoad(args, cell, context.calibration);
        break;
    }
    if (measured.timeLimited) {
      error = `time limit of ${limit} s: ${measured.counts.distinct} of ${measured.counts.expected} tasks came through`;
    }
  } catch (caught) {
    error =
      caught instanceof Stalled || !(caught instanceof Error) ? String(caught) : caught.message;
    if (caught instanceof Error && !(caught instanceof Stalled) && caught.name !== 'AbortError') {
      say(`${context.label}: ${caught.stack ?? caught.message}`);
    }
  } finally {
    try {
      await session?.stopRoles(counts);
      await session?.close();
    } catch (caught) {
      error ??= `teardown: ${String(caught)}`;
      say(`${context.label}: teardown failed: ${String(caught)}`);
    }
  }
  const finalCounts: DeliveryCounts = counts ?? new DeliveryCounts(0);
  const check = finalCounts.result();
  const valid = error === null && check.valid && measured !== null && !measured.timeLimited;
  const cpu = measured?.cpu ?? null;
  return {
    kind: 'run',
    cell: cell.name,
    scenario: cell.scenario,
    contender: contender.info.name,
    system: contender.info.system,
    repetition: context.repetition,
    warmup: context.warmup,
    consumers: measured?.consumers ?? null,
    concurrency: cell.kind === 'enqueue' ? null : concurrency,
    tasks: measured?.tasks ?? finalCounts.expected,
    seconds: measured?.seconds ?? null,
    perSecond: measured?.perSecond ?? null,
    offeredPerSecond: measured?.offeredPerSecond ?? null,
    latencyMs: measured?.latencyMs ?? null,
    sendLagMaxMs: measured?.sendLagMaxMs ?? null,
    cpuSeconds: cpu,
    cpuPer1k:
      cpu !== null && measured !== null && measured.cpuTasks > 0
        ? (cpu.total * 1000) / measured.cpuTasks
        : null,
    check,
    valid,
    timeLimited: measured?.timeLimited ?? false,
    error,
    startedAt,
  };
}

/** What every kind of run gets. */
interface RunArgs {
  session: RunSession;
  concurrency: number;
  label: string;
  /** performance.now() at which the run's time limit runs out. */
  deadline: number;
  /** Makes these the run's delivery counts (the ones its exactly-once check reports). */
  track: (counts: DeliveryCounts) => DeliveryCounts;
}

/** Follows until done; true when the deadline ended it first (the figures are then partial). */
async function followWithin(
  session: RunSession,
  counts: DeliveryCounts,
  options: FollowOptions,
): Promise<boolean> {
  try {
    await session.follow(counts, options);
    return false;
  } catch (error) {
    if (error instanceof TimeLimit) return true;
    throw error;
  }
}

function progressFor(label: string, total: number): Progress {
  return new Progress({ unit: 'tasks', total, label, force: true, intervalMs: 5000 });
}

async function runEnqueue(
  { session, concurrency, label, deadline, track }: RunArgs,
  cell: Extract<Cell, { kind: 'enqueue' }>,
): Promise<Measured> {
  const counts = track(new DeliveryCounts(cell.tasks));
  const producer = await session.producer();
  const before = session.meter.sample();
  const job =
    cell.batch === 1
      ? ({ kind: 'one-by-one', from: 0, to: cell.tasks, inFlight: cell.inFlight } as const)
      : ({
          kind: 'batches',
          from: 0,
          to: cell.tasks,
          batch: cell.batch,
          inFlight: cell.inFlight,
        } as const);
  const { result } = await producer.request({ type: 'go', job }, 'done');
  const cpu = cpuDifference(session.meter.sample(), before);
  const seconds = result?.seconds ?? Number.NaN;
  // Verified by draining them, not timed: every task enqueued must come out once.
  const progress = progressFor(`${label} verify`, cell.tasks);
  let timeLimited: boolean;
  try {
    await session.consumers(VERIFY_CONSUMERS, concurrency);
    timeLimited = await followWithin(session, counts, {
      until: () => counts.complete,
      stallMs: STALL_MS,
      deadline,
      onRecords: (found) => progress.add(found),
    });
  } finally {
    progress.stop();
  }
  return {
    tasks: cell.tasks,
    counts,
    seconds,
    perSecond: cell.tasks / seconds,
    cpu,
    cpuTasks: cell.tasks,
    consumers: null,
    timeLimited,
  };
}

async function runDrain(
  { session, concurrency, label, deadline, track }: RunArgs,
  cell: Extract<Cell, { kind: 'drain' }>,
): Promise<Measured> {
  const counts = track(new DeliveryCounts(cell.tasks));
  const preload = progressFor(`${label} preload`, cell.tasks);
  try {
    await session.preload(cell.tasks);
  } finally {
    preload.stop();
  }
  let before: CpuSample | null = null;
  let tasksBefore = 0;
  const progress = progressFor(label, cell.tasks);
  let timeLimited: boolean;
  try {
    await session.consumers(cell.consumers, concurrency);
    timeLimited = await followWithin(session, counts, {
      until: () => counts.complete,
      stallMs: cell.scenario === 'backlog' ? BACKLOG_STALL_MS : STALL_MS,
      deadline,
      onFirst: () => {
        before = session.meter.sample();
        tasksBefore = counts.distinct;
      },
      onRecords: (found) => progress.add(found),
    });
  } finally {
    progress.stop();
  }
  const cpu = before === null ? null : cpuDifference(session.meter.sample(), before);
  const span = startSpan(session.reader, cell.tasks);
  // From the first handler start to the last: consumer start-up (process, library, a
  // Worker's children) is paid once by a long-running consumer, and left out here.
  const seconds = (span.last - span.first) / 1000;
  return {
    tasks: cell.tasks,
    counts,
    seconds,
    perSecond: (counts.distinct - 1) / seconds,
    cpu,
    cpuTasks: counts.distinct - tasksBefore,
    consumers: cell.consumers,
    timeLimited,
  };
}

async function runPickup(
  { session, concurrency, label, track }: RunArgs,
  cell: Extract<Cell, { kind: 'pickup' }>,
): Promise<Measured> {
  let total = WARMUP_PICKUPS + cell.pickups;
  let counts = track(new DeliveryCounts(total));
  await session.consumers(1, concurrency);
  const producer = await session.producer();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const progress = progressFor(label, total);
  const started = performance.now();
  const before = session.meter.sample();
  try {
    for (let id = 0; id < total; id += 1) {
      if (id > WARMUP_PICKUPS && performance.now() - started > cell.maxSeconds * 1000) {
        say(`${label}: stopped after ${cell.maxSeconds} s with ${id - WARMUP_PICKUPS} pickups`);
        total = id;
        // The check covers what was sent: counted again from the records read so far.
        const sent = track(new DeliveryCounts(total));
        for (let index = 0; index < session.reader.length; index += 1) {
          sent.add(session.reader.id(index));
        }
        counts = sent;
        break;
      }
      await producer.request({ type: 'put', id }, 'put-done');
      await session.follow(counts, { until: () => counts.has(id), stallMs: STALL_MS, pollMs: 2 });
      progress.add(1);
      const [low, high] = PICKUP_GAP_MS;
      await new Promise((resolve) => setTimeout(resolve, low + Math.random() * (high - low)));
    }
  } finally {
    progress.stop();
  }
  const cpu = cpuDifference(session.meter.sample(), before);
  const seconds = (performance.now() - started) / 1000;
  return {
    tasks: total,
    counts,
    seconds,
    perSecond: null,
    latencyMs: latencySummary(latencies(session.reader, WARMUP_PICKUPS, total)),
    cpu,
    cpuTasks: total,
    consumers: 1,
    timeLimited: false,
  };
}

async function runLoad(
  { session, concurrency, label, deadline, track }: RunArgs,
  cell: Extract<Cell, { kind: 'load' }>,
  calibration: Calibration,
): Promise<Measured> {
  const rate = calibration.perSecond * cell.fraction;
  const total = Math.round(rate * cell.seconds);
  const counts = track(new DeliveryCounts(total));
  await session.consumers(calibration.consumers, concurrency);
  const producer = await session.producer();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const progress = progressFor(`${label} at ${Math.round(rate)}/s`, total);
  const before = session.meter.sample();
  let sendLagMaxMs: number | null = null;
  let timeLimited: boolean;
  try {
    const job = { kind: 'load', rate, seconds: cell.seconds, tickMs: LOAD_TICK_MS } as const;
    const sending = producer.request({ type: 'go', job }, 'done').then(({ result }) => {
      sendLagMaxMs = result?.sendLagMaxMs ?? null;
    });
    // A failed producer must end the follow too, not leave it to the stall timeout.
    let failed = false;
    sending.catch(() => (failed = true));
    timeLimited = await followWithin(session, counts, {
      until: () => counts.complete || failed,
      stallMs: STALL_MS,
      deadline: Math.max(deadline, performance.now() + cell.seconds * 1000 + STALL_MS),
      onRecords: (found) => progress.add(found),
    });
    await sending;
  } finally {
    progress.stop();
  }
  const cpu = cpuDifference(session.meter.sample(), before);
  const span = startSpan(session.reader, total);
  const firstScheduled = firstT0(session.reader, total);
  const seconds = (span.last - firstScheduled) / 1000;
  return {
    tasks: total,
    counts,
    seconds,
    perSecond: counts.distinct / seconds,
    offeredPerSecond: rate,
    latencyMs: latencySummary(latencies(session.reader, 0, total)),
    sendLagMaxMs,
    cpu,
    cpuTasks: counts.distinct,
    consumers: calibration.consumers,
    timeLimited,
  };
}
