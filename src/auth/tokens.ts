/**
 * Access tokens: what one is, how it is made, and how it is stored. A token is shown once, at
 * creation; the store keeps only its SHA-256, so a copy of the data store gives no way in.
 *
 * - token: `pq_` + 32 random bytes in base64url (256 bits). A bootstrap token set by the
 *   operator (`PULLQ_ADMIN_TOKEN`) may be any well-formed token string (`isWellFormedToken`).
 * - tokenHash: the token's SHA-256, hex. Tokens are looked up by it. A fast hash is enough:
 *   the tokens are random, so there is nothing to guess that a slow hash would protect.
 * - roles: one or more of producer, consumer, admin (see ./permissions.ts).
 * - queuePattern: the queues the roles apply to: `*`, an exact name, or a glob (`emails-*`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PullqError } from '../protocol/errors.ts';

export type Role = 'producer' | 'consumer' | 'admin';
export const ROLES: readonly Role[] = ['producer', 'consumer', 'admin'];

export interface TokenRecord {
  name: string;
  /** SHA-256 of the token, 64 hex digits. */
  tokenHash: string;
  /** At least one, no repeats, in ROLES order. */
  roles: Role[];
  queuePattern: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch; null: never. */
  expiresAt: number | null;
}

export const TOKEN_NAME_PATTERN = /^[a-zA-Z0-9_.@-]{1,100}$/;
/** Queue-name characters plus `*`, which matches any run of them (none included). */
export const QUEUE_PATTERN_PATTERN = /^[a-zA-Z0-9*-]{1,100}$/;
const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;
/**
 * What a token may look like on the wire: printable ASCII without spaces (so it fits an
 * `Authorization: Bearer` header as one word), 16 to 512 characters. Generated tokens are 46.
 */
const TOKEN_PATTERN = /^[\x21-\x7e]{16,512}$/;
export const TOKEN_PREFIX = 'pq_';
/** Ten years: a longer expiry is a typo, or should be no expiry. */
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` can be a token at all; anything else is refused before it is hashed. */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** Constant-time equality of two token hashes (hex). */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function isTokenHash(value: string): boolean {
  return TOKEN_HASH_PATTERN.test(value);
}

export function isExpired(record: Pick<TokenRecord, 'expiresAt'>, now: number): boolean {
  return record.expiresAt !== null && record.expiresAt <= now;
}

export interface NewToken {
  name: string;
  roles: Role[];
  /** Default `*`. */
  queuePattern?: string;
  /** Milliseconds since the epoch; null or absent: never. */
  expiresAt?: number | null;
}

/** A fresh token and the record to store for it. The token is not kept anywhere else. */
export function newTokenRecord(
  options: NewToken,
  now: number,
): { token: string; record: TokenRecord } {
  const token = generateToken();
  return { token, record: recordForToken(token, options, now) };
}

/** The record of a token chosen by the operator (`PULLQ_ADMIN_TOKEN`). */
export function recordForToken(token: string, options: NewToken, now: number): TokenRecord {
  if (!isWellFormedToken(token)) {
    throw new PullqError(
      'invalid_argument',
      'a token must be 16 to 512 printable ASCII characters without spaces',
      { details: { field: 'token' } },
    );
  }
  const record: TokenRecord = {
    name: options.name,
    tokenHash: hashToken(token),
    roles: normalizeRoles(options.roles),
    queuePattern: options.queuePattern ?? '*',
    createdAt: now,
    expiresAt: options.expiresAt ?? null,
  };
  checkTokenRecord(record);
  return record;
}

/** Roles without repeats, in ROLES order, so two records of the same roles compare equal. */
export function normalizeRoles(roles: readonly string[]): Role[] {
  return ROLES.filter((role) => roles.includes(role));
}

export function checkTokenName(name: string, field = 'name'): void {
  if (!TOKEN_NAME_PATTERN.test(name)) {
    throw new PullqError(
      'invalid_argument',
      `invalid token name ${JSON.stringify(name.slice(0, 120))}: use 1 to 100 of a-z, A-Z, 0-9, _, ., @ and -`,
      { details: { field } },
    );
  }
}

export function checkQueuePattern(pattern: string, field = 'queue'): void {
  if (!QUEUE_PATTERN_PATTERN.test(pattern)) {
    throw new PullqError(
      'invalid_argument',
      `invalid queue pattern ${JSON.stringify(pattern.slice(0, 120))}: use 1 to 100 of a-z, A-Z, 0-9, - and * (any run of them)`,
      { details: { field } },
    );
  }
}

/** What every token store checks before it stores a record. */
export function checkTokenRecord(record: TokenRecord): void {
  checkTokenName(record.name);
  checkQueuePattern(record.queuePattern);
  const roles = record.roles as readonly string[];
  if (
    roles.length === 0 ||
    roles.some((role) => !(ROLES as readonly string[]).includes(role)) ||
    new Set(roles).size !== roles.length
  ) {
    throw new PullqError(
      'invalid_argument',
      `roles must be one or more of ${ROLES.join(', ')}, without repeats`,
      { details: { field: 'roles' } },
    );
  }
  if (!isTokenHash(record.tokenHash)) {
    throw new PullqError('invalid_argument', 'tokenHash must be a SHA-256 in hex', {
      details: { field: 'tokenHash' },
    });
  }
  for (const field of ['createdAt', 'expiresAt'] as const) {
    const value = record[field];
    if (value !== null && (!Number.isSafeInteger(value) || value < 0)) {
      throw new PullqError('invalid_argument', `${field} must be a time in milliseconds`, {
        details: { field },
      });
    }
  }
}

export function tokenNameTaken(name: string): PullqError {
  return new PullqError('already_exists', `a token named ${JSON.stringify(name)} exists`, {
    details: { name },
  });
}

/** The same token stored twice would make one of the two names unreachable. */
export function tokenHashTaken(): PullqError {
  return new PullqError('already_exists', 'this token is already stored under another name');
}
