/**
 * A pullq task as an AMQP message. The payload is the message body, byte for byte; the task
 * id is the `messageId`; the rest travels in `x-pullq-*` headers. Messages published by other
 * tools (no messageId, no headers) are tasks too: they get a fresh id on each delivery.
 *
 * Attempts: a message counts the leases it had before it was (re)published in
 * `x-pullq-attempts`, and the quorum queue counts the deliveries since in `x-delivery-count`;
 * a delivery is attempt `x-pullq-attempts + x-delivery-count + 1`. A copy published again (a
 * release with a delay or a note) starts a new broker count, so it carries the sum forward.
 */
import type { Message, Options } from 'amqplib';
import type { Task } from '../backend.ts';
import { TASK_ID_PATTERN } from '../../protocol/limits.ts';
import { randomId } from '../common.ts';
import type { Outgoing } from './publisher.ts';
import { DELAY_LEVELS, delayExchange, delayRoutingKey } from './topology.ts';

export const HEADERS = {
  attempts: 'x-pullq-attempts',
  error: 'x-pullq-error',
  tag: 'x-pullq-tag',
  enqueuedAt: 'x-pullq-enqueued-at',
  eta: 'x-pullq-eta',
  deadLetteredFrom: 'x-pullq-dead-lettered-from',
} as const;

/** Headers the broker adds; a copy we publish starts without them. */
const BROKER_HEADERS = /^x-(death|first-death-|last-death-|delivery-count)/;

/** Dead-lettering reasons that mean "moved out of its queue" (not a delay level's expiry). */
const DEAD_REASONS = new Set(['rejected', 'delivery_limit', 'maxlen']);

/** What a stored message says about its task. */
export interface TaskFields {
  id: string;
  tag: string | null;
  enqueuedAt: number;
  /** When it was due (its insert's or release's ETA). */
  eta: number;
  /** Leases before this copy was published. */
  attempts: number;
  lastError: string | null;
  deadLetteredFrom: string | null;
}

export type PublishOptions = Options.Publish & { messageId: string };

/** Properties of a new copy; `carried` are the original's headers (other tools' kept). */
export function publishOptions(
  fields: TaskFields,
  carried: Record<string, unknown> = {},
): PublishOptions {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(carried)) {
    if (!BROKER_HEADERS.test(name) && !name.startsWith('x-pullq-')) headers[name] = value;
  }
  headers[HEADERS.attempts] = fields.attempts;
  headers[HEADERS.enqueuedAt] = fields.enqueuedAt;
  headers[HEADERS.eta] = fields.eta;
  if (fields.tag !== null) headers[HEADERS.tag] = fields.tag;
  if (fields.lastError !== null) headers[HEADERS.error] = fields.lastError;
  if (fields.deadLetteredFrom !== null) headers[HEADERS.deadLetteredFrom] = fields.deadLetteredFrom;
  return {
    messageId: fields.id,
    timestamp: Math.floor(fields.enqueuedAt / 1000),
    persistent: true,
    headers,
  };
}

/** The task a delivered message is, and how many deliveries the broker counted since publish. */
export function fieldsOf(
  message: Message,
  queue: string,
  now: number,
): TaskFields & { redeliveries: number } {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const messageId: unknown = message.properties.messageId;
  const timestamp: unknown = message.properties.timestamp;
  const enqueuedAt =
    int(headers[HEADERS.enqueuedAt]) ?? (typeof timestamp === 'number' ? timestamp * 1000 : now);
  return {
    id: typeof messageId === 'string' && TASK_ID_PATTERN.test(messageId) ? messageId : randomId(),
    tag: text(headers[HEADERS.tag]),
    enqueuedAt,
    eta: int(headers[HEADERS.eta]) ?? enqueuedAt,
    attempts: int(headers[HEADERS.attempts]) ?? 0,
    lastError: text(headers[HEADERS.error]),
    deadLetteredFrom:
      text(headers[HEADERS.deadLetteredFrom]) ?? brokerDeadLetteredFrom(headers, queue),
    redeliveries: int(headers['x-delivery-count']) ?? 0,
  };
}

/** The queue the broker dead-lettered the message out of (a delivery limit, a reject). */
function brokerDeadLetteredFrom(headers: Record<string, unknown>, queue: string): string | null {
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths)) return null;
  for (const death of deaths as unknown[]) {
    const { reason, queue: from } = (death ?? {}) as { reason?: unknown; queue?: unknown };
    const name = text(from);
    if (DEAD_REASONS.has(String(text(reason))) && name !== null && name !== queue) return name;
  }
  return null;
}

function int(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'bigint') return Number(value);
  return null;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return null;
}

/** A published copy of a task: into its queue, or down the delay ladder. */
export function outgoingCopy(
  queue: string,
  fields: TaskFields,
  delaySeconds: number,
  content: Buffer,
  carried?: Record<string, unknown>,
): Outgoing {
  const options = publishOptions(fields, carried);
  if (delaySeconds === 0) return { exchange: '', routingKey: queue, content, options };
  return {
    exchange: delayExchange(DELAY_LEVELS - 1),
    routingKey: delayRoutingKey(delaySeconds, queue),
    content,
    options,
  };
}

export function taskView(
  queue: string,
  fields: TaskFields,
  payload: Uint8Array,
  state: Task['state'],
  attempts: number,
): Task {
  return {
    queue,
    id: fields.id,
    payload,
    tag: fields.tag,
    enqueuedAt: fields.enqueuedAt,
    eta: fields.eta,
    attempts,
    state,
    lastError: fields.lastError,
    deadLetteredFrom: fields.deadLetteredFrom,
  };
}
