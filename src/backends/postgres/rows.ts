/** Rows of the PostgreSQL schema (migrations/0001_init.sql); they read as the Backend's types
 * through ../stored-rows.ts, shared with SQLite. bigint columns arrive as numbers (the pool
 * parses int8; times and seqs stay far below 2^53), bytea as a Buffer. */

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

/** A payload as the Backend hands it out: a plain Uint8Array over the driver's bytes. */
export function payloadOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export { EMPTY, stateOfRow, toInfo, toTask } from '../stored-rows.ts';
