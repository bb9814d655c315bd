/**
 * `pullq stats [QUEUE] [--watch [--interval S]]`: one queue's counts, or a table of every
 * queue. With --watch the table is drawn again every interval until Ctrl-C (exit 0): redrawn in
 * place on a terminal, one table after another otherwise (one JSON line each with --json).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { Backend, QueueInfo, QueueStats } from '../backends/backend.ts';
import { isPullqError } from '../protocol/errors.ts';
import { addClientOptions, runClient, secondsOption, type ClientSettings } from './client.ts';
import { UsageError } from './errors.ts';
import {
  formatCount,
  formatRecord,
  formatSeconds,
  formatTable,
  note,
  print,
  printJson,
  type Align,
} from './output.ts';

/** Stats requests in flight at once for the all-queues table. */
const STATS_CONCURRENCY = 8;

interface StatsFlags {
  watch?: boolean;
  interval?: number;
}

interface QueueRow {
  info: QueueInfo;
  stats: QueueStats;
}

export function statsCommand(): Command {
  const command = new Command('stats')
    .description('task counts and lease rates of one queue, or of every queue')
    .argument('[queue]', 'queue name (all queues when left out)')
    .option('--watch', 'draw the table again every --interval seconds, until Ctrl-C')
    .option(
      '--interval <s>',
      'seconds between two tables with --watch (default 1)',
      secondsOption('--interval', 0.1, 3600),
    );
  addClientOptions(command);
  return command.action(async (queue: string | undefined, flags: StatsFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      if (flags.interval !== undefined && !flags.watch) {
        throw new UsageError('--interval goes with --watch');
      }
      if (flags.watch) return watch(backend, settings, queue, flags.interval ?? 1);
      if (queue !== undefined) {
        const stats = await backend.stats(queue);
        if (settings.json) printJson({ queue, ...stats });
        else print(formatStats(queue, stats));
        return;
      }
      const all = await allStats(backend);
      if (settings.json) {
        printJson(statsJson(all));
        return;
      }
      if (all.length === 0) {
        note('no queues yet: `pullq put QUEUE DATA` or `pullq queue create QUEUE` makes one');
        return;
      }
      print(statsTable(all, FULL_COLUMNS));
    }),
  );
}

interface Column {
  header: string;
  align: Align;
  cell(row: QueueRow): string;
}

const COLUMNS = {
  queue: { header: 'QUEUE', align: 'left', cell: ({ info }) => info.name },
  ready: { header: 'READY', align: 'right', cell: ({ stats }) => formatCount(stats.ready) },
  delayed: { header: 'DELAYED', align: 'right', cell: ({ stats }) => formatCount(stats.delayed) },
  leased: { header: 'LEASED', align: 'right', cell: ({ stats }) => formatCount(stats.leased) },
  dead: { header: 'DEAD', align: 'right', cell: ({ stats }) => formatCount(stats.dead) },
  oldest: {
    header: 'OLDEST READY',
    align: 'right',
    cell: ({ stats }) => formatSeconds(stats.oldestReadyAgeSeconds),
  },
  minute: {
    header: 'LEASED/MIN',
    align: 'right',
    cell: ({ stats }) => formatCount(stats.leasedLastMinute),
  },
  hour: {
    header: 'LEASED/HOUR',
    align: 'right',
    cell: ({ stats }) => formatCount(stats.leasedLastHour),
  },
  state: {
    header: 'STATE',
    align: 'left',
    cell: ({ info }) => (info.paused ? 'paused' : 'active'),
  },
} satisfies Record<string, Column>;

const FULL_COLUMNS: Column[] = Object.values(COLUMNS);
const WATCH_COLUMNS: Column[] = [
  COLUMNS.queue,
  COLUMNS.ready,
  COLUMNS.delayed,
  COLUMNS.leased,
  COLUMNS.dead,
  COLUMNS.oldest,
  COLUMNS.minute,
];

function statsTable(rows: readonly QueueRow[], columns: readonly Column[]): string {
  return formatTable(
    columns.map((column) => column.header),
    rows.map((row) => columns.map((column) => column.cell(row))),
    columns.map((column) => column.align),
  );
}

function statsJson(rows: readonly QueueRow[]): { queues: Record<string, unknown>[] } {
  return {
    queues: rows.map(({ info, stats }) => ({ queue: info.name, paused: info.paused, ...stats })),
  };
}

