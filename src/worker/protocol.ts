/**
 * The messages a worker's supervisor and its child processes exchange over IPC (Node's
 * `advanced` serialization, so payload bytes pass as Uint8Array). Each delivery of a task to a
 * child is named by a `key` the supervisor chose, never by the task id: the same task may come
 * back to this worker after a release, and a late answer about an old delivery must not settle
 * the new one.
 */

/** A leased task as a child sees it: no lease token (the supervisor holds the lease). */
export interface TaskForChild {
  id: string;
  queue: string;
  payload: Uint8Array;
  tag: string | null;
  attempts: number;
  enqueuedAt: number;
}

/** Why an attempt failed, as the child classified the thrown value. */
export interface FailureReport {
  /** The error's stack (or name and message), for the task's note. */
  note: string;
  message: string;
  /** PermanentError, an unknown task name or an undecodable body: no retry. */
  permanent: boolean;
  /** RetryAfter's delay in ms; null for the backoff policy. */
  retryAfterMs: number | null;
  /** The attempt ran past its timeout. */
  timedOut: boolean;
}

/** One delivery handed to a child. */
export interface Run {
  key: number;
  task: TaskForChild;
}

/** Deliveries and finished keys travel in batches: each IPC message costs a serialization, a
 * write and a read whatever its size, so the supervisor sends every task one dispatch round
 * gives a child in one message, and a child reports every handler that finished in the same
 * turn of its event loop in one `done`. */
export type ToChild =
  /** Run these tasks, each in a free slot. */
  | { type: 'run'; runs: Run[]; timeoutSeconds: number | null }
  /** Abort the handler's signal (forced shutdown); the supervisor has released the task. */
  | { type: 'abort'; key: number; reason: string }
  /** Take no more work; exit 0 once every running handler has finished. */
  | { type: 'drain' }
  /** The answer to an `extend` request. */
  | { type: 'extended'; requestId: number; error: string | null };

export type FromChild =
  /** The handler module loaded; the child takes work. */
  | { type: 'ready'; pid: number }
  /** The module could not be loaded (the child exits 1 after this). */
  | { type: 'load-failed'; message: string }
  /** These deliveries' handlers resolved. */
  | { type: 'done'; keys: number[] }
  | { type: 'failed'; key: number; failure: FailureReport }
  /** ctx.extendLease(seconds) from a handler. */
  | { type: 'extend'; key: number; requestId: number; seconds: number };

/** Options the child reads from its environment (set by the supervisor at fork). */
export interface ChildConfig {
  handler: string;
  concurrency: number;
  logLevel: string;
}

export const CHILD_CONFIG_ENV = 'PULLQ_WORKER_CHILD_CONFIG';
