/** `pullq ack QUEUE ID:TOKEN...`: deletes leased tasks, fenced by their lease tokens. */
import { Command } from 'commander';
import type { LeaseRef } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import { addClientOptions, runClient } from './client.ts';
import { UsageError } from './errors.ts';
import { note, printJson } from './output.ts';

/** Task ids never hold a colon (`[a-zA-Z0-9_-]`), so the first one splits id from token. */
export function parseLeaseRef(text: string): LeaseRef {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw new UsageError(
      `${JSON.stringify(text)} is not ID:TOKEN (as \`pullq lease\` prints them)`,
    );
  }
  return { id: text.slice(0, colon), token: text.slice(colon + 1) };
}

export function ackCommand(): Command {
  const command = new Command('ack')
    .description('acknowledge leased tasks: they are done and deleted')
    .argument('<queue>', 'queue name')
    .argument('<leases...>', 'ID:TOKEN pairs, as `pullq lease` prints them');
  addClientOptions(command);
  return command.action(async (queue: string, leases: string[], _flags: unknown, self: Command) =>
    runClient(self, async (backend, settings) => {
      const refs = leases.map(parseLeaseRef);
      if (refs.length > LIMITS.maxBatch) {
        throw new UsageError(`ack at most ${LIMITS.maxBatch} leases at once`);
      }
      const results = await backend.ack(queue, refs);
      const failures = results.flatMap((result, index) =>
        result.ok ? [] : [{ id: refs[index]?.id ?? '', error: result.error }],
      );
      if (settings.json) {
        printJson({
          results: results.map((result, index) => ({
            id: refs[index]?.id,
            ...(result.ok ? { ok: true } : { ok: false, error: result.error.toJSON().error }),
          })),
        });
      } else {
        for (const failure of failures) {
          note(`error: ${failure.error.code}: ${failure.id}: ${failure.error.message}`);
        }
        note(`acked ${results.length - failures.length} of ${results.length} task(s) in ${queue}`);
        if (failures.some((failure) => failure.error.code === 'lease_lost')) {
          note(
            'hint: a lost lease means the task may run again elsewhere; lease it again if it is still there',
          );
        }
      }
      return failures.length > 0 ? 1 : 0;
    }),
  );
}