/**
 * Draws the table every `intervalSeconds` until SIGINT or SIGTERM, then returns 0. An error
 * worth retrying (the server restarting, a rate limit) is shown in place of the table and the
 * next draw tries again; any other ends the command.
 */
async function watch(
  backend: Backend,
  settings: ClientSettings,
  queue: string | undefined,
  intervalSeconds: number,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const stopped = new AbortController();
  const stop = (): void => stopped.abort();
  process.on('SIGINT', stop).on('SIGTERM', stop);
  const tty = out.isTTY === true && !settings.json;
  // Hidden while redrawing, so it does not flicker over the table.
  if (tty) out.write('\x1b[?25l');
  try {
    while (!stopped.signal.aborted) {
      const rows = await untilAborted(watchRows(backend, queue), stopped.signal);
      if (rows === undefined) break;
      const at = new Date();
      if (settings.json) {
        out.write(
          `${JSON.stringify(rows instanceof Error ? { at: at.getTime(), error: rows.message } : { at: at.getTime(), ...statsJson(rows) })}\n`,
        );
      } else {
        const header = `pullq stats  ${settings.server}  ${at.toLocaleTimeString('en-GB')}  (every ${intervalSeconds} s; Ctrl-C to stop)`;
        const body =
          rows instanceof Error
            ? `error: ${rows.message} (trying again)\n`
            : rows.length === 0
              ? 'no queues yet\n'
              : statsTable(rows, WATCH_COLUMNS);
        out.write(tty ? redraw(`${header}\n${body}`) : `${header}\n${body}\n`);
      }
      await sleep(intervalSeconds * 1000, undefined, { signal: stopped.signal }).catch(() => {});
    }
  } finally {
    if (tty) out.write('\x1b[?25h');
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  return 0;
}

/** The rows of one draw; an error worth retrying comes back as a value to show. */
async function watchRows(backend: Backend, queue: string | undefined): Promise<QueueRow[] | Error> {
  try {
    if (queue === undefined) return await allStats(backend);
    const [info, stats] = await Promise.all([backend.getQueue(queue), backend.stats(queue)]);
    return info ? [{ info, stats }] : [];
  } catch (error) {
    if (isPullqError(error) && error.retryable) return error;
    throw error;
  }
}

/** `promise`'s value, or undefined as soon as `signal` aborts (Ctrl-C during a slow request). */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  // Left behind on an abort: its failure (the backend closing under it) is nobody's concern.
  promise.catch(() => {});
  let onAbort = (): void => {};
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return signal.aborted ? undefined : await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Home, each line cleared to its end, then the rest of the screen: no flash of a blank one. */
function redraw(text: string): string {
  const lines = text.replace(/\n$/, '').split('\n');
  return `\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\n')}\n\x1b[J`;
}

async function allStats(backend: Backend): Promise<QueueRow[]> {
  const queues = await backend.listQueues();
  const results: QueueRow[] = [];
  for (let start = 0; start < queues.length; start += STATS_CONCURRENCY) {
    const slice = queues.slice(start, start + STATS_CONCURRENCY);
    // A queue deleted since the listing is left out rather than failing the whole table.
    const stats = await Promise.all(
      slice.map((info) =>
        backend.stats(info.name).catch((error: unknown) => {
          if (isPullqError(error, 'queue_not_found')) return null;
          throw error;
        }),
      ),
    );
    slice.forEach((info, index) => {
      const value = stats[index];
      if (value) results.push({ info, stats: value });
    });
  }
  return results;
}

function formatStats(queue: string, stats: QueueStats): string {
  return formatRecord([
    ['queue', queue],
    ['ready', formatCount(stats.ready)],
    ['delayed', formatCount(stats.delayed)],
    ['leased', formatCount(stats.leased)],
    ['dead', formatCount(stats.dead)],
    [
      'oldest ready',
      stats.oldestReadyAgeSeconds === null
        ? '-'
        : `${formatSeconds(stats.oldestReadyAgeSeconds)} old`,
    ],
    ['oldest eta', stats.oldestEta === null ? '-' : new Date(stats.oldestEta).toISOString()],
    ['leased in the last minute', formatCount(stats.leasedLastMinute)],
    ['leased in the last hour', formatCount(stats.leasedLastHour)],
  ]);
}
