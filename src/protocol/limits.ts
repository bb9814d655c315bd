/**
 * The limits of the protocol (App Engine's v1beta2 values) and the checks every entry point
 * shares, so the server, the client and each backend refuse the same inputs the same way.
 */
import { PullqError } from './errors.ts';

export const LIMITS = {
  maxTasksPerLease: 1000,
  maxLeaseSeconds: 7 * 24 * 3600,
  maxPayloadBytes: 1024 * 1024,
  maxTagBytes: 500,
  maxEtaAheadSeconds: 30 * 24 * 3600,
  maxBatch: 1000,
  maxWaitSeconds: 60,
  maxListLimit: 1000,
  maxErrorNoteBytes: 4096,
} as const;

export const QUEUE_NAME_PATTERN = /^[a-zA-Z0-9-]{1,100}$/;
export const TASK_ID_PATTERN = /^[a-zA-Z0-9_-]{1,500}$/;

export function checkQueueName(name: string): void {
  if (!QUEUE_NAME_PATTERN.test(name)) {
    throw new PullqError(
      'invalid_argument',
      `invalid queue name ${JSON.stringify(name.slice(0, 120))}: use 1 to 100 of a-z, A-Z, 0-9 and -`,
      { details: { field: 'queue' } },
    );
  }
}

export function checkTaskId(id: string, field = 'id'): void {
  if (!TASK_ID_PATTERN.test(id)) {
    throw new PullqError(
      'invalid_argument',
      `invalid task id ${JSON.stringify(id.slice(0, 120))}: use 1 to 500 of a-z, A-Z, 0-9, _ and -`,
      { details: { field } },
    );
  }
}

export function checkTag(tag: string, field = 'tag'): void {
  if (Buffer.byteLength(tag, 'utf8') > LIMITS.maxTagBytes) {
    throw new PullqError('invalid_argument', `tag is longer than ${LIMITS.maxTagBytes} bytes`, {
      details: { field },
    });
  }
}

/** An integer within [min, max], else invalid_argument naming the field. */
export function checkInt(value: number, field: string, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new PullqError(
      'invalid_argument',
      `${field} must be an integer from ${min} to ${max}, got ${String(value)}`,
      { details: { field } },
    );
  }
}

/** A number (fractions allowed) within [min, max], else invalid_argument naming the field. */
export function checkNumber(value: number, field: string, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new PullqError(
      'invalid_argument',
      `${field} must be a number from ${min} to ${max}, got ${String(value)}`,
      { details: { field } },
    );
  }
}

export function checkPayloadSize(bytes: number, field = 'payload'): void {
  if (bytes > LIMITS.maxPayloadBytes) {
    throw new PullqError(
      'payload_too_large',
      `${field} is ${bytes} bytes; the limit is ${LIMITS.maxPayloadBytes} bytes (1 MiB)`,
      { details: { field } },
    );
  }
}

export function checkEta(eta: number, now: number, field = 'eta'): void {
  if (!Number.isSafeInteger(eta) || eta < 0) {
    throw new PullqError('invalid_argument', `${field} must be a time in milliseconds`, {
      details: { field },
    });
  }
  if (eta > now + LIMITS.maxEtaAheadSeconds * 1000) {
    throw new PullqError('invalid_argument', `${field} is more than 30 days ahead`, {
      details: { field },
    });
  }
}

export function checkBatchSize(length: number, field: string): void {
  if (length < 1 || length > LIMITS.maxBatch) {
    throw new PullqError(
      'invalid_argument',
      `${field} must hold 1 to ${LIMITS.maxBatch} items, got ${length}`,
      { details: { field } },
    );
  }
}

export function truncateNote(note: string): string {
  const buffer = Buffer.from(note, 'utf8');
  if (buffer.length <= LIMITS.maxErrorNoteBytes) return note;
  // Cut on a character boundary: decoding a cut multi-byte sequence would add U+FFFD.
  return new TextDecoder()
    .decode(buffer.subarray(0, LIMITS.maxErrorNoteBytes))
    .replace(/\uFFFD$/, '');
}
