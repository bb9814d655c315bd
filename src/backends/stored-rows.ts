/**
 * How a row of a SQL backend's `tasks` and `queues` tables reads as the Backend's types; the
 * same columns in SQLite (flags as 0/1) and PostgreSQL (flags as booleans).
 */
import type { QueueInfo, Task, TaskState } from './backend.ts';

/** The payload of a task returned without one. */
export const EMPTY = new Uint8Array(0);

export interface StoredTaskRow {
  id: string;
  tag: string | null;
  enqueued_at: number;
  eta: number;
  attempts: number;
  dead: boolean | number;
  lease_token: string | null;
  last_error: string | null;
  dead_lettered_from: string | null;
}

export interface StoredQueueRow {
  name: string;
  created_at: number;
  max_leases: number | null;
  dead_letter_queue: string | null;
  dedup_window_seconds: number;
  paused: boolean | number;
}

export function stateOfRow(
  row: Pick<StoredTaskRow, 'dead' | 'eta' | 'lease_token'>,
  now: number,
): TaskState {
  if (row.dead) return 'dead';
  if (row.eta <= now) return 'ready';
  return row.lease_token === null ? 'delayed' : 'leased';
}

export function toTask(queue: string, row: StoredTaskRow, now: number, payload: Uint8Array): Task {
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

export function toInfo(row: StoredQueueRow): QueueInfo {
  return {
    name: row.name,
    createdAt: row.created_at,
    maxLeases: row.max_leases,
    deadLetterQueue: row.dead_letter_queue,
    dedupWindowSeconds: row.dedup_window_seconds,
    paused: Boolean(row.paused),
  };
}
