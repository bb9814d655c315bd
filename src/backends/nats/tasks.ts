/**
 * Tasks as JetStream messages: insert, publish, find by id, and what a message carries. Every
 * write waits for JetStream's PubAck, so a task reported stored is stored by the server.
 *
 * insert publishes to the task's subject with its id as `Nats-Msg-Id` (JetStream drops a
 * second publish of the id within the dedup window: a tombstone) and
 * `Nats-Expected-Last-Subject-Sequence: 0` (refused while a task with the id is live).
 */
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { Clock, ItemResult, NewTask, Task } from '../backend.ts';
import { idTaken, queueNotFound, randomId } from '../common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { TASK_ID_PATTERN } from '../../protocol/limits.ts';
import type { NatsDrivers } from './drivers.ts';
import { API, apiCode, isNoStream, natsError } from './errors.ts';
import { HEADERS, decodeHeader, encodeHeader, type Layout, type TaskKind } from './layout.ts';
import type { LeaseBook } from './leases.ts';
import type { NatsQueues } from './queues.ts';

/** What a task carries from message to message (delivery, dead letter, redrive). */
export interface Carried {
  id: string;
  payload: Uint8Array;
  tag: string | null;
  enqueuedAt: number;
  eta: number | null;
  lastError: string | null;
  deadLetteredFrom: string | null;
  /** Leases it had: known for dead letters kept in their queue, else 0. */
  attempts: number;
}

/** What a dead letter or a redrive copies. */
export type Movable = Pick<Carried, 'id' | 'payload' | 'tag' | 'enqueuedAt' | 'deadLetteredFrom'>;

export type HeaderValues = Partial<Record<keyof typeof HEADERS, string | number | null>>;

export interface NatsParts {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  drivers: NatsDrivers;
  layout: Layout;
  queues: NatsQueues;
  book: LeaseBook;
  clock: Clock;
}

/** Bytes a header block adds besides its values (status line, names, separators). */
const HEADER_OVERHEAD = 200;

export class NatsTasks {
  readonly #parts: NatsParts;

  constructor(parts: NatsParts) {
    this.#parts = parts;
  }

  /** Refuses, before anything is sent, a task the server's max_payload would refuse. */
  checkSize(task: NewTask, index: number): void {
    const limit = this.#parts.nc.info?.max_payload;
    const size = task.payload.byteLength + Buffer.byteLength(task.tag ?? '') * 3 + HEADER_OVERHEAD;
    if (limit !== undefined && size > limit) {
      throw new PullqError(
        'payload_too_large',
        `tasks[${index}]: about ${size} bytes with its headers, over this NATS server's max_payload of ${limit}: raise max_payload in the server's configuration, or send a smaller payload`,
        { details: { index, maxPayload: limit } },
      );
    }
  }

  async insert(queue: string, task: NewTask, now: number): Promise<ItemResult<Task>> {
    const id = task.id ?? randomId();
    const delayed = task.eta !== undefined && task.eta > now;
    const outcome = await this.publish(
      queue,
      this.#parts.layout.subject(queue, delayed ? 'delayed' : 'ready', id),
      task.payload,
      {
        headers: { tag: task.tag ?? null, eta: delayed ? (task.eta ?? null) : null },
        msgId: id,
        fresh: true,
      },
    );
    if (outcome !== 'stored')
      return { ok: false, error: idTaken(queue, id, outcome === 'duplicate') };
    return {
      ok: true,
      value: {
        queue,
        id,
        payload: task.payload,
        tag: task.tag ?? null,
        enqueuedAt: now,
        eta: task.eta ?? now,
        attempts: 0,
        state: delayed ? 'delayed' : 'ready',
        lastError: null,
        deadLetteredFrom: null,
      },
    };
  }

