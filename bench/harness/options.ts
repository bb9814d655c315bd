/**
 * The command line of `npm run bench`: scenarios by name, `--quick`, and the counts.
 *
 *   npm run bench -- [enqueue] [drain] [pickup] [load] [backlog] [--quick]
 *                    [--contenders a,b] [--runs N] [--warmups N] [--tasks N] [--pickups N]
 *                    [--seconds N] [--backlog N] [--time-limit N] [--no-docs]
 */
import { parseArgs } from 'node:util';

export const SCENARIOS = ['enqueue', 'drain', 'pickup', 'load', 'backlog'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  quick: boolean;
  /** Null: every contender that exists (full) or the headline three (quick). */
  contenders: string[] | null;
  /** Measured runs per cell and contender. */
  runs: number;
  /** Runs before those, not reported in the table. */
  warmups: number;
  /** Tasks of each enqueue and drain run. */
  tasks: number;
  /** Pickups of each pickup run (after 10 unreported warm-up pickups). */
  pickups: number;
  /** Length of each open-loop load run. */
  loadSeconds: number;
  /** Tasks of the backlog drain. */
  backlog: number;
  /** Measured runs of the backlog drain (each preloads it anew), no warm-up. */
  backlogRuns: number;
  /** A run still moving tasks after this long ends, reported invalid; the contender's later
   * runs of that cell are skipped. */
  timeLimitSeconds: number;
  /** Rewrite the side-by-side section of docs/benchmarks.md. */
  docs: boolean;
  /** The arguments as given, for the published command line. */
  argv: string[];
}

export const USAGE = `npm run bench -- [scenario...] [options]

scenarios: ${SCENARIOS.join(', ')} (default: all; with --quick: drain, pickup)
  --quick            drain and pickup only, small counts, 3 runs, the headline contenders
  --contenders a,b   contenders by name (default: all that exist; --quick: the headline three)
  --runs N           measured runs per cell (default 5; --quick 3)
  --warmups N        unreported runs before them (default 1; --quick 0)
  --tasks N          tasks per enqueue and drain run (default 100000; --quick 20000)
  --pickups N        pickups per pickup run (default 1000; --quick 300)
  --seconds N        length of each open-loop load run (default 30; --quick 10)
  --backlog N        tasks of the backlog drain (default 1000000; --quick 100000)
  --time-limit N     seconds a run may take (default 300; --quick 120; the backlog 4 times that)
  --no-docs          do not rewrite docs/benchmarks.md (a full run does by default)
`;

function count(text: string | undefined, fallback: number, name: string, min = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`--${name} must be a whole number of at least ${min}, got ${text}`);
  }
  return value;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      contenders: { type: 'string' },
      runs: { type: 'string' },
      warmups: { type: 'string' },
      tasks: { type: 'string' },
      pickups: { type: 'string' },
      seconds: { type: 'string' },
      backlog: { type: 'string' },
      'time-limit': { type: 'string' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const quick = values.quick ?? false;
  for (const name of positionals) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario ${name}; the scenarios: ${SCENARIOS.join(', ')}`);
    }
  }
  const asked = positionals as ScenarioName[];
  const scenarios: ScenarioName[] =
    asked.length > 0
      ? SCENARIOS.filter((name) => asked.includes(name))
      : quick
        ? ['drain', 'pickup']
        : [...SCENARIOS];
  const contenders =
    values.contenders === undefined
      ? null
      : values.contenders
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '');
  const runs = count(values.runs, quick ? 3 : 5, 'runs', 1);
  return {
    scenarios,
    quick,
    contenders,
    runs,
    warmups: count(values.warmups, quick ? 0 : 1, 'warmups'),
    tasks: count(values.tasks, quick ? 20_000 : 100_000, 'tasks', 2),
    pickups: count(values.pickups, quick ? 300 : 1000, 'pickups', 1),
    loadSeconds: count(values.seconds, quick ? 10 : 30, 'seconds', 1),
    backlog: count(values.backlog, quick ? 100_000 : 1_000_000, 'backlog', 2),
    // A 1M preload and drain takes minutes per run for the slower peers: 3 runs keep the full
    // matrix within a few hours; fewer when fewer are asked for.
    backlogRuns: Math.min(runs, 3),
    // pg-boss with its defaults drains ~50 tasks/s here (one job per 2 s poll per worker):
    // 100,000 would take half an hour a run. 300 s bounds a cell to minutes per contender.
    timeLimitSeconds: count(values['time-limit'], quick ? 120 : 300, 'time-limit', 1),
    docs: !quick && values['no-docs'] !== true,
    argv,
  };
}
