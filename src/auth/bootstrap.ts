/**
 * The first admin token. A server with authentication on and no token at all could never be
 * used, so on start:
 *
 * - store empty, no `PULLQ_ADMIN_TOKEN`: a token named `admin` (admin on `*`) is generated and
 *   handed to `save` (which writes the credentials file) *before* it is stored: if saving
 *   fails nothing is stored, and the next start tries again.
 * - `PULLQ_ADMIN_TOKEN` set: that string is an admin token on `*`. Stored as `admin` in an
 *   empty store; in a store that has tokens but none with its hash, as `admin-env` (replacing
 *   an earlier `admin-env`, so that changing the variable and restarting rotates it). A token
 *   of that hash that is not admin on `*`, or has expired, stops the start: it would be a
 *   bootstrap token that cannot do what it is for.
 * - store with tokens, no `PULLQ_ADMIN_TOKEN`: nothing happens.
 *
 * Nothing here prints or logs the token.
 */
import { isPullqError } from '../protocol/errors.ts';
import type { TokenStore } from './token-store.ts';
import {
  hashToken,
  isExpired,
  isWellFormedToken,
  newTokenRecord,
  recordForToken,
  type TokenRecord,
} from './tokens.ts';

export const BOOTSTRAP_TOKEN_NAME = 'admin';
export const ENV_TOKEN_NAME = 'admin-env';

export type AdminBootstrap =
  /** The store had tokens already. */
  | { kind: 'existing'; count: number }
  /** A new `admin` token, already saved and stored. */
  | { kind: 'generated'; name: string; savedTo: string }
  /** `PULLQ_ADMIN_TOKEN` is the admin token `name`; `created`: stored just now. */
  | { kind: 'environment'; name: string; created: boolean; replaced: boolean };

export interface BootstrapOptions {
  tokens: TokenStore;
  /** `PULLQ_ADMIN_TOKEN`, or null. */
  adminToken: string | null;
  now: number;
  /** Keeps a generated token where its user finds it; returns where (for the message). */
  save(token: string): string | Promise<string>;
}

/** Bootstrap cannot give the server a usable admin token; the message says what to do. */
export class BootstrapError extends Error {
  override readonly name = 'BootstrapError';
}

export async function bootstrapAdminToken(options: BootstrapOptions): Promise<AdminBootstrap> {
  const { tokens, adminToken, now } = options;
  if (adminToken !== null) return adoptEnvironmentToken(tokens, adminToken, now);
  const count = await tokens.countTokens();
  if (count > 0) return { kind: 'existing', count };
  const { token, record } = newTokenRecord(
    { name: BOOTSTRAP_TOKEN_NAME, roles: ['admin'], queuePattern: '*', expiresAt: null },
    now,
  );
  const savedTo = await options.save(token);
  await create(tokens, record);
  return { kind: 'generated', name: record.name, savedTo };
}

async function adoptEnvironmentToken(
  tokens: TokenStore,
  adminToken: string,
  now: number,
): Promise<AdminBootstrap> {
  if (!isWellFormedToken(adminToken)) {
    throw new BootstrapError(
      'PULLQ_ADMIN_TOKEN must be 16 to 512 printable ASCII characters without spaces',
    );
  }
  const found = await tokens.findTokenByHash(hashToken(adminToken));
  if (found) {
    if (!found.roles.includes('admin') || found.queuePattern !== '*') {
      throw new BootstrapError(
        `PULLQ_ADMIN_TOKEN is the token ${JSON.stringify(found.name)}, which is not an admin token on '*': choose another PULLQ_ADMIN_TOKEN, or revoke that token (pullq token revoke ${found.name})`,
      );
    }
    if (isExpired(found, now)) {
      throw new BootstrapError(
        `PULLQ_ADMIN_TOKEN is the token ${JSON.stringify(found.name)}, which has expired: choose another PULLQ_ADMIN_TOKEN`,
      );
    }
    return { kind: 'environment', name: found.name, created: false, replaced: false };
  }
  const count = await tokens.countTokens();
  const name = count === 0 ? BOOTSTRAP_TOKEN_NAME : ENV_TOKEN_NAME;
  const record = recordForToken(
    adminToken,
    { name, roles: ['admin'], queuePattern: '*', expiresAt: null },
    now,
  );
  // The token of an earlier PULLQ_ADMIN_TOKEN: the variable changed, so the old one goes.
  const replaced = count > 0 && (await tokens.revokeToken(name));
  await create(tokens, record);
  return { kind: 'environment', name, created: true, replaced };
}

async function create(tokens: TokenStore, record: TokenRecord): Promise<void> {
  try {
    await tokens.createToken(record);
  } catch (error) {
    if (isPullqError(error, 'already_exists')) {
      throw new BootstrapError(
        `another server created the ${JSON.stringify(record.name)} token at the same moment; start this one again`,
        { cause: error },
      );
    }
    throw error;
  }
}
