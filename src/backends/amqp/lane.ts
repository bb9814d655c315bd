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
 * Leasing with a wait starts a consumer whose prefetch is the number asked for, so the broker
 * sends at most that many; at the first delivery it cancels the consumer, and everything the
 * broker sent before the cancel (the burst, up to the prefetch) arrives before the cancel's
 * answer. Leasing without a wait asks with basic.get whether anything is ready first.
 */
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import type { LeaseRef, LeasedTask } from '../backend.ts';
import { randomId } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { amqpCall } from './errors.ts';
import type { QueueLedger } from './ledger.ts';
import type { AmqpLink } from './link.ts';

/** How long a lease without wait waits for ready messages another consumer may have taken. */
const TAKE_GRACE_MS = 50;

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
   * are ready; those come as a consumer's burst (a basic.get each is a round trip through the
   * quorum queue: 850 tasks/s against 17,000 by consumer here). The short wait only matters
   * when other consumers took them first.
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
    const rest = await this.wait(more, TAKE_GRACE_MS, undefined);
    return { generation, messages: [first, ...rest.messages] };
  }

  /** Waits up to `ms` for deliveries; returns the first burst (at most `max`), or none. */
  async wait(max: number, ms: number, signal: AbortSignal | undefined): Promise<Batch> {
    const { channel, generation } = await this.#open();
    const messages: Message[] = [];
    if (signal?.aborted) return { generation, messages };
    const { promise: woken, resolve: wake } = Promise.withResolvers<void>();
    let cancelledByBroker = false;
    const onMessage = (message: ConsumeMessage | null): void => {
      if (message === null) cancelledByBroker = true;
      else messages.push(message);
      wake();
    };
    const consumerTag = await this.#consume(channel, max, onMessage);
    const stop = (): void => wake();
    const timer = setTimeout(stop, ms);
    signal?.addEventListener('abort', stop, { once: true });
    this.#waiters.add(stop);
    try {
      await woken;
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
    max: number,
    onMessage: (message: ConsumeMessage | null) => void,
  ): Promise<string> {
    const turn = this.#consumeTurn.then(async () => {
      await channel.prefetch(max);
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
