/**
 * Releasing leases over AMQP. Without a delay or a note, a lease is given back with nack and
 * requeue: the same message returns to the head of its queue and the broker counts the
 * redelivery. A delay, a note or a dead letter need a new message: the copy is published and
 * confirmed first and the delivery acked after, so a failure in between leaves a duplicate,
 * never a loss. While its copy is on the way the lease is detached from its lane, so its timer
 * cannot give it back as well; if the copy fails, the lease is put back as it was.
 */
import type { ItemResult, ReleaseRequest, Task } from '../backend.ts';
import { leaseLost, queueNotFound } from '../common.ts';
import { type PullqError } from '../../protocol/errors.ts';
import { truncateNote } from '../../protocol/limits.ts';
import { amqpError } from './errors.ts';
import type { HeldLease, Lane } from './lane.ts';
import type { AmqpLink } from './link.ts';
import type { Outgoing } from './publisher.ts';
import type { QueueAdmin } from './queue-admin.ts';
import { outgoingCopy, publishOptions, taskView, type TaskFields } from './task-message.ts';
import { deadQueueOf, delaySecondsUntil } from './topology.ts';

export interface ReleaseContext {
  queue: string;
  lane: Lane;
  /** The queue's configured dead-letter queue; null keeps dead letters in `q.dead`. */
  deadLetterQueue: string | null;
  now: number;
  link: AmqpLink;
  queues: QueueAdmin;
}

interface Copy {
  index: number;
  held: HeldLease;
  /** The queue the copy goes to (for errors). */
  target: string;
  outgoing: Outgoing;
  /** The task as the release answers it. */
  view: Task;
}

export async function releaseLeases(
  releases: ReleaseRequest[],
  context: ReleaseContext,
): Promise<ItemResult<Task>[]> {
  const { queue, lane, now } = context;
  const delays = releases.map((release) =>
    release.deadLetter === true
      ? 0
      : delaySecondsUntil(now + Math.round((release.delaySeconds ?? 0) * 1000), now),
  );
  const longest = Math.max(0, ...delays);
  if (longest > 0) await context.queues.ensureDelay(queue, longest);
  const results: ItemResult<Task>[] = [];
  const copies: Copy[] = [];
  releases.forEach((release, index) => {
    const held = lane.find(release.ref);
    const delay = delays[index] ?? 0;
    if (held === null) {
      results[index] = { ok: false, error: leaseLost(release.ref.id) };
    } else if (release.deadLetter !== true && delay === 0 && release.error === undefined) {
      const fields = { ...fieldsOfHeld(held), eta: now };
      results[index] = lane.settle(held, 'requeue')
        ? { ok: true, value: taskView(queue, fields, held.task.payload, 'ready', fields.attempts) }
        : { ok: false, error: leaseLost(release.ref.id) };
    } else if (!lane.detach(held)) {
      results[index] = { ok: false, error: leaseLost(release.ref.id) };
    } else {
      const note = release.error === undefined ? held.task.lastError : truncateNote(release.error);
      copies.push(
        release.deadLetter === true
          ? deadCopy(index, held, note, context)
          : retryCopy(index, held, delay, note, context),
      );
    }
  });
  if (copies.length > 0) await publishCopies(copies, results, context);
  return results;
}

function fieldsOfHeld(held: HeldLease): TaskFields {
  const { id, tag, enqueuedAt, eta, attempts, lastError, deadLetteredFrom } = held.task;
  return { id, tag, enqueuedAt, eta, attempts, lastError, deadLetteredFrom };
}

/** The task again in its queue (after `delay` s), its attempts and note carried on. */
function retryCopy(
  index: number,
  held: HeldLease,
  delay: number,
  note: string | null,
  { queue, now }: ReleaseContext,
): Copy {
  const fields = { ...fieldsOfHeld(held), eta: now + delay * 1000, lastError: note };
  const { content, properties } = held.message;
  return {
    index,
    held,
    target: queue,
    outgoing: outgoingCopy(queue, fields, delay, content, properties.headers),
    view: taskView(queue, fields, content, delay > 0 ? 'delayed' : 'ready', fields.attempts),
  };
}

/** The task as a dead letter: in `q.dead` (its dead state), or ready in the dead-letter queue. */
function deadCopy(
  index: number,
  held: HeldLease,
  note: string | null,
  { queue, now, deadLetterQueue }: ReleaseContext,
): Copy {
  const target = deadLetterQueue ?? deadQueueOf(queue);
  const fields: TaskFields = {
    ...fieldsOfHeld(held),
    eta: now,
    attempts: 0,
    lastError: note ?? 'rejected by the consumer',
    deadLetteredFrom: deadLetterQueue === null ? null : queue,
  };
  const { content, properties } = held.message;
  return {
    index,
    held,
    target,
    outgoing: {
      exchange: '',
      routingKey: target,
      content,
      options: publishOptions(fields, properties.headers),
    },
    view:
      deadLetterQueue === null
        ? taskView(queue, fields, content, 'dead', held.task.attempts)
        : taskView(deadLetterQueue, fields, content, 'ready', 0),
  };
}

async function publishCopies(
  copies: Copy[],
  results: ItemResult<Task>[],
  { queue, lane, now, link }: ReleaseContext,
): Promise<void> {
  let routed: boolean[] = [];
  let failure: PullqError | null = null;
  try {
    const publisher = await link.publisher();
    routed = await publisher.publish(
      copies.map((copy) => copy.outgoing),
      `releasing tasks of ${queue}`,
    );
  } catch (error) {
    failure = amqpError(error, `releasing tasks of ${queue}`);
  }
  copies.forEach((copy, n) => {
    if (routed[n] === true) {
      // Acked after its copy is safe; if the channel closed meanwhile the broker requeued the
      // original, and the task is there twice (at-least-once).
      lane.settleDetached(copy.held, 'ack');
      results[copy.index] = { ok: true, value: copy.view };
    } else {
      lane.reattach(copy.held, now);
      results[copy.index] = { ok: false, error: failure ?? queueNotFound(copy.target) };
    }
  });
}
