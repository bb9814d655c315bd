/**
 * Reads the replies of the Redis backend's scripts (run with Buffer replies, since payloads
 * are bytes) as the Backend's types. The shapes are those the Lua `view` and `info_reply`
 * helpers build (lua-prelude.ts).
 */
import { PullqError } from '../../protocol/errors.ts';
import type { LeasedTask, QueueInfo, Task, TaskState } from '../backend.ts';
import { queueNotFound } from '../common.ts';

export const EMPTY = new Uint8Array(0);

export function text(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new PullqError('internal', `unexpected reply from Redis: ${String(value)}`);
}

export function optText(value: unknown): string | null {
  return value === null || value === undefined || value === false ? null : text(value);
}

export function int(value: unknown): number {
  return Number(text(value));
}

/** A copy, so the task does not hold the driver's buffer (nor is a Buffer, which tests and
 * callers compare as a plain Uint8Array). */
function bytes(value: unknown): Uint8Array {
  return Buffer.isBuffer(value) ? new Uint8Array(value) : EMPTY;
}

export function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) {
    throw new PullqError('internal', `unexpected reply from Redis: ${String(value)}`);
  }
  return value as unknown[];
}

/** The items after the leading status of a script's reply; a whole-call error is thrown. */
export function okItems(reply: unknown, queue: string): unknown[] {
  const items = list(reply);
  const status = text(items[0]);
  if (status === 'ok') return items.slice(1);
  if (status === 'queue_not_found') throw queueNotFound(queue);
  throw new PullqError('internal', `unexpected status from a Redis script: ${status}`);
}

/** A task `view` of lua-prelude.ts, with its seq (for list cursors). */
export function toTask(reply: unknown, now: number): { seq: number; task: Task } {
  const [seq, queue, id, tag, enq, eta, att, dead, leased, err, from, payload] = list(reply);
  const etaMs = int(eta);
  const state: TaskState =
    int(dead) === 1 ? 'dead' : etaMs <= now ? 'ready' : int(leased) === 1 ? 'leased' : 'delayed';
  return {
    seq: int(seq),
    task: {
      queue: text(queue),
      id: text(id),
      payload: bytes(payload),
      tag: optText(tag),
      enqueuedAt: int(enq),
      eta: etaMs,
      attempts: int(att),
      state,
      lastError: optText(err),
      deadLetteredFrom: optText(from),
    },
  };
}

/** One task of the LEASE script's reply. */
export function toLeased(reply: unknown, queue: string): LeasedTask {
  const [id, tag, enq, eta, att, err, from, payload, token] = list(reply);
  return {
    queue,
    id: text(id),
    payload: bytes(payload),
    tag: optText(tag),
    enqueuedAt: int(enq),
    eta: int(eta),
    attempts: int(att),
    state: 'leased',
    lastError: optText(err),
    deadLetteredFrom: optText(from),
    leaseToken: text(token),
  };
}

export function toInfo(reply: unknown): QueueInfo {
  const [name, created, maxLeases, dlq, dedup, paused] = list(reply);
  const max = optText(maxLeases);
  return {
    maxLeases: max === null ? null : Number(max),
    deadLetterQueue: optText(dlq),
    dedupWindowSeconds: int(dedup),
    paused: int(paused) === 1,
    name: text(name),
    createdAt: int(created),
  };
}
