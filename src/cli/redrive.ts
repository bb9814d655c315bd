/** `pullq redrive QUEUE [IDS...]`: gives dead letters another chance. */
import { Command } from 'commander';
import { addClientOptions, runClient } from './client.ts';
import { formatCount, note, printJson } from './output.ts';

export function redriveCommand(): Command {
  const command = new Command('redrive')
    .description(
      'move dead letters back: dead tasks of QUEUE become ready, and tasks dead-lettered into QUEUE go back to their own queue',
    )
    .argument('<queue>', 'queue name')
    .argument('[ids...]', 'only these tasks (all dead letters when left out)');
  addClientOptions(command);
  return command.action(async (queue: string, ids: string[], _flags: unknown, self: Command) =>
    runClient(self, async (backend, settings) => {
      const redriven = await backend.redrive(queue, ids.length > 0 ? { ids } : {});
      if (settings.json) printJson({ queue, redriven });
      else note(`redrove ${formatCount(redriven)} task(s) from ${queue}`);
    }),
  );
}
