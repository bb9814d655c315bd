/** `pullq stats [QUEUE]`: one queue's counts, or a table of every queue. */
import { Command } from 'commander';
import type { Backend, QueueInfo, QueueStats } from '../backends/backend.ts';
import { isPullqError } from '../protocol/errors.ts';
import { addClientOptions, runClient } from './client.ts';
import {
  formatCount,
  formatRecord,
  formatSeconds,
  formatTable,
  note,
  print,
  printJson,
} from './output.ts';

/** Stats requests in flight at once for the all-queues table. */
const STATS_CONCURRENCY = 8;

export function statsCommand(): Command {
  const command = new Command('stats')
    .description('task counts and lease rates of one queue, or of every queue')
    .argument('[queue]', 'queue name (all queues when left out)');
  addClientOptions(command);
  return command.action(async (queue: string | undefined, _flags: unknown, self: Command) =>
    runClient(self, async (backend, settings) => {
      if (queue !== undefined) {
        const stats = await backend.stats(queue);
        if (settings.json) printJson({ queue, ...stats });
        else print(formatStats(queue, stats));
        return;
      }
      const all = await allStats(backend);
      if (settings.json) {
        printJson({
          queues: all.map(({ info, stats }) => ({
            queue: info.name,
            paused: info.paused,
            ...stats,
          })),
        });
        return;
      }
      if (all.length === 0) {
        note('no queues yet: `pullq put QUEUE DATA` or `pullq queue create QUEUE` makes one');
        return;
      }
      print(
        formatTable(
          [
            'QUEUE',
            'READY',
            'DELAYED',
            'LEASED',
            'DEAD',
            'OLDEST READY',
            'LEASED/MIN',
            'LEASED/HOUR',
            'STATE',
          ],
          all.map(({ info, stats }) => [
            info.name,
            formatCount(stats.ready),
            formatCount(stats.delayed),
            formatCount(stats.leased),
            formatCount(stats.dead),
            formatSeconds(stats.oldestReadyAgeSeconds),
            formatCount(stats.leasedLastMinute),
            formatCount(stats.leasedLastHour),
            info.paused ? 'paused' : 'active',
          ]),
          ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
        ),
      );
    }),
  );
}

async function allStats(backend: Backend): Promise<{ info: QueueInfo; stats: QueueStats }[]> {
  const queues = await backend.listQueues();
  const results: { info: QueueInfo; stats: QueueStats }[] = [];
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
