/**
 * The leases a NatsBackend handed out: the fence JetStream does not have, and the lease
 * lengths a consumer's single ack wait cannot express.
 *
 * Why a fence here: JetStream acts on an ack by stream sequence only. An ack sent on the reply
 * subject of an earlier delivery acknowledges the current one (measured on nats-server 2.9:
 * delivery 1's `+ACK` after delivery 2 removed the message). So a stale lease must be refused
 * before anything is sent: ack, extend and release go through this book, and a ref that does
 * not name the lease it holds now, or whose lease may have run out, gets `lease_lost` without
 * touching the server. Tokens are `<stream sequence>.<delivery count>`; the book is per
 * backend, so a lease is settled through the connection that leased it (SimpleQueue and the
 * worker always do).
 *
 * Why timers here: the ack wait is one setting of the queue's consumer (a work-queue stream
 * allows one consumer per subject), while each lease asks for its own length. The consumer's
 * ack wait is the backstop and this book the clock of each lease:
 * - a lease shorter than the ack wait ends when this book sends `-NAK` at its end (the task is
 *   leasable at once, like an expired lease elsewhere);
 * - a lease longer than the ack wait is kept by `+WPI` (working) every third of the ack wait;
 * - if the process dies, the server redelivers after the ack wait from the last `+WPI`.
 * `heldUntil` is when the server's ack wait surely ends, counted from when we received the
 * message or sent the last `+WPI` (the server started its timer before either); nothing is
 * sent on a delivery's subject once `heldUntil` less a margin has passed, because by then the
 * subject may act on someone else's delivery.
 */
import type { Clock, LeaseRef, LeasedTask, Task } from '../backend.ts';

/** Sends an ack-protocol body on a delivery's reply subject; resolves when the server confirms. */
export type AckSender = (reply: string, body: string) => Promise<void>;

export interface Lease {
  /** The task as leased (its payload and headers), for the answers of extend and release. */
  readonly task: Task;
  readonly queue: string;
  readonly id: string;
  readonly token: string;
  readonly reply: string;
  readonly deliveryCount: number;
  readonly ackWaitMs: number;
  /** When the lease ends (clock ms); the task's eta while it is leased. */
  eta: number;
  /** Until when the server surely keeps this delivery ours (clock ms). */
  heldUntil: number;
  /** A settle call is under way: the timer leaves the lease alone. */
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface NewLease {
  task: Task;
  reply: string;
  deliveryCount: number;
  streamSeq: number;
  leaseMs: number;
  ackWaitMs: number;
  /** Clock ms at which the message arrived. */
  receivedAt: number;
}

/** A heartbeat that failed is tried again this soon. */
const HEARTBEAT_RETRY_MS = 1000;

/** How close to the server's deadline this book stops using a delivery's subject: a second,
 * or a quarter of a short ack wait. */
function margin(ackWaitMs: number): number {
  return Math.min(1000, ackWaitMs / 4);
}

export class LeaseBook {
  readonly #leases = new Map<string, Map<string, Lease>>();
  readonly #send: AckSender;
  readonly #clock: Clock;

  constructor(send: AckSender, clock: Clock) {
    this.#send = send;
    this.#clock = clock;
  }

  add(fresh: NewLease): Lease {
    const lease: Lease = {
      task: fresh.task,
      queue: fresh.task.queue,
      id: fresh.task.id,
      token: `${fresh.streamSeq}.${fresh.deliveryCount}`,
      reply: fresh.reply,
      deliveryCount: fresh.deliveryCount,
      ackWaitMs: fresh.ackWaitMs,
      eta: fresh.receivedAt + fresh.leaseMs,
      heldUntil: fresh.receivedAt + fresh.ackWaitMs,
      busy: false,
      timer: undefined,
    };
    let byId = this.#leases.get(lease.queue);
    if (byId === undefined) this.#leases.set(lease.queue, (byId = new Map<string, Lease>()));
    const older = byId.get(lease.id);
    if (older !== undefined) clearTimeout(older.timer); // its delivery is over: this one replaced it
    byId.set(lease.id, lease);
    this.#schedule(lease);
    return lease;
  }

  /** The lease `ref` names if it is still this book's to settle; null when it is stale. */
  find(queue: string, ref: LeaseRef): Lease | null {
    const lease = this.#leases.get(queue)?.get(ref.id);
    if (lease === undefined) return null;
    const named = 'token' in ref ? ref.token === lease.token : ref.leaseExpiresAt === lease.eta;
    if (!named) return null;
    if (!this.#ours(lease)) {
      this.#expire(lease);
      return null;
    }
    return lease;
  }

