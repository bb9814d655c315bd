/**
 * Inserting over AMQP: every task is one persistent message, published on the confirm channel;
 * the insert resolves when RabbitMQ confirmed them all, so a task the insert answered is on
 * disk. A task due now goes straight into its queue; a later one down the delay ladder
 * (topology.ts), whose levels are declared first. Ids are not checked for duplicates (AMQP
 * has no way to): a name used twice makes two tasks.
 */
import type { ItemResult, NewTask, Task } from '../backend.ts';
import { queueNotFound, randomId } from '../common.ts';
import type { AmqpLink } from './link.ts';
import type { QueueAdmin } from './queue-admin.ts';
import { outgoingCopy, taskView, type TaskFields } from './task-message.ts';
import { delaySecondsUntil } from './topology.ts';

export interface InsertContext {
  now: number;
  link: AmqpLink;
  queues: QueueAdmin;
}

/** The queue exists (checked by the caller); answers one result per task, in order. */
export async function insertTasks(
  queue: string,
  tasks: NewTask[],
  { now, link, queues }: InsertContext,
): Promise<ItemResult<Task>[]> {
  const delays = tasks.map((task) => delaySecondsUntil(task.eta ?? now, now));
  const longest = Math.max(0, ...delays);
  if (longest > 0) await queues.ensureDelay(queue, longest);
  const views: Task[] = [];
  const outgoing = tasks.map((task, index) => {
    const delay = delays[index] ?? 0;
    const fields: TaskFields = {
      id: task.id ?? randomId(),
      tag: task.tag ?? null,
      enqueuedAt: now,
      eta: now + delay * 1000,
      attempts: 0,
      lastError: null,
      deadLetteredFrom: null,
    };
    views.push(taskView(queue, fields, task.payload, delay > 0 ? 'delayed' : 'ready', 0));
    const content = Buffer.from(task.payload.buffer, task.payload.byteOffset, task.payload.length);
    return outgoingCopy(queue, fields, delay, content);
  });
  const publisher = await link.publisher();
  const routed = await publisher.publish(outgoing, `inserting into ${queue}`);
  if (routed.includes(false)) queues.forget(queue);
  return routed.map((stored, index) =>
    stored ? { ok: true, value: views[index] as Task } : { ok: false, error: queueNotFound(queue) },
  );
}
