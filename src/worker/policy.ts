/**
 * The failure policy: what a failed attempt turns into. A thrown error is retried after an
 * exponential backoff with full jitter (a random delay below a cap that doubles per attempt:
 * spreading retries evenly stops a failing dependency from being hit by every task at once);
 * PermanentError, and the queue's last allowed attempt, dead-letter the task with its note.
 */
import type { ReleaseRequest, LeaseRef } from '../backends/backend.ts';
import { LIMITS, truncateNote } from '../protocol/limits.ts';
import type { FailureReport } from './protocol.ts';

export interface Backoff {
  /** The cap of the first retry's delay, in ms. Default 1000. */
  baseMs: number;
  /** The largest delay, in ms. Default 300000 (5 minutes). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 300_000 };

/** The delay before the retry of a failed attempt `attempt` (1-based): uniform in [0, cap). */
export function backoffDelayMs(
  backoff: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt - 1, 52));
  return Math.floor(random() * cap);
}

export type Outcome =
  | { kind: 'retry'; delayMs: number; release: ReleaseRequest }
  | { kind: 'dead'; release: ReleaseRequest };

export function outcomeOf(
  ref: LeaseRef,
  attempt: number,
  failure: FailureReport,
  maxLeases: number | null,
  backoff: Backoff,
): Outcome {
  const error = truncateNote(failure.note);
  if (failure.permanent || (maxLeases !== null && attempt >= maxLeases)) {
    return { kind: 'dead', release: { ref, deadLetter: true, error } };
  }
  const delayMs = Math.min(
    failure.retryAfterMs ?? backoffDelayMs(backoff, attempt),
    LIMITS.maxEtaAheadSeconds * 1000,
  );
  return { kind: 'retry', delayMs, release: { ref, delaySeconds: delayMs / 1000, error } };
}
