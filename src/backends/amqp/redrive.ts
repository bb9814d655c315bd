/**
 * Redrive over AMQP: the dead letters kept in `q.dead` go back into `q` as fresh tasks
 * (attempts from 0, their last note kept), all of them or those with the given ids. Each is
 * published into `q` and confirmed before it leaves `q.dead`.
 *
 * Tasks a queue received as another queue's dead letters are ordinary ready tasks of it here
 * (their `deadLetteredFrom` names the queue they came from). Moving those back is not
 * available: AMQP cannot pick messages out of the middle of a queue. Lease them and put them
 * to that queue.
 */
import type { Message } from 'amqplib';
import type { AmqpLink } from './link.ts';
import { fieldsOf, outgoingCopy } from './task-message.ts';
import { deadQueueOf } from './topology.ts';

/** Returns how many moved. */
export async function redriveDead(
  link: AmqpLink,
  queue: string,
  ids: string[] | undefined,
  now: number,
): Promise<number> {
  const dead = deadQueueOf(queue);
  const wanted = ids === undefined ? null : new Set(ids);
  return link.withChannel(`redriving the dead letters of ${queue}`, async (channel) => {
    const { messageCount } = await channel.checkQueue(dead).catch((error: unknown) => {
      // Another tool's queue has no q.dead: nothing to redrive.
      if ((error as { code?: unknown }).code === 404) return { messageCount: 0 };
      throw error;
    });
    const moving: Message[] = [];
    for (let taken = 0; taken < messageCount; taken++) {
      const message = await channel.get(dead, { noAck: false });
      if (message === false) break;
      const id: unknown = message.properties.messageId;
      // The ones not asked for go back to q.dead when this channel closes.
      if (wanted === null || (typeof id === 'string' && wanted.has(id))) moving.push(message);
    }
    if (moving.length === 0) return 0;
    const copies = moving.map((message) => {
      const fields = fieldsOf(message, queue, now);
      const fresh = { ...fields, attempts: 0, eta: now, deadLetteredFrom: null };
      return outgoingCopy(queue, fresh, 0, message.content, message.properties.headers);
    });
    const publisher = await link.publisher();
    const routed = await publisher.publish(copies, `redriving the dead letters of ${queue}`);
    let moved = 0;
    moving.forEach((message, index) => {
      if (routed[index] !== true) return;
      channel.ack(message);
      moved += 1;
    });
    return moved;
  });
}
