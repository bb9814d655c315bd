/** Rows of the SQLite schema (0001_init.sql); they read as the Backend's types through
 * ../stored-rows.ts, shared with PostgreSQL. */

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

export { EMPTY, stateOfRow, toInfo, toTask } from '../stored-rows.ts';
