/**
 * Retry of transient failures, kombu's `ensure` done the catalog's way: only errors marked
 * `retryable` (unavailable, timeout, rate_limited) are tried again, after an exponentially
 * growing delay with full jitter, a bounded number of times. Everything else surfaces at once,
 * with its code.
 */
import { PullqError } from '../protocol/errors.ts';
import { sleep } from './waits.ts';

export interface RetryPolicy {
  /** Tries after the first one; 0 turns retrying off. Default 8. */
  maxRetries: number;
  /** The delay cap before the first retry, in ms. Default 100. */
  initialDelayMs: number;
  /** The cap never grows past this, in ms. Default 5000. */
  maxDelayMs: number;
}

/**
 * Eight retries with caps of 0.1, 0.2, 0.4 ... 5 s wait about 8 s in all on average (full
 * jitter halves the caps' 16.3 s): long enough to ride out a server restart, which took about
 * a second on this machine, and short enough that a dead server is reported while someone
 * still waits for the answer.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 8,
  initialDelayMs: 100,
  maxDelayMs: 5000,
};

export interface RetryEvent {
  /** The failure that is being retried. */
  error: PullqError;
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
}

export interface RetryOptions {
  signal?: AbortSignal | undefined;
  onRetry?: ((event: RetryEvent) => void) | undefined;
}

export function resolveRetryPolicy(policy: Partial<RetryPolicy> | false | undefined): RetryPolicy {
  if (policy === false) return { ...DEFAULT_RETRY_POLICY, maxRetries: 0 };
  const resolved = { ...DEFAULT_RETRY_POLICY, ...policy };
  for (const [field, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new PullqError('invalid_argument', `retry.${field} must be a number >= 0`, {
        details: { field: `retry.${field}` },
      });
    }
  }
  return resolved;
}

/**
 * Runs `operation` until it succeeds, fails with an error that is not retryable, or has used
 * its retries. `operation` learns its attempt number (1 for the first) so that it can tell a
 * first try from a repeat whose predecessor may have reached the server.
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const retry = attempt;
      if (!(error instanceof PullqError) || !error.retryable || retry > policy.maxRetries) {
        throw error;
      }
      if (options.signal?.aborted) throw error;
      const delayMs = retryDelay(error, retry, policy);
      options.onRetry?.({ error, retry, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

/** Full jitter (a random delay below the cap) spreads out clients that failed together; a
 * server's `retryAfterSeconds` (rate_limited) is a floor. */
export function retryDelay(error: PullqError, retry: number, policy: RetryPolicy): number {
  const cap = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1));
  const jittered = Math.random() * cap;
  const after = error.details?.['retryAfterSeconds'];
  return typeof after === 'number' && after > 0 ? Math.max(jittered, after * 1000) : jittered;
}
