/** `pullq lease QUEUE`: leases tasks and prints them with the tokens that ack them. */
import { Command } from 'commander';
import type { LeaseRequest } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import { addClientOptions, intOption, runClient, secondsOption } from './client.ts';
import { UsageError } from './errors.ts';
import {
  formatTable,
  note,
  payloadCell,
  print,
  printJson,
  relativeTime,
  taskJson,
} from './output.ts';

interface LeaseFlags {
  max: number;
  leaseSeconds: number;
  tag?: string;
  groupByTag?: boolean;
  wait?: number;
}

export function leaseCommand(): Command {
  const command = new Command('lease')
    .description('lease tasks: they stay invisible to others until acked or the lease runs out')
    .argument('<queue>', 'queue name')
    .option(
      '--max <n>',
      'tasks to lease at most',
      intOption('--max', 1, LIMITS.maxTasksPerLease),
      1,
    )
    .option(
      '--lease-seconds <s>',
      'how long the lease lasts',
      secondsOption('--lease-seconds', 0, LIMITS.maxLeaseSeconds),
      60,
    )
    .option('--tag <tag>', 'only tasks with this tag')
    .option('--group-by-tag', 'only tasks with the tag of the oldest ready task')
    .option(
      '--wait <s>',
      'when nothing is ready, wait up to this long for a task to arrive',
      secondsOption('--wait', 0, LIMITS.maxWaitSeconds),
    );
  addClientOptions(command);
  return command.action(async (queue: string, flags: LeaseFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      if (flags.tag !== undefined && flags.groupByTag) {
        throw new UsageError('give --tag or --group-by-tag, not both');
      }
      // Ctrl-C during a long-poll ends the wait; the server returns what it has (nothing).
      const abort = new AbortController();
      const onInterrupt = (): void => abort.abort();
      process.once('SIGINT', onInterrupt);
      const request: LeaseRequest = {
        max: flags.max,
        leaseSeconds: flags.leaseSeconds,
        signal: abort.signal,
        ...(flags.tag === undefined ? {} : { tag: flags.tag }),
        ...(flags.groupByTag ? { groupByTag: true } : {}),
        ...(flags.wait === undefined ? {} : { waitSeconds: flags.wait }),
      };
      let tasks;
      try {
        tasks = await backend.lease(queue, request);
      } finally {
        process.off('SIGINT', onInterrupt);
      }
      if (settings.json) {
        printJson({ tasks: tasks.map(taskJson) });
        return;
      }
      if (tasks.length === 0) {
        note(`no task was ready in ${queue}`);
        return;
      }
      print(
        formatTable(
          ['ID', 'TOKEN', 'ATTEMPTS', 'TAG', 'LEASE ENDS', 'PAYLOAD'],
          tasks.map((task) => [
            task.id,
            task.leaseToken,
            String(task.attempts),
            task.tag ?? '-',
            relativeTime(task.eta),
            payloadCell(task.payload),
          ]),
          ['left', 'left', 'right'],
        ),
      );
      note(`leased ${tasks.length} task(s); ack with: pullq ack ${queue} ID:TOKEN ...`);
    }),
  );
}
