/**
 * What a state change of the PostgreSQL backend runs with: its statements, its time, where
 * generated ids come from, and the queues it may have made a task ready in (their long-polls
 * are woken, on every server, once it commits). `run` is either a transaction's connection or
 * the pool (a change that is one statement).
 */
import type { IdSource } from '../id-source.ts';
import type { Run } from './database.ts';
import type { Statements } from './statements.ts';

export interface WriteContext {
  run: Run;
  sql: Statements;
  ids: IdSource;
  /** The verb's time (ms), read once from the backend's clock. */
  now: number;
  /** Queues that may have gained a ready task. */
  touched: Set<string>;
}
