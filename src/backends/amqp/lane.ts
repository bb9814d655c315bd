/**
 * A lane: one queue's consumer channel in a backend, and the leases held on it.
 *
 * A lease is an unacknowledged delivery. Its token is `<generation>.<deliveryTag>`, where the
 * generation is random per channel: when a channel closes the broker requeues everything it
 * held, so every token of that channel names nothing any more and gets `lease_lost`.
 * RabbitMQ has no lease time (a delivery is held as long as its channel lives), so each lease
 * has a timer: when it runs out without an ack or extend, the delivery is given back (nack with
 * requeue; the broker counts the redelivery) and another consumer gets it, as when a pullq
 * lease expires.
 *
 * Leasing takes what is ready with a basic.get, which also tells how many more are ready, and
 * those with a consumer whose prefetch is exactly that many (capped by the lease's `max`), so
 * the broker sends no more than the lease hands out. Leasing with a wait first waits with a
 * consumer of prefetch 1. A consumer is cancelled once its prefetch is used up whenever it
 * can be (see #collect for why).
 */
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import type { LeaseRef, LeasedTask } from '../backend.ts';
import { randomId } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { amqpCall } from './errors.ts';
import type { QueueLedger } from './ledger.ts';
import type { AmqpLink } from './link.ts';

/** How long a burst waits for ready messages that another consumer may have taken first. */
const BURST_GRACE_MS = 50;

export interface HeldLease {
  readonly token: string;
  readonly generation: string;
  readonly message: Message;
  /** The task as handed out; its eta (the lease's end) moves on extend. */
  task: LeasedTask;
  timer: NodeJS.Timeout | undefined;
}

/** Deliveries of one channel; they can be held only while that channel lives. */
export interface Batch {
  generation: string;
  messages: Message[];
}

export class Lane {
  readonly queue: string;
  readonly #link: AmqpLink;
  readonly #ledger: QueueLedger;
  #channel: Channel | undefined;
  #opening: Promise<Channel> | undefined;
  #generation = '';
  readonly #held = new Map<string, HeldLease>();
  /** Wakes the waiting leases when the channel goes. */
  readonly #waiters = new Set<() => void>();
  /** prefetch + consume are two calls: a second lease must not slip its prefetch between. */
  #consumeTurn: Promise<unknown> = Promise.resolve();

  constructor(link: AmqpLink, queue: string, ledger: QueueLedger) {
    this.#link = link;
    this.queue = queue;
    this.#ledger = ledger;
  }

  /**
   * Up to `max` ready messages, without waiting: one basic.get, which also says how many more
   * are ready, and those as one consumer burst (a basic.get each is a round trip through the
   * quorum queue: 850 tasks/s against 17,000 by consumer here).
   */
  async take(max: number): Promise<Batch> {
    const { channel, generation } = await this.#open();
    const first = await amqpCall(
      `leasing from ${this.queue}`,
      () => channel.get(this.queue, { noAck: false }),
      this.queue,
    );
    if (first === false) return { generation, messages: [] };
    const more = Math.min(max - 1, first.fields.messageCount);
    if (more === 0) return { generation, messages: [first] };
    const rest = await this.#collect(more, BURST_GRACE_MS, undefined);
    return { generation, messages: [first, ...rest.messages] };
  }

  /** What is ready, up to `max`; when nothing is, waits up to `ms` for a first delivery and
   * then takes what else is ready. */
  async wait(max: number, ms: number, signal: AbortSignal | undefined): Promise<Batch> {
    const ready = await this.take(max);
    if (ready.messages.length > 0) return ready;
    const first = await this.#collect(1, ms, signal);
    if (first.messages.length === 0 || max === 1) return first;
    const rest = await this.take(max - 1);
    // A new channel would mean the first delivery went back with the old one.
    if (rest.generation !== first.generation) throw channelLost(this.queue);
    return { generation: first.generation, messages: [...first.messages, ...rest.messages] };
  }

  /**
   * A consumer with a prefetch of `count`, until `count` deliveries came (or `ms` passed, the
   * signal aborted, the channel went). Cancelled once its prefetch is used up, nothing can be
   * on its way to it; cancelled earlier, a message the queue was sending at that very moment
   * goes back, and a quorum queue counts that as a delivery (measured: a consumer of 5
   * cancelled at its first delivery sent 32% of a trickle of tasks back once; of 1, none).
   */
  async #collect(count: number, ms: number, signal: AbortSignal | undefined): Promise<Batch> {
    const { channel, generation } = await this.#open();
    const messages: Message[] = [];
    if (signal?.aborted) return { generation, messages };
    const { promise: done, resolve: finish } = Promise.withResolvers<void>();
    let cancelledByBroker = false;
    const onMessage = (message: ConsumeMessage | null): void => {
      if (message === null) cancelledByBroker = true;
      else messages.push(message);
      if (message === null || messages.length >= count) finish();
    };
    const consumerTag = await this.#consume(channel, count, onMessage);
    const stop = (): void => finish();
    const timer = setTimeout(stop, ms);
    signal?.addEventListener('abort', stop, { once: true });
    this.#waiters.add(stop);
    try {
      await done;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      this.#waiters.delete(stop);
    }
    if (!cancelledByBroker && this.#generation === generation) {
      await channel.cancel(consumerTag).catch(() => undefined);
    }
    if (this.#generation !== generation) throw channelLost(this.queue);
    if (cancelledByBroker && messages.length === 0) {
      throw new PullqError('queue_not_found', `queue ${JSON.stringify(this.queue)} was deleted`, {
        details: { queue: this.queue },
      });
    }
    return { generation, messages };
  }