  /**
   * One publish, confirmed. `fresh`: refused ('taken') while the subject holds a message.
   * A subject no stream holds means the queue does not exist.
   */
  async publish(
    queue: string,
    subject: string,
    payload: Uint8Array,
    options: { headers?: HeaderValues; msgId?: string; fresh?: boolean; rollup?: boolean } = {},
  ): Promise<'stored' | 'duplicate' | 'taken'> {
    const headers = this.#headers(options.headers ?? {});
    if (options.rollup) headers.set('Nats-Rollup', 'sub');
    try {
      const ack = await this.#parts.js.publish(subject, payload, {
        headers,
        ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
        ...(options.fresh ? { expect: { lastSubjectSequence: 0 } } : {}),
      });
      return ack.duplicate ? 'duplicate' : 'stored';
    } catch (error) {
      if (apiCode(error) === API.wrongLastSequence) return 'taken';
      if (isNoStream(error)) throw queueNotFound(queue);
      throw natsError(error, `publishing to ${subject}`);
    }
  }

  /** The task with this id, wherever it is; attempts are known only for a lease held here. */
  async get(queue: string, id: string): Promise<Task | null> {
    await this.#parts.queues.need(queue);
    if (!TASK_ID_PATTERN.test(id)) return null;
    const [ready, delayed, dead, note] = await Promise.all([
      this.last(queue, 'ready', id),
      this.last(queue, 'delayed', id),
      this.last(queue, 'dead', id),
      this.last(queue, 'note', id),
    ]);
    const found = ready ?? delayed ?? dead;
    if (found === null) return null;
    const carried = this.carried(found.subject, found.data, found.header, found.time.getTime());
    const now = this.#parts.clock.now();
    const lease = ready === null ? undefined : this.#parts.book.holding(queue, id);
    const eta = lease?.eta ?? carried.eta ?? now;
    return {
      queue,
      id,
      payload: carried.payload,
      tag: carried.tag,
      enqueuedAt: carried.enqueuedAt,
      eta,
      attempts: lease?.deliveryCount ?? carried.attempts,
      state:
        dead !== null && found === dead
          ? 'dead'
          : lease
            ? 'leased'
            : eta > now
              ? 'delayed'
              : 'ready',
      lastError: carried.lastError ?? (note === null ? null : new TextDecoder().decode(note.data)),
      deadLetteredFrom: carried.deadLetteredFrom,
    };
  }

  /** What a stored or delivered message carries; `storedAt` is its stream timestamp. */
  carried(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    storedAt: number,
  ): Carried {
    const header = (name: string): string | null => decodeHeader(headers?.get(name));
    const eta = Number(header(HEADERS.eta));
    const enqueuedAt = Number(header(HEADERS.enqueuedAt));
    return {
      id: idOf(this.#parts.layout.parse(subject)?.id),
      payload: data,
      tag: header(HEADERS.tag),
      enqueuedAt: Number.isSafeInteger(enqueuedAt) && enqueuedAt > 0 ? enqueuedAt : storedAt,
      eta: Number.isSafeInteger(eta) && eta > 0 ? eta : null,
      lastError: header(HEADERS.error),
      deadLetteredFrom: header(HEADERS.deadLetteredFrom),
      attempts: Number(header(HEADERS.attempts)) || 0,
    };
  }

  /** The message on a task's subject of this kind, or null. */
  async last(queue: string, kind: TaskKind, id: string): Promise<StoredMsg | null> {
    const subject = this.#parts.layout.subject(queue, kind, id);
    try {
      return await this.#parts.jsm.streams.getMessage(this.#parts.layout.stream(queue), {
        last_by_subj: subject,
      });
    } catch (error) {
      if (apiCode(error) === API.noMessageFound) return null;
      if (apiCode(error) === API.streamNotFound) throw queueNotFound(queue);
      throw natsError(error, `reading ${subject}`);
    }
  }

  #headers(values: HeaderValues): MsgHdrs {
    const headers = this.#parts.drivers.transport.headers();
    for (const [key, value] of Object.entries(values)) {
      if (value === null || value === undefined) continue;
      headers.set(HEADERS[key as keyof typeof HEADERS], encodeHeader(String(value)));
    }
    return headers;
  }
}

/**
 * The task id of a subject's last token. A tool publishing raw may use a token that is not a
 * valid task id (`a+b`): such a task gets an id made from the token (base64url, which is
 * valid), so it can still be acked; get and delete do not find it by that id.
 */
function idOf(token: string | undefined): string {
  if (token === undefined) return randomId();
  if (TASK_ID_PATTERN.test(token)) return token;
  return `_${Buffer.from(token).toString('base64url')}`.slice(0, 500);
}
