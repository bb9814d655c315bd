/**
 * Admitting deliveries as leases. Each delivery's attempt is counted from its headers
 * (task-message.ts); one past the queue's maxLeases is not handed out but dead-lettered there
 * and then, with its last note, like the memory backend does on the lease that would exceed
 * the limit. (The broker's delivery limit catches the same tasks when they come back by nack
 * or a lost channel; this catches those whose count restarted with a copy, a delayed release.)
 */
import type { Message } from 'amqplib';
import type { LeasedTask } from '../backend.ts';
import type { Batch, Lane } from './lane.ts';
import type { AmqpLink } from './link.ts';
import type { QueueSettings } from './settings-store.ts';
import { fieldsOf, publishOptions, taskView, type TaskFields } from './task-message.ts';
import { deadQueueOf } from './topology.ts';

export interface AdmitContext {
  queue: string;
  lane: Lane;
  settings: QueueSettings;
  leaseSeconds: number;
  now: number;
  link: AmqpLink;
}

export async function admit(batch: Batch, context: AdmitContext): Promise<LeasedTask[]> {
  const { queue, lane, settings, now } = context;
  const leaseMs = Math.round(context.leaseSeconds * 1000);
  const leased: LeasedTask[] = [];
  const over: { message: Message; fields: TaskFields }[] = [];
  for (const message of batch.messages) {
    const { redeliveries, ...fields } = fieldsOf(message, queue, now);
    const attempts = fields.attempts + redeliveries + 1;
    if (settings.maxLeases !== null && attempts > settings.maxLeases) {
      over.push({ message, fields: { ...fields, attempts: attempts - 1 } });
      continue;
    }
    const task = lane.hold(
      batch.generation,
      message,
      (leaseToken) => ({
        ...taskView(queue, fields, message.content, 'leased', attempts),
        eta: now + leaseMs,
        state: 'leased',
        leaseToken,
      }),
      leaseMs,
      now,
    );
    if (task !== null) leased.push(task);
  }
  if (over.length > 0) await deadLetterOverLimit(batch, over, context);
  return leased;
}

async function deadLetterOverLimit(
  batch: Batch,
  over: { message: Message; fields: TaskFields }[],
  { queue, lane, settings, link }: AdmitContext,
): Promise<void> {
  const target = settings.deadLetterQueue ?? deadQueueOf(queue);
  const copies = over.map(({ message, fields }) => ({
    exchange: '',
    routingKey: target,
    content: message.content,
    options: publishOptions(
      {
        ...fields,
        attempts: 0,
        lastError: fields.lastError ?? `leased ${fields.attempts} times, the queue's maxLeases`,
        deadLetteredFrom: settings.deadLetterQueue === null ? null : queue,
      },
      message.properties.headers,
    ),
  }));
  let routed: boolean[] = [];
  try {
    const publisher = await link.publisher();
    routed = await publisher.publish(copies, `dead-lettering from ${queue}`);
  } catch {
    // Given back below; the next lease tries again (or the broker's delivery limit acts).
  }
  over.forEach(({ message }, index) => {
    lane.settleUnheld(batch.generation, message, routed[index] === true ? 'ack' : 'requeue');
  });
}
