/**
 * Errors a handler throws to steer the failure policy: `PermanentError` dead-letters the task
 * at once; `RetryAfter` retries it after a delay the handler chose. Any other thrown value is
 * retried with exponential backoff until the queue's maxLeases.
 *
 * The child recognises them by `name` too, so a handler that imports another copy of pullq
 * (a built package beside the sources) still gets the behaviour it asked for.
 */

export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}

export class RetryAfter extends Error {
  override readonly name = 'RetryAfter';
  /** Milliseconds until the task may run again. */
  readonly delayMs: number;

  constructor(delayMs: number, message = `retry after ${delayMs} ms`) {
    super(message);
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`RetryAfter needs a delay of 0 ms or more, got ${String(delayMs)}`);
    }
    this.delayMs = delayMs;
  }
}

export function isPermanentError(error: unknown): boolean {
  return error instanceof Error && error.name === 'PermanentError';
}

/** RetryAfter's delay in ms, or null when `error` is not one. */
export function retryAfterMs(error: unknown): number | null {
  if (!(error instanceof Error) || error.name !== 'RetryAfter') return null;
  const delay = (error as { delayMs?: unknown }).delayMs;
  return typeof delay === 'number' && Number.isFinite(delay) && delay >= 0 ? delay : null;
}