  /** The leased task as the lease stands now. */
  view(lease: Lease): LeasedTask {
    return { ...this.task(lease), state: 'leased', leaseToken: lease.token };
  }

  /** The task as the lease stands now, without its token (the answer of extend and release). */
  task(lease: Lease): Task {
    return { ...lease.task, eta: lease.eta, attempts: lease.deliveryCount, state: 'leased' };
  }

  /** The lease this book holds on a task, if any (for a task's state). */
  holding(queue: string, id: string): Lease | undefined {
    const lease = this.#leases.get(queue)?.get(id);
    return lease !== undefined && this.#ours(lease) ? lease : undefined;
  }

  /** `+ACK`, confirmed by the server; the lease is over. */
  async ack(lease: Lease): Promise<void> {
    await this.#settle(lease, '+ACK');
  }

  /** `-NAK`, with a delay when asked: the task comes back after it (or at once). */
  async nak(lease: Lease, delayMs: number): Promise<void> {
    const delay = Math.round(delayMs * 1e6);
    await this.#settle(lease, delay > 0 ? `-NAK ${JSON.stringify({ delay })}` : '-NAK');
  }

  /** Moves the lease's end to `leaseMs` from now; `+WPI` restarts the server's ack wait. */
  async extend(lease: Lease, leaseMs: number): Promise<void> {
    lease.busy = true;
    try {
      const sentAt = this.#clock.now();
      await this.#send(lease.reply, '+WPI');
      lease.heldUntil = sentAt + lease.ackWaitMs;
      lease.eta = sentAt + leaseMs;
    } finally {
      lease.busy = false;
    }
    this.#schedule(lease);
  }

  /** Forgets the leases of a queue (purged or deleted: their tasks are gone). */
  forgetQueue(queue: string): void {
    for (const lease of this.#leases.get(queue)?.values() ?? []) clearTimeout(lease.timer);
    this.#leases.delete(queue);
  }

  /** Forgets the lease of one task (deleted). */
  forgetTask(queue: string, id: string): void {
    const lease = this.#leases.get(queue)?.get(id);
    if (lease !== undefined) this.#drop(lease);
  }

  get size(): number {
    let count = 0;
    for (const byId of this.#leases.values()) count += byId.size;
    return count;
  }

  /** Stops every timer. The leases are left to the server: it redelivers after the ack wait. */
  close(): void {
    for (const queue of [...this.#leases.keys()]) this.forgetQueue(queue);
  }

  async #settle(lease: Lease, body: string): Promise<void> {
    lease.busy = true;
    try {
      await this.#send(lease.reply, body);
    } finally {
      lease.busy = false;
    }
    this.#drop(lease);
  }

  #ours(lease: Lease): boolean {
    const now = this.#clock.now();
    return now < lease.eta && now < lease.heldUntil - margin(lease.ackWaitMs);
  }

  #current(lease: Lease): boolean {
    return this.#leases.get(lease.queue)?.get(lease.id) === lease;
  }

  #drop(lease: Lease): void {
    clearTimeout(lease.timer);
    if (this.#current(lease)) this.#leases.get(lease.queue)?.delete(lease.id);
  }

  /** The lease ran out: forget it and, while the subject is still ours, give the task back. */
  #expire(lease: Lease): void {
    const stillHeld = this.#clock.now() < lease.heldUntil - margin(lease.ackWaitMs);
    this.#drop(lease);
    // Unconfirmed on purpose: if it is lost, the server's ack wait gives the task back anyway.
    if (stillHeld) void this.#send(lease.reply, '-NAK').catch(() => undefined);
  }

  /** One timer per lease: at its end (expire), or when the next heartbeat is due. */
  #schedule(lease: Lease): void {
    clearTimeout(lease.timer);
    const keepUntil = lease.heldUntil - margin(lease.ackWaitMs);
    const at = lease.eta <= keepUntil ? lease.eta : lease.heldUntil - (lease.ackWaitMs * 2) / 3;
    lease.timer = setTimeout(() => void this.#tick(lease), Math.max(0, at - this.#clock.now()));
    lease.timer.unref();
  }

  async #tick(lease: Lease): Promise<void> {
    if (!this.#current(lease)) return;
    if (lease.busy) {
      lease.timer = setTimeout(() => void this.#tick(lease), 50);
      lease.timer.unref();
      return;
    }
    if (!this.#ours(lease)) {
      this.#expire(lease);
      return;
    }
    try {
      await this.extend(lease, lease.eta - this.#clock.now());
    } catch {
      if (!this.#current(lease)) return;
      lease.timer = setTimeout(() => void this.#tick(lease), HEARTBEAT_RETRY_MS);
      lease.timer.unref();
    }
  }
}
