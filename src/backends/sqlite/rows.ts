/** Rows of the SQLite schema (0001_init.sql) and how they read as the Backend's types. */
import type { QueueInfo, Task, TaskState } from '../backend.ts';

/** A task row without its payload. */
export interface TaskRow {
  seq: number;
  id: string;
  named: number;
  tag: string | null;
  enqueued_at: number;
  eta: number;
  attempts: number;
  dead: number;
  lease_token: string | null;
  last_error: string | null;
  dead_lettered_from: string | null;
}

export interface TaskRowWithPayload extends TaskRow {
  payload: Uint8Array;
}

/** A task row as an array, in the order of META then payload. */
export type TaskRowValues = [
  seq: number,
  id: string,
  named: number,
  tag: string | null,
  enqueued_at: number,
  eta: number,
  attempts: number,
  dead: number,
  lease_token: string | null,
  last_error: string | null,
  dead_lettered_from: string | null,
  payload: Uint8Array,
];

export interface QueueRow {
  name: string;
  created_at: number;
  max_leases: number | null;
  dead_letter_queue: string | null;
  dedup_window_seconds: number;
  paused: number;
}

/** The payload of a task returned without one. */
export const EMPTY = new Uint8Array(0);

export function stateOfRow(row: TaskRow, now: number): TaskState {
  if (row.dead) return 'dead';
  if (row.eta <= now) return 'ready';
  return row.lease_token === null ? 'delayed' : 'leased';
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
    paused: row.paused === 1,
  };
}
