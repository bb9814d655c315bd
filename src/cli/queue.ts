/** `pullq queue create|get|update|delete|list|purge`: queue administration. */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import type { QueueConfig, QueueInfo } from '../backends/backend.ts';
import { queueNotFound } from '../backends/common.ts';
import { addClientOptions, intOption, intOrNoneOption, runClient } from './client.ts';
import { UsageError } from './errors.ts';
import {
  QUEUE_HEADERS,
  formatCount,
  formatQueue,
  formatTable,
  note,
  print,
  printJson,
  queueRows,
} from './output.ts';

interface ConfigFlags {
  maxLeases?: number | 'none';
  deadLetterQueue?: string;
  dedupWindow?: number;
  pause?: boolean;
  resume?: boolean;
}

interface DangerFlags {
  yes?: boolean;
}

function addConfigOptions(command: Command, update: boolean): Command {
  command
    .option(
      '--max-leases <n|none>',
      'leases a task may have before it is dead-lettered (none: unlimited)',
      intOrNoneOption('--max-leases', 1, 1_000_000),
    )
    .option(
      '--dead-letter-queue <queue|none>',
      'where dead letters go (none: keep them here as dead)',
    )
    .option(
      '--dedup-window <s>',
      'how long an acked or deleted task id stays refused',
      intOption('--dedup-window', 0, 365 * 24 * 3600),
    )
    .option('--pause', 'pause the queue: it accepts inserts and leases nothing');
  if (update) command.option('--resume', 'resume a paused queue');
  return command;
}

export function configPatch(flags: ConfigFlags): Partial<QueueConfig> {
  if (flags.pause && flags.resume) throw new UsageError('give --pause or --resume, not both');
  const patch: Partial<QueueConfig> = {};
  if (flags.maxLeases !== undefined) {
    patch.maxLeases = flags.maxLeases === 'none' ? null : flags.maxLeases;
  }
  if (flags.deadLetterQueue !== undefined) {
    patch.deadLetterQueue = flags.deadLetterQueue === 'none' ? null : flags.deadLetterQueue;
  }
  if (flags.dedupWindow !== undefined) patch.dedupWindowSeconds = flags.dedupWindow;
  if (flags.pause) patch.paused = true;
  if (flags.resume) patch.paused = false;
  return patch;
}

/** Asks on a terminal; without one (scripts) the command needs --yes. */
async function confirm(question: string, flags: DangerFlags): Promise<void> {
  if (flags.yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(`${question.replace(/\?$/, '')}: pass --yes to confirm`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('cancelled');
  } finally {
    prompt.close();
  }
}

function printQueue(queue: QueueInfo, json: boolean): void {
  if (json) printJson(queue);
  else print(formatQueue(queue));
}

export function queueCommand(): Command {
  const queue = new Command('queue').description('create, inspect, change and delete queues');

  const create = addConfigOptions(
    new Command('create').description('create a queue').argument('<name>', 'queue name'),
    false,
  );
  addClientOptions(create).action(async (name: string, flags: ConfigFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      const created = await backend.createQueue(name, configPatch(flags));
      printQueue(created, settings.json);
      if (!settings.json) note(`created queue ${name}`);
    }),
  );

  const get = new Command('get')
    .description("show a queue's settings")
    .argument('<name>', 'queue name');
  addClientOptions(get).action(async (name: string, _flags: unknown, self: Command) =>
    runClient(self, async (backend, settings) => {
      const info = await backend.getQueue(name);
      if (!info) throw queueNotFound(name);
      printQueue(info, settings.json);
    }),
  );

  const update = addConfigOptions(
    new Command('update').description("change a queue's settings").argument('<name>', 'queue name'),
    true,
  );
  addClientOptions(update).action(async (name: string, flags: ConfigFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      const patch = configPatch(flags);
      if (Object.keys(patch).length === 0) {
        throw new UsageError('nothing to change: give at least one setting');
      }
      printQueue(await backend.updateQueue(name, patch), settings.json);
    }),
  );

  const remove = new Command('delete')
    .description('delete a queue and every task in it')
    .argument('<name>', 'queue name')
    .option('-y, --yes', 'do not ask for confirmation');
  addClientOptions(remove).action(async (name: string, flags: DangerFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      await confirm(`delete queue ${name} and every task in it?`, flags);
      await backend.deleteQueue(name);
      if (settings.json) printJson({ deleted: name });
      else note(`deleted queue ${name}`);
    }),
  );

  const list = new Command('list').description('list queues and their settings');
  addClientOptions(list).action(async (_flags: unknown, self: Command) =>
    runClient(self, async (backend, settings) => {
      const queues = await backend.listQueues();
      if (settings.json) printJson({ queues });
      else if (queues.length === 0) note('no queues yet');
      else print(formatTable(QUEUE_HEADERS, queueRows(queues)));
    }),
  );

  const purge = new Command('purge')
    .description('delete every task in a queue (the queue and its settings stay)')
    .argument('<name>', 'queue name')
    .option('-y, --yes', 'do not ask for confirmation');
  addClientOptions(purge).action(async (name: string, flags: DangerFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      await confirm(`delete every task in queue ${name}?`, flags);
      const purged = await backend.purgeQueue(name);
      if (settings.json) printJson({ queue: name, purged });
      else note(`purged ${formatCount(purged)} task(s) from ${name}`);
    }),
  );

  return queue
    .addCommand(create)
    .addCommand(get)
    .addCommand(update)
    .addCommand(remove)
    .addCommand(list)
    .addCommand(purge);
}
