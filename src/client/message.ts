/**
 * Message: one delivery of a task to this consumer, and the way to settle it. Each message is
 * fenced by its own lease token (its delivery tag), so settling it can never touch another
 * delivery of the same task.
 *
 * States: received -> acked | rejected | requeued | released (the last when its queue's
 * connection closes with the message unsettled). Settling a second time throws
 * `already_settled`; settling after the lease ran out (and someone else may hold the task)
 * throws `lease_lost`.
 */
import type { Backend, Capabilities, LeaseRef, LeasedTask, Task } from '../backends/backend.ts';
import { PullqError } from '../protocol/errors.ts';
import { checkNumber, LIMITS } from '../protocol/limits.ts';
import type { DecodedPayload, Headers } from './envelope.ts';
import type { CompressionName } from './serializers.ts';

export type MessageState = 'received' | 'acked' | 'rejected' | 'requeued' | 'released';

/** What a message needs from the queue that delivered it. */
export interface Delivery {
  queue: string;
  capabilities: Capabilities;
  /** Runs a backend call with the connection's retries; `attempt` is 1 on the first try. */
  ensure<R>(operation: (backend: Backend, attempt: number) => Promise<R>): Promise<R>;
  /** The message is settled: the queue stops tracking it. */
  settled(message: Message<unknown>): void;
}

export interface RequeueOptions {
  /** Seconds before the task can be leased again. Default 0: at once. */
  delaySeconds?: number;
  /** A note kept on the task (why it was put back), up to 4 KiB. */
  error?: string;
}

export class Message<T = unknown> {
  /** The task's id in its queue. */
  readonly id: string;
  readonly queue: string;
  readonly tag: string | null;
  /** Leases the task has had, this one included (1 on the first delivery). */
  readonly attempts: number;
  readonly enqueuedAt: Date;
  /** The task's bytes as stored (the envelope, or whatever another tool inserted). */
  readonly payload: Uint8Array;
  /** True when the task carries no pullq envelope (inserted by curl, App Engine, ...). */
  readonly raw: boolean;
  readonly contentType: string;
  readonly contentEncoding: string;
  readonly compression: CompressionName | null;
  readonly headers: Headers;
  /** Why the body could not be decoded, or null. Reading `body` throws it. */
  readonly decodeError: PullqError | null;
  readonly #body: unknown;
  readonly #delivery: Delivery;
  #token: string;
  #leaseExpiresAt: number;
  #state: MessageState = 'received';
  /** A settle call is under way: a second one must not start. */
  #busy = false;

  /** @internal Built by SimpleQueue. */
  constructor(task: LeasedTask, decoded: DecodedPayload, delivery: Delivery) {
    this.id = task.id;
    this.queue = task.queue;
    this.tag = task.tag;
    this.attempts = task.attempts;
    this.enqueuedAt = new Date(task.enqueuedAt);
    this.payload = task.payload;
    this.raw = decoded.raw;
    this.contentType = decoded.contentType;
    this.contentEncoding = decoded.contentEncoding;
    this.compression = decoded.compression;
    this.headers = decoded.headers;
    this.decodeError = decoded.error;
    this.#body = decoded.body;
    this.#delivery = delivery;
    this.#token = task.leaseToken;
    this.#leaseExpiresAt = task.eta;
  }

  /** The decoded body; throws `decodeError` when the payload could not be decoded. */
  get body(): T {
    if (this.decodeError !== null) throw this.decodeError;
    return this.#body as T;
  }

  /** This delivery's lease token: unique per delivery, never reused. */
  get deliveryTag(): string {
    return this.#token;
  }

  /** When the lease ends, by the backend's clock (moves with extendLease). */
  get leaseExpiresAt(): Date {
    return new Date(this.#leaseExpiresAt);
  }

  get state(): MessageState {
    return this.#state;
  }

  get settled(): boolean {
    return this.#state !== 'received';
  }

  /** Done: the task is deleted. */
  async ack(): Promise<void> {
    await this.#settle('acked', (backend, attempt) => this.#ack(backend, attempt));
  }

  /**
   * Failed for good. With dead letters (every pullq backend) the task becomes a dead letter:
   * moved to the queue's dead-letter queue, or kept in the `dead` state, to be looked at and
   * redriven. Where the backend has none (the v1beta2 protocol), the task is deleted.
   * `{ requeue: true }` is `requeue()`, as in kombu.
   */
  async reject(options: { requeue?: boolean; error?: string } = {}): Promise<void> {
    if (options.requeue === true) {
      await this.requeue(options.error === undefined ? {} : { error: options.error });
      return;
    }
    if (!this.#delivery.capabilities.deadLetters) {
      await this.#settle('rejected', (backend, attempt) => this.#ack(backend, attempt));
      return;
    }
    const error = options.error ?? 'rejected by the consumer';
    await this.#settle('rejected', async (backend, attempt) => {
      const [result] = await backend.release(this.queue, [
        { ref: this.#ref(), deadLetter: true, error },
      ]);
      checkItem(result, attempt, 'lease_lost', 'task_not_found');
    });
  }

