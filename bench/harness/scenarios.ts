/**
 * The cells of the benchmark: each scenario is one or more cells, a cell is what one run
 * measures (peers.md 4.3: E2, E3, D1, L1, L2, S1).
 */
import type { BenchOptions, ScenarioName } from './options.ts';

export type Cell =
  | {
      kind: 'enqueue';
      name: string;
      scenario: ScenarioName;
      label: string;
      tasks: number;
      /** 1: `addOne`; more: `addBatch` of this many. */
      batch: number;
      inFlight: number;
    }
  | {
      kind: 'drain';
      name: string;
      scenario: ScenarioName;
      label: string;
      tasks: number;
      consumers: number;
    }
  | {
      kind: 'pickup';
      name: string;
      scenario: ScenarioName;
      label: string;
      pickups: number;
      /** A run stops sending after this long, with the pickups it has: a consumer that polls
       * every 2 s (pg-boss's default) would otherwise take 35 minutes for 1,000. */
      maxSeconds: number;
    }
  | {
      kind: 'load';
      name: string;
      scenario: ScenarioName;
      label: string;
      /** Of the contender's own best drain rate in this invocation. */
      fraction: number;
      seconds: number;
    };

/** Tasks each consumer process runs at once unless a contender's fast settings say otherwise. */
export const DEFAULT_CONCURRENCY = 100;
/** Pickups before the measured ones: a consumer's first tasks pay for JIT and lazy setup. */
export const WARMUP_PICKUPS = 10;

export function cellsOf(scenario: ScenarioName, options: BenchOptions): Cell[] {
  const tasks = options.tasks;
  switch (scenario) {
    case 'enqueue':
      return [
        {
          kind: 'enqueue',
          name: 'enqueue-1x32',
          scenario,
          label: 'enqueue one by one, 32 in flight',
          tasks,
          batch: 1,
          inFlight: 32,
        },
        {
          kind: 'enqueue',
          name: 'enqueue-b100',
          scenario,
          label: 'enqueue in batches of 100',
          tasks,
          batch: 100,
          inFlight: 1,
        },
        {
          kind: 'enqueue',
          name: 'enqueue-b1000',
          scenario,
          label: 'enqueue in batches of 1,000',
          tasks,
          batch: 1000,
          inFlight: 1,
        },
      ];
    case 'drain':
      return [
        {
          kind: 'drain',
          name: 'drain-1p',
          scenario,
          label: `drain ${tasks.toLocaleString('en-US')}, 1 consumer process`,
          tasks,
          consumers: 1,
        },
        {
          kind: 'drain',
          name: 'drain-2p',
          scenario,
          label: `drain ${tasks.toLocaleString('en-US')}, 2 consumer processes`,
          tasks,
          consumers: 2,
        },
      ];
    case 'pickup':
      return [
        {
          kind: 'pickup',
          name: 'pickup',
          scenario,
          label: 'idle pickup, one task at a time',
          pickups: options.pickups,
          maxSeconds: options.quick ? 30 : 120,
        },
      ];
    case 'load':
      return [
        {
          kind: 'load',
          name: 'load-50',
          scenario,
          label: 'open loop at 50% of own drain max',
          fraction: 0.5,
          seconds: options.loadSeconds,
        },
        {
          kind: 'load',
          name: 'load-80',
          scenario,
          label: 'open loop at 80% of own drain max',
          fraction: 0.8,
          seconds: options.loadSeconds,
        },
      ];
    case 'backlog':
      return [
        {
          kind: 'drain',
          name: 'backlog',
          scenario,
          label: `drain a backlog of ${options.backlog.toLocaleString('en-US')}, 2 consumer processes`,
          tasks: options.backlog,
          consumers: 2,
        },
      ];
  }
}

/** Whether a cell's headline figure is a rate (higher is better) or a latency (lower is). */
export function measuresLatency(cell: { kind: Cell['kind'] }): boolean {
  return cell.kind === 'pickup' || cell.kind === 'load';
}
