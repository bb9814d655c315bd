/**
 * Tasks as JetStream messages: insert, find by id, dead-letter, redrive, and the note a
 * release leaves. Every write waits for JetStream's PubAck, so a task reported stored is
 * stored by the server.
 *
 * - insert publishes to the task's subject with its id as `Nats-Msg-Id` (JetStream drops a
 *   second publish of the id within the dedup window: a tombstone) and
 *   `Nats-Expected-Last-Subject-Sequence: 0` (refused while a task with the id is live).
 * - a note (the error of a release) is a message on `note.<id>`, replaced by the next one
 *   (`Nats-Rollup: sub`) and removed with the task; a dead letter made later, by any process,
 *   carries it as its lastError.
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

type HeaderValues = Partial<Record<keyof typeof HEADERS, string | number | null>>;

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
      this.#last(queue, 'ready', id),
      this.#last(queue, 'delayed', id),
      this.#last(queue, 'dead', id),
      this.#last(queue, 'note', id),
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
      id: this.#parts.layout.parse(subject)?.id ?? randomId(),
      payload: data,
      tag: header(HEADERS.tag),
      enqueuedAt: Number.isSafeInteger(enqueuedAt) && enqueuedAt > 0 ? enqueuedAt : storedAt,
      eta: Number.isSafeInteger(eta) && eta > 0 ? eta : null,
      lastError: header(HEADERS.error),
      deadLetteredFrom: header(HEADERS.deadLetteredFrom),
      attempts: Number(header(HEADERS.attempts)) || 0,
    };
  }

  async writeNote(queue: string, id: string, note: string): Promise<void> {
    const subject = this.#parts.layout.subject(queue, 'note', id);
    await this.publish(queue, subject, new TextEncoder().encode(note), { rollup: true });
  }

  async readNote(queue: string, id: string): Promise<string | null> {
    const note = await this.#last(queue, 'note', id);
    return note === null ? null : new TextDecoder().decode(note.data);
  }

  async dropNote(queue: string, id: string): Promise<void> {
    await this.#parts.queues.purge(queue, 'note', id);
  }

  /**
   * Publishes a dead letter: to the queue's dead-letter queue as a ready task (created if
   * missing; a new id if the id is taken there), else to this queue's `dead` subject. The
   * caller then acknowledges the original.
   */
  async deadLetter(
    queue: string,
    target: string | null,
    task: Movable,
    attempts: number,
    error: string,
  ): Promise<Task> {
    const headers: HeaderValues = {
      tag: task.tag,
      enqueuedAt: task.enqueuedAt,
      error,
      deadLetteredFrom: target === null ? task.deadLetteredFrom : queue,
    };
    const now = this.#parts.clock.now();
    const view = {
      payload: task.payload,
      tag: task.tag,
      enqueuedAt: task.enqueuedAt,
      eta: now,
      lastError: error,
    };
    if (target === null) {
      const subject = this.#parts.layout.subject(queue, 'dead', task.id);
      await this.publish(queue, subject, task.payload, { headers: { ...headers, attempts } });
      return {
        ...view,
        queue,
        id: task.id,
        attempts,
        state: 'dead',
        deadLetteredFrom: task.deadLetteredFrom,
      };
    }
    let id = task.id;
    for (let tries = 0; ; tries++) {
      const subject = this.#parts.layout.subject(target, 'ready', id);
      let outcome: 'stored' | 'duplicate' | 'taken';
      try {
        outcome = await this.publish(target, subject, task.payload, { headers, fresh: true });
      } catch (error) {
        if (!(error instanceof PullqError && error.code === 'queue_not_found') || tries > 0)
          throw error;
        await this.#parts.queues.ensure(target);
        continue;
      }
      if (outcome === 'stored') break;
      id = randomId();
    }
    return { ...view, queue: target, id, attempts: 0, state: 'ready', deadLetteredFrom: queue };
  }

  /** Dead letters back to ready (all of the queue's when `ids` is absent); how many moved. A
   * dead letter whose id is live again stays dead. */
  async redrive(queue: string, ids?: string[]): Promise<number> {
    await this.#parts.queues.need(queue);
    const wanted = ids ?? (await this.#deadIds(queue));
    let moved = 0;
    for (const id of wanted) {
      const dead = await this.#last(queue, 'dead', id);
      if (dead === null) continue;
      const task = this.carried(dead.subject, dead.data, dead.header, dead.time.getTime());
      const subject = this.#parts.layout.subject(queue, 'ready', id);
      const headers = {
        tag: task.tag,
        enqueuedAt: task.enqueuedAt,
        deadLetteredFrom: task.deadLetteredFrom,
      };
      if ((await this.publish(queue, subject, task.payload, { headers, fresh: true })) !== 'stored')
        continue;
      await this.#parts.queues.purge(queue, 'dead', id);
      await this.dropNote(queue, id);
      moved += 1;
    }
    return moved;
  }

  async #deadIds(queue: string): Promise<string[]> {
    const filter = this.#parts.layout.filter(queue, 'dead');
    try {
      const info = await this.#parts.jsm.streams.info(this.#parts.layout.stream(queue), {
        subjects_filter: filter,
      });
      return Object.keys(info.state.subjects ?? {})
        .map((subject) => this.#parts.layout.parse(subject)?.id)
        .filter((id): id is string => id !== undefined);
    } catch (error) {
      throw natsError(error, `listing the dead letters of queue ${queue}`);
    }
  }

  async #last(queue: string, kind: TaskKind, id: string): Promise<StoredMsg | null> {
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