  /** Puts the task back (the lease is given up, no copy is made), at once or after a delay. */
  async requeue(options: RequeueOptions = {}): Promise<void> {
    const delaySeconds = options.delaySeconds ?? 0;
    checkNumber(delaySeconds, 'delaySeconds', 0, LIMITS.maxEtaAheadSeconds);
    await this.#settle('requeued', (backend, attempt) =>
      this.#release(backend, attempt, delaySeconds, options.error),
    );
  }

  /** Keeps the task for `seconds` more from now. Throws `lease_lost` if it is already gone. */
  async extendLease(seconds: number): Promise<void> {
    checkNumber(seconds, 'seconds', 0, LIMITS.maxLeaseSeconds);
    this.#checkUnsettled('extend the lease of');
    const task = await this.#delivery.ensure(async (backend) => {
      const [result] = await backend.extend(this.queue, [this.#ref()], seconds);
      if (result === undefined) throw missingResult();
      if (!result.ok) throw result.error;
      return result.value;
    });
    this.#leaseExpiresAt = task.eta;
    // A backend whose fence changes on every extend (v1beta2's leaseTimestamp) hands out the
    // new one.
    if (isLeased(task)) this.#token = task.leaseToken;
  }

  /** @internal Gives the task back when the connection closes with this message unsettled. */
  async release(): Promise<void> {
    if (this.#state !== 'received' || this.#busy) return;
    await this.#settle('released', (backend, attempt) => this.#release(backend, attempt, 0));
  }

  #ref(): LeaseRef {
    return { id: this.id, token: this.#token };
  }

  async #ack(backend: Backend, attempt: number): Promise<void> {
    const [result] = await backend.ack(this.queue, [this.#ref()]);
    // On a repeat, the task being gone means the earlier try deleted it.
    checkItem(result, attempt, 'task_not_found');
  }

  async #release(
    backend: Backend,
    attempt: number,
    delaySeconds: number,
    error?: string,
  ): Promise<void> {
    const [result] = await backend.release(this.queue, [
      { ref: this.#ref(), delaySeconds, ...(error === undefined ? {} : { error }) },
    ]);
    // On a repeat, a lease that is no longer ours was given up by the earlier try.
    checkItem(result, attempt, 'lease_lost', 'task_not_found');
  }

  async #settle(
    state: Exclude<MessageState, 'received'>,
    operation: (backend: Backend, attempt: number) => Promise<void>,
  ): Promise<void> {
    this.#checkUnsettled(verbOf(state));
    this.#busy = true;
    try {
      await this.#delivery.ensure(operation);
      this.#state = state;
      this.#delivery.settled(this);
    } finally {
      this.#busy = false;
    }
  }

  #checkUnsettled(verb: string): void {
    if (this.#state !== 'received' || this.#busy) {
      const now = this.#busy ? 'is being settled' : `was already ${this.#state}`;
      throw new PullqError(
        'already_settled',
        `cannot ${verb} message ${JSON.stringify(this.id)} of queue ${JSON.stringify(this.queue)}: it ${now}; a message settles once`,
        { details: { id: this.id, queue: this.queue, state: this.#state } },
      );
    }
  }
}

function verbOf(state: Exclude<MessageState, 'received'>): string {
  return { acked: 'ack', rejected: 'reject', requeued: 'requeue', released: 'release' }[state];
}

function isLeased(task: Task): task is LeasedTask {
  return typeof (task as Partial<LeasedTask>).leaseToken === 'string';
}

function missingResult(): PullqError {
  return new PullqError('internal', 'the backend answered a one-item batch with no result');
}

/** Throws a failed item, except the codes that on a repeated try mean the earlier try worked. */
function checkItem(
  result: { ok: true } | { ok: false; error: PullqError } | undefined,
  attempt: number,
  ...doneOnRepeat: string[]
): void {
  if (result === undefined) throw missingResult();
  if (result.ok) return;
  if (attempt > 1 && doneOnRepeat.includes(result.error.code)) return;
  throw result.error;
}
