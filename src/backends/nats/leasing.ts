/**
 * Lease over JetStream: pull from the queue's `ready` consumer, long-polling with the pull
 * request's `expires`, and turn each delivery into a lease in the LeaseBook.
 *
 * - attempts are JetStream's delivery count (a nak or an expired ack wait adds one).
 * - maxLeases: a delivery whose count exceeds it is not handed out: it is published as a dead
 *   letter (with the task's last note as its error) and the original acknowledged. The
 *   consumer's max_deliver stays unlimited: at max_deliver JetStream stops delivering and only
 *   emits an advisory, and the task would sit in the stream where no lease could see it.
 * - ETA: server 2.9 has no per-message schedule, so a task inserted with a future ETA goes to
 *   the `delayed` subject. Each lease first pulls the `delayed` consumer: a due task is
 *   published to `ready` (a new message, so its delivery count starts at 1) and acknowledged;
 *   one not yet due is nak'd with a delay that ends at its ETA, when JetStream delivers it
 *   again. A waiting lease looks at `delayed` at least once a second, and at once when an ETA
 *   this process saw comes due.
 */
import type { Msg } from '@nats-io/transport-node';
import type { LeaseRequest, LeasedTask } from '../backend.ts';
import { queueNotFound } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { natsError } from './errors.ts';
import type { NatsDeadLetters } from './dead-letters.ts';
import type { ConsumerName } from './layout.ts';
import type { AckSender } from './leases.ts';
import { deliveryInfo, pull, type DeliveryInfo } from './pull.ts';
import type { QueueHandle } from './queues.ts';
import type { Carried, NatsParts, NatsTasks } from './tasks.ts';

/** A waiting lease looks at delayed tasks this often. */
export const DELAYED_RECHECK_MS = 1000;
/** Delayed tasks looked at per lease call. */
const PROMOTE_BATCH = 100;
/** How late after a nak's delay JetStream redelivers, at most (measured: 3 ms). */
const ETA_SLACK_MS = 50;
/** ETAs remembered per queue (the soonest matter; more are looked at every second anyway). */
const KNOWN_ETAS = 1000;

export interface LeasingOptions {
  send: AckSender;
  createInbox: () => string;
  /** How long past a pull's wait to wait for the server's answer. */
  graceMs: number;
}

export class NatsLeasing {
  readonly #parts: NatsParts;
  readonly #tasks: NatsTasks;
  readonly #deadLetters: NatsDeadLetters;
  readonly #options: LeasingOptions;
  readonly #etas = new Map<string, number[]>();

  constructor(
    parts: NatsParts,
    tasks: NatsTasks,
    deadLetters: NatsDeadLetters,
    options: LeasingOptions,
  ) {
    this.#parts = parts;
    this.#tasks = tasks;
    this.#deadLetters = deadLetters;
    this.#options = options;
  }

