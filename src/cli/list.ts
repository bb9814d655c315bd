/** `pullq list QUEUE`: one page of a queue's tasks, in insertion order. */
import { Command, InvalidArgumentError } from 'commander';
import { TASK_STATES, type ListRequest, type TaskState } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import { addClientOptions, intOption, runClient } from './client.ts';
import {
  formatTable,
  note,
  payloadCell,
  print,
  printJson,
  relativeTime,
  taskJson,
} from './output.ts';

interface ListFlags {
  state?: TaskState;
  tag?: string;
  limit: number;
  cursor?: string;
  payload?: boolean;
}

function stateOption(value: string): TaskState {
  const state = TASK_STATES.find((candidate) => candidate === value);
  if (!state) throw new InvalidArgumentError(`--state must be one of ${TASK_STATES.join(', ')}`);
  return state;
}

export function listCommand(): Command {
  const command = new Command('list')
    .description("list a queue's tasks (one page; the next page's --cursor is printed after it)")
    .argument('<queue>', 'queue name')
    .option('--state <state>', `only tasks in this state (${TASK_STATES.join(', ')})`, stateOption)
    .option('--tag <tag>', 'only tasks with this tag')
    .option('--limit <n>', 'tasks per page', intOption('--limit', 1, LIMITS.maxListLimit), 100)
    .option('--cursor <cursor>', 'continue after the previous page')
    .option('--payload', 'include payloads');
  addClientOptions(command);
  return command.action(async (queue: string, flags: ListFlags, self: Command) =>
    runClient(self, async (backend, settings) => {
      const request: ListRequest = {
        limit: flags.limit,
        ...(flags.state === undefined ? {} : { state: flags.state }),
        ...(flags.tag === undefined ? {} : { tag: flags.tag }),
        ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
        ...(flags.payload ? { includePayload: true } : {}),
      };
      const page = await backend.list(queue, request);
      if (settings.json) {
        printJson({ tasks: page.tasks.map(taskJson), nextCursor: page.nextCursor });
        return;
      }
      if (page.tasks.length === 0) {
        note(`no tasks${flags.state ? ` in the ${flags.state} state` : ''} in ${queue}`);
        return;
      }
      const now = Date.now();
      const headers = ['ID', 'STATE', 'ATTEMPTS', 'TAG', 'ETA', 'ENQUEUED', 'LAST ERROR'];
      const rows = page.tasks.map((task) => [
        task.id,
        task.state,
        String(task.attempts),
        task.tag ?? '-',
        relativeTime(task.eta, now),
        relativeTime(task.enqueuedAt, now),
        task.lastError === null ? '-' : JSON.stringify(task.lastError.slice(0, 60)),
        ...(flags.payload ? [payloadCell(task.payload)] : []),
      ]);
      print(
        formatTable(flags.payload ? [...headers, 'PAYLOAD'] : headers, rows, [
          'left',
          'left',
          'right',
        ]),
      );
      if (page.nextCursor !== null) {
        note(`more tasks: add --cursor ${page.nextCursor} (with the same filters)`);
      }
    }),
  );
}