  async #consume(
    channel: Channel,
    prefetch: number,
    onMessage: (message: ConsumeMessage | null) => void,
  ): Promise<string> {
    const turn = this.#consumeTurn.then(async () => {
      await channel.prefetch(prefetch);
      return (await channel.consume(this.queue, onMessage, { noAck: false })).consumerTag;
    });
    this.#consumeTurn = turn.catch(() => undefined);
    return amqpCall(`consuming from ${this.queue}`, () => turn, this.queue);
  }

  /** Holds a delivery as a lease of `leaseMs`; null when its channel closed meanwhile. */
  hold(
    generation: string,
    message: Message,
    build: (token: string) => LeasedTask,
    leaseMs: number,
    now: number,
  ): LeasedTask | null {
    if (generation !== this.#generation) return null;
    const token = `${generation}.${message.fields.deliveryTag}`;
    const held: HeldLease = { token, generation, message, task: build(token), timer: undefined };
    this.#held.set(token, held);
    this.#ledger.leased(now);
    this.#arm(held, leaseMs);
    return held.task;
  }

  /** The lease a ref names, if this lane still holds it. */
  find(ref: LeaseRef): HeldLease | null {
    if ('token' in ref) {
      const held = this.#held.get(ref.token);
      return held !== undefined && held.task.id === ref.id ? held : null;
    }
    for (const held of this.#held.values()) {
      if (held.task.id === ref.id && held.task.eta === ref.leaseExpiresAt) return held;
    }
    return null;
  }

  /** Moves the lease's end `leaseMs` from now (its eta becomes `eta`). */
  extend(held: HeldLease, leaseMs: number, eta: number): void {
    held.task = { ...held.task, eta };
    this.#arm(held, leaseMs);
  }

  /** Takes a lease out of the lane (no timer, no other settle) while a copy is published. */
  detach(held: HeldLease): boolean {
    if (this.#held.get(held.token) !== held) return false;
    this.#held.delete(held.token);
    clearTimeout(held.timer);
    return true;
  }

  /** Puts a detached lease back (its copy failed) with the time it had left. */
  reattach(held: HeldLease, now: number): void {
    if (held.generation !== this.#generation) {
      this.#ledger.released();
      return;
    }
    this.#held.set(held.token, held);
    this.#arm(held, Math.max(0, held.task.eta - now));
  }

  /** Acks or requeues a lease; false when it was no longer held (or its channel is gone). */
  settle(held: HeldLease, how: 'ack' | 'requeue'): boolean {
    return this.detach(held) && this.settleDetached(held, how);
  }

  /** Settles a detached lease; false when its channel closed meanwhile. */
  settleDetached(held: HeldLease, how: 'ack' | 'requeue'): boolean {
    this.#ledger.released();
    return this.settleUnheld(held.generation, held.message, how);
  }

  /** Settles a delivery that was never handed out (dead-lettered as it was leased). */
  settleUnheld(generation: string, message: Message, how: 'ack' | 'requeue'): boolean {
    const channel = this.#channel;
    if (channel === undefined || generation !== this.#generation) return false;
    try {
      if (how === 'ack') channel.ack(message);
      else channel.nack(message, false, true);
      return true;
    } catch {
      return false; // the channel is closing: the broker requeues the delivery itself
    }
  }

  /** Closes the channel: the broker requeues every delivery it held. */
  async close(): Promise<void> {
    const channel = this.#channel ?? (await this.#opening?.catch(() => undefined));
    if (channel === undefined) return;
    this.#lost(channel);
    await channel.close().catch(() => undefined);
  }

  #arm(held: HeldLease, leaseMs: number): void {
    clearTimeout(held.timer);
    held.timer = setTimeout(() => this.settle(held, 'requeue'), leaseMs);
    held.timer.unref(); // the connection keeps the process alive while it is open
  }

  async #open(): Promise<{ channel: Channel; generation: string }> {
    if (this.#channel === undefined) {
      this.#opening ??= this.#link.channel().finally(() => {
        this.#opening = undefined;
      });
      const channel = await this.#opening;
      if (this.#channel === undefined) {
        channel.on('close', () => this.#lost(channel));
        this.#channel = channel;
        this.#generation = randomId();
      }
    }
    return { channel: this.#channel, generation: this.#generation };
  }

  /** The channel is gone: its leases with it. */
  #lost(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    this.#generation = '';
    for (const held of this.#held.values()) {
      clearTimeout(held.timer);
      this.#ledger.released();
    }
    this.#held.clear();
    for (const wake of this.#waiters) wake();
  }
}

function channelLost(queue: string): PullqError {
  return new PullqError(
    'unavailable',
    `the channel leasing from ${JSON.stringify(queue)} closed (the connection was lost or the backend closed): try again`,
    { details: { queue } },
  );
}