  async lease(queue: string, request: LeaseRequest, signal: AbortSignal): Promise<LeasedTask[]> {
    const { clock, queues } = this.#parts;
    const deadline = clock.now() + (request.waitSeconds ?? 0) * 1000;
    let waitMs = 0;
    for (;;) {
      const handle = await queues.need(queue);
      if (handle.info.paused) {
        if (deadline - clock.now() <= 0) return [];
        await sleep(Math.min(deadline - clock.now(), DELAYED_RECHECK_MS), signal);
      } else {
        await this.#promoteDue(queue);
        const { tasks, pulled } = await this.#take(queue, handle, request, waitMs, signal);
        if (tasks.length > 0) return tasks;
        if (pulled > 0) {
          // All of them were dead-lettered: look again at once, as if they were not there.
          waitMs = 0;
          continue;
        }
      }
      const left = deadline - clock.now();
      if (left <= 0 || signal.aborted) return [];
      waitMs = Math.max(10, Math.min(left, DELAYED_RECHECK_MS, this.#untilKnownEta(queue)));
    }
  }

  /** One pull (waiting up to `waitMs` for the first task, then taking what is there). */
  async #take(
    queue: string,
    handle: QueueHandle,
    request: LeaseRequest,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<{ tasks: LeasedTask[]; pulled: number }> {
    const messages = await this.#pull(queue, 'ready', waitMs > 0 ? 1 : request.max, waitMs, signal);
    if (waitMs > 0 && messages.length === 1 && request.max > 1) {
      // A waiting request for `max` would stay open at the server for the rest of its wait,
      // and the tasks it caught after this lease returned would go to a closed inbox.
      messages.push(...(await this.#pull(queue, 'ready', request.max - 1, 0)));
    }
    const receivedAt = this.#parts.clock.now();
    const leased: LeasedTask[] = [];
    let failure: PullqError | undefined;
    for (const msg of messages) {
      const info = deliveryInfo(msg.reply);
      if (info === null || msg.reply === undefined) continue;
      const task = this.#tasks.carried(msg.subject, msg.data, msg.headers, info.storedAt);
      const maxLeases = handle.info.maxLeases;
      if (maxLeases !== null && info.deliveryCount > maxLeases) {
        // Not handed out whatever happens: if this fails, the ack wait brings it back here.
        await this.#overMax(queue, handle, msg.reply, task, info).catch((error: unknown) => {
          failure ??= natsError(error, `dead-lettering task ${task.id}`);
        });
        continue;
      }
      const lease = this.#parts.book.add({
        task: {
          queue,
          id: task.id,
          payload: task.payload,
          tag: task.tag,
          enqueuedAt: task.enqueuedAt,
          eta: receivedAt,
          attempts: info.deliveryCount,
          state: 'leased',
          lastError: task.lastError,
          deadLetteredFrom: task.deadLetteredFrom,
        },
        reply: msg.reply,
        deliveryCount: info.deliveryCount,
        streamSeq: info.streamSeq,
        leaseMs: request.leaseSeconds * 1000,
        ackWaitMs: handle.ackWaitMs,
        receivedAt,
      });
      leased.push(this.#parts.book.view(lease));
    }
    if (leased.length === 0 && failure !== undefined) throw failure;
    return { tasks: leased, pulled: messages.length };
  }

  /** A delivery past maxLeases becomes a dead letter carrying the task's last note. */
  async #overMax(
    queue: string,
    handle: QueueHandle,
    reply: string,
    task: Carried,
    info: DeliveryInfo,
  ): Promise<void> {
    const leases = info.deliveryCount - 1;
    const note =
      (await this.#deadLetters.readNote(queue, task.id)) ??
      `leased ${leases} times, the queue's maxLeases`;
    await this.#deadLetters.publish(queue, handle.info.deadLetterQueue, task, leases, note);
    await this.#options.send(reply, '+ACK');
    await this.#deadLetters.dropNote(queue, task.id);
  }

  /** Moves due delayed tasks to `ready`; naks the others until their ETA. */
  async #promoteDue(queue: string): Promise<void> {
    let messages: Msg[];
    try {
      messages = await this.#pull(queue, 'delayed', PROMOTE_BATCH, 0);
    } catch (error) {
      // A queue made by a creator still adding its consumers: nothing is delayed yet.
      if (error instanceof PullqError && error.code === 'queue_not_found') return;
      throw error;
    }
    const now = this.#parts.clock.now();
    await Promise.all(
      messages.map(async (msg) => {
        const info = deliveryInfo(msg.reply);
        if (info === null || msg.reply === undefined) return;
        const task = this.#tasks.carried(msg.subject, msg.data, msg.headers, info.storedAt);
        if (task.eta !== null && task.eta > now) {
          this.#remember(queue, task.eta);
          const delay = Math.round((task.eta - now) * 1e6);
          await this.#options.send(msg.reply, `-NAK ${JSON.stringify({ delay })}`);
          return;
        }
        const subject = this.#parts.layout.subject(queue, 'ready', task.id);
        const headers = { tag: task.tag, enqueuedAt: task.enqueuedAt };
        // 'taken': an earlier promotion of this message got as far as the publish.
        await this.#tasks.publish(queue, subject, task.payload, { headers, fresh: true });
        await this.#options.send(msg.reply, '+ACK');
      }),
    );
  }

  #pull(
    queue: string,
    consumer: ConsumerName,
    batch: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<Msg[]> {
    return pull(this.#parts.nc, {
      subject: this.#parts.layout.pullSubject(queue, consumer),
      inbox: this.#options.createInbox(),
      batch,
      waitMs,
      graceMs: this.#options.graceMs,
      ...(signal === undefined ? {} : { signal }),
      missing: () => queueNotFound(queue),
    });
  }

  #remember(queue: string, eta: number): void {
    const etas = this.#etas.get(queue) ?? [];
    etas.push(eta);
    etas.sort((a, b) => a - b);
    this.#etas.set(queue, etas.slice(0, KNOWN_ETAS));
  }

  /** Ms until JetStream redelivers the soonest delayed task this process nak'd (its ETA, and
   * a little for the server's timer); Infinity when none. */
  #untilKnownEta(queue: string): number {
    const now = this.#parts.clock.now();
    const etas = (this.#etas.get(queue) ?? []).filter((eta) => eta + ETA_SLACK_MS > now);
    this.#etas.set(queue, etas);
    return (etas[0] ?? Infinity) + ETA_SLACK_MS - now;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
