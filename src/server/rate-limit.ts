/**
 * The per-token rate limit (`auth.rateLimitPerSecond`): a token bucket per token name. A bucket
 * holds one second's worth of requests (at least one), so a client may burst that much after
 * an idle second and no more; past it, requests answer 429 `rate_limited` with `Retry-After`.
 */
import { PullqError } from '../protocol/errors.ts';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/** Buckets of names idle this long are full again; they are dropped when the map grows. */
const IDLE_MS = 60_000;
const PRUNE_ABOVE = 10_000;

export class RateLimiter {
  readonly #perMs: number;
  readonly #capacity: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(perSecond: number) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new PullqError('invalid_argument', 'rateLimitPerSecond must be a positive number', {
        details: { field: 'rateLimitPerSecond' },
      });
    }
    this.#perMs = perSecond / 1000;
    this.#capacity = Math.max(1, perSecond);
  }

  /**
   * Takes one request from `name`'s bucket. Returns 0 when there was one to take, else the
   * whole seconds (at least 1) until there will be.
   */
  take(name: string, now: number): number {
    let bucket = this.#buckets.get(name);
    if (!bucket) {
      if (this.#buckets.size >= PRUNE_ABOVE) this.#prune(now);
      bucket = { tokens: this.#capacity, at: now };
      this.#buckets.set(name, bucket);
    }
    // A clock that steps back refills nothing (and takes nothing back).
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + elapsed * this.#perMs);
    bucket.at = Math.max(bucket.at, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  #prune(now: number): void {
    for (const [name, bucket] of this.#buckets) {
      if (now - bucket.at >= IDLE_MS) this.#buckets.delete(name);
    }
  }
}

export function rateLimited(retryAfterSeconds: number): PullqError {
  return new PullqError(
    'rate_limited',
    `too many requests for this token: retry in ${retryAfterSeconds} s`,
    { details: { retryAfterSeconds } },
  );
}
