/**
 * The side-by-side section of docs/benchmarks.md, rewritten by each full run between its two
 * marker comments (the rest of the file is left as it is), and its chart under docs/images/.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chartSvg } from './chart.ts';
import type { ContenderInfo } from './contender.ts';
import type { Environment } from './environment.ts';
import type { BenchOptions } from './options.ts';
import { latencyTable, markdownTable, throughputTable, type SummaryRow } from './summary.ts';

export const START_MARKER = '<!-- side-by-side:start -->';
export const END_MARKER = '<!-- side-by-side:end -->';
const DOC = new URL('../../docs/benchmarks.md', import.meta.url);
const CHART = new URL('../../docs/images/benchmarks-side-by-side.svg', import.meta.url);
const CHART_LINK = 'images/benchmarks-side-by-side.svg';

/** `document` with the text between the markers replaced by `section`. */
export function replaceSection(document: string, section: string): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start < 0 || end < start) {
    throw new Error(`docs/benchmarks.md has no ${START_MARKER} ... ${END_MARKER} pair`);
  }
  return `${document.slice(0, start + START_MARKER.length)}\n\n${section.trim()}\n\n${document.slice(end)}`;
}

const METHOD = `How it measures (bench/harness/, peers.md section 4): every task is a ~100-byte JSON
body \`{id, t0, pad}\`; every run starts from fresh state (a new SQLite folder, PostgreSQL
schema or Redis key prefix, queue or pg-boss schema) and ends with the exactly-once check:
each handler records the ids it ran, and a run with a missing task is invalid (duplicates are
counted). Producers and consumers are processes of their own.

- Enqueue: tasks/s over the producer's calls (32 \`put\`s in flight, or one bulk call at a
  time); then the tasks are drained to check them.
- Drain: the tasks are preloaded, then 1 or 2 consumer processes (concurrency 100 each unless
  a contender's settings say otherwise) drain them. The rate runs from the first handler start
  to the last, so consumer start-up is left out.
- Pickup: one task at a time into an idle consumer, 10 to 30 ms after the previous one
  started; latency from before the enqueue call to the handler's start (10 warm-up pickups not
  counted; a run stops after 120 s with the pickups it has). A consumer that polls is caught
  early in its polling cycle, so its figure is near its poll interval: its worst case.
- Load: an open loop at 50% and 80% of each contender's own best drain rate in the same
  invocation, sending what is due every 5 ms; latency from each task's scheduled send time.
- CPU: utime + stime from /proc of every process involved (producer, consumers and their
  children, pullq's server, and the broker: \`redis-server\` or every \`postgres\` process)
  over the measured window, per 1,000 tasks. A broker serving other work at the same time is
  charged for it too.
- "vs best peer": against the best BullMQ or pg-boss variant in the cell (rates: above 1 is
  faster; p99: below 1 is sooner).`;

/** Markdown would take `<temp folder>` for an HTML tag. */
function text(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function settingsList(infos: readonly ContenderInfo[]): string {
  return infos
    .map((info) => {
      const versions = Object.entries(info.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ');
      const settings = Object.entries(info.settings)
        .map(
          ([name, value]) =>
            `${name}: ${text(typeof value === 'string' ? value : JSON.stringify(value))}`,
        )
        .join('; ');
      return `- **${info.name}** (${info.system}; ${text(versions)}): ${settings}`;
    })
    .join('\n');
}

function environmentText(environment: Environment, loadAverageEnd: number[]): string {
  const packages = Object.entries(environment.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const lines = [
    `Machine: ${environment.cpu}, ${environment.cores} cores, ${environment.memoryGiB} GiB, ${environment.os}; load average ${environment.loadAverageStart.join(' / ')} at the start, ${loadAverageEnd.join(' / ')} at the end.`,
    `Versions: Node ${environment.node}; pullq commit ${environment.pullqCommit}${environment.pullqDirty ? ' (with uncommitted changes in the checkout)' : ''}; ${packages}; SQLite ${environment.sqlite} (node:sqlite).`,
  ];
  if (environment.redis !== null) {
    const redis = environment.redis;
    lines.push(
      `Redis ${redis['version']}: appendonly ${redis['appendonly']}, appendfsync ${redis['appendfsync']}, save "${redis['save']}", maxmemory-policy ${redis['maxmemory-policy']}.`,
    );
  }
  if (environment.postgres !== null) {
    const pg = environment.postgres;
    lines.push(
      `PostgreSQL ${pg['server_version']}: synchronous_commit ${pg['synchronous_commit']}, fsync ${pg['fsync']}, shared_buffers ${pg['shared_buffers']}, max_connections ${pg['max_connections']}.`,
    );
  }
  return lines.join('\n');
}

export function sideBySideSection(input: {
  rows: readonly SummaryRow[];
  infos: readonly ContenderInfo[];
  environment: Environment;
  loadAverageEnd: number[];
  options: BenchOptions;
  wallSeconds: number;
}): string {
  const { rows, options } = input;
  const command = [
    'npm run bench',
    ...(input.options.argv.length > 0 ? ['--', ...input.options.argv] : []),
  ].join(' ');
  const throughput = throughputTable(rows);
  const latency = latencyTable(rows);
  return [
    '## Side by side: pullq, BullMQ and pg-boss (`npm run bench`)',
    '',
    `Written by \`${command}\` on ${input.environment.date.slice(0, 10)} (${Math.round(input.wallSeconds / 60)} minutes). Runs per cell and contender: ${options.runs} measured after ${options.warmups} warm-up (the backlog: ${options.backlogRuns}, no warm-up), the order of the contenders shuffled in each repetition; medians, with the range of the runs. This section is rewritten by each full run; edit bench/harness/docs.ts instead.`,
    '',
    environmentText(input.environment, input.loadAverageEnd),
    '',
    METHOD,
    '',
    throughput.rows.length > 0 ? markdownTable(throughput) : '',
    latency.rows.length > 0 ? markdownTable(latency) : '',
    `![Side-by-side chart: tasks/s, p99 latency and CPU per 1,000 tasks](${CHART_LINK})`,
    '',
    'Settings of each contender:',
    '',
    settingsList(input.infos),
  ].join('\n');
}

/** Writes the section into docs/benchmarks.md and the chart beside it. */
export async function writeDocs(
  section: string,
  rows: readonly SummaryRow[],
  caption: string,
): Promise<string[]> {
  const document = await readFile(DOC, 'utf8');
  // Formatted as `npm run lint` checks it (the tables' columns aligned).
  const prettier = await import('prettier');
  const path = fileURLToPath(DOC);
  const config = (await prettier.resolveConfig(path)) ?? {};
  const formatted = await prettier.format(replaceSection(document, section), {
    ...config,
    filepath: path,
  });
  await writeFile(CHART, chartSvg(rows, caption));
  await writeFile(DOC, formatted);
  return [fileURLToPath(DOC), fileURLToPath(CHART)];
}
