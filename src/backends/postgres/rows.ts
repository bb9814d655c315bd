/** Rows of the PostgreSQL schema (migrations/0001_init.sql) and how they read as the Backend's
 * types. bigint columns arrive as numbers (the pool parses int8; times and seqs stay far below
 * 2^53), bytea as a Buffer. */
import type { QueueInfo, Task, TaskState } from '../backend.ts';

/** A task row without its payload. */
export interface TaskRow {
  seq: number;
  id: string;
  named: boolean;
  tag: string | null;
  enqueued_at: number;
  eta: number;
  attempts: number;
  dead: boolean;
  lease_token: string | null;
  last_error: string | null;
  dead_lettered_from: string | null;
}

export interface TaskRowWithPayload extends TaskRow {
  payload: Buffer;
}

export interface QueueRow {
  name: string;
  created_at: number;
  max_leases: number | null;
  dead_letter_queue: string | null;
  dedup_window_seconds: number;
  paused: boolean;
}

/** The columns of TaskRow, in a SELECT list. */
export const META = `seq, id, named, tag, enqueued_at, eta, attempts, dead, lease_token,
  last_error, dead_lettered_from`;

/** The payload of a task returned without one. */
export const EMPTY = new Uint8Array(0);

/** A payload as the Backend hands it out: a plain Uint8Array over the driver's bytes. */
export function payloadOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function stateOfRow(row: Pick<TaskRow, 'dead' | 'eta' | 'lease_token'>, now: number) {
  const state: TaskState = row.dead
    ? 'dead'
    : row.eta <= now
      ? 'ready'
      : row.lease_token === null
        ? 'delayed'
        : 'leased';
  return state;
}

export function toTask(queue: string, row: TaskRow, now: number, payload: Uint8Array): Task {
  return {
    queue,
    id: row.id,
    payload,
    tag: row.tag,
    enqueuedAt: row.enqueued_at,
    eta: row.eta,
    attempts: row.attempts,
    state: stateOfRow(row, now),
    lastError: row.last_error,
    deadLetteredFrom: row.dead_lettered_from,
  };
}

export function toInfo(row: QueueRow): QueueInfo {
  return {
    name: row.name,
    createdAt: row.created_at,
    maxLeases: row.max_leases,
    deadLetterQueue: row.dead_letter_queue,
    dedupWindowSeconds: row.dedup_window_seconds,
    paused: row.paused,
  };
}
