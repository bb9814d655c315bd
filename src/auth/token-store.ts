/**
 * Where tokens live: in the server's own store, so every server on one database (several
 * `pullq serve` on one PostgreSQL) knows the same tokens. `MemoryBackend` and `SqliteBackend`
 * implement it beside the Backend verbs.
 *
 * Rules every implementation keeps (test/unit/token-store.test.ts runs them against each):
 * - Only `TokenRecord`s are stored: the hash, never the token.
 * - `createToken` checks the record (`checkTokenRecord`) and refuses a name or a hash that is
 *   stored already with `already_exists`.
 * - `findTokenByHash` returns the record whatever its expiry (the caller decides), null when
 *   none has that hash.
 * - `revokeToken` deletes: a revoked token is unknown at once.
 * - A closed store throws `unavailable`.
 */
import type { TokenRecord } from './tokens.ts';

export interface TokenStore {
  createToken(record: TokenRecord): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<TokenRecord | null>;
  /** Ordered by name. */
  listTokens(): Promise<TokenRecord[]>;
  /** Deletes the token; false when no token has that name. */
  revokeToken(name: string): Promise<boolean>;
  countTokens(): Promise<number>;
}

const VERBS = ['createToken', 'findTokenByHash', 'listTokens', 'revokeToken', 'countTokens'];

/** Whether a backend keeps tokens (memory and sqlite do; an HTTP backend does not). */
export function isTokenStore(value: unknown): value is TokenStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    VERBS.every((verb) => typeof (value as Record<string, unknown>)[verb] === 'function')
  );
}
