/**
 * Named tasks: one queue carries many task types, as Celery's do. `defineTask` returns a task
 * whose `enqueue` puts its arguments with the header `pullq-task: <name>`; the worker's child
 * routes each message to the task that header names.
 *
 *   export const sendEmail = defineTask('send-email', async (args: { to: string }, ctx) => {...});
 *   await sendEmail.enqueue(queue, { to: 'a@example.com' });
 */
import type { PutOptions } from '../client/put.ts';
import type { SimpleQueue } from '../client/simple-queue.ts';
import type { HandlerContext } from './context.ts';

/** The envelope header that names a message's task. */
export const TASK_HEADER = 'pullq-task';

/** Marks a task object, across copies of this module (a built package and its sources). */
const TASK_BRAND = Symbol.for('pullq.worker.task');

export interface TaskOptions {
  /** Seconds an attempt may run before its signal aborts and it counts as failed. */
  timeoutSeconds?: number;
}

export interface Task<Args> {
  readonly name: string;
  readonly options: TaskOptions;
  readonly run: (args: Args, ctx: HandlerContext) => Promise<void>;
  /** Puts one message for this task; resolves with its id. */
  enqueue(queue: SimpleQueue, args: Args, options?: PutOptions): Promise<string>;
}

export function defineTask<Args>(
  name: string,
  run: (args: Args, ctx: HandlerContext) => Promise<void>,
  options: TaskOptions = {},
): Task<Args> {
  if (name === '') throw new TypeError('a task needs a name');
  return {
    [TASK_BRAND]: true,
    name,
    options,
    run,
    async enqueue(queue, args, putOptions = {}) {
      return queue.put(args, {
        ...putOptions,
        headers: { ...putOptions.headers, [TASK_HEADER]: name },
      });
    },
  } as Task<Args>;
}

export function isTask(value: unknown): value is Task<unknown> {
  return typeof value === 'object' && value !== null && TASK_BRAND in value;
}
