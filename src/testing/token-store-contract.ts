/**
 * The TokenStore contract (src/auth/token-store.ts): the rules every store of tokens keeps,
 * run by each backend's own test file (memory, SQLite, PostgreSQL, Redis).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TokenStore } from '../auth/token-store.ts';
import { isTokenStore } from '../auth/token-store.ts';
import { generateToken, hashToken, newTokenRecord, type TokenRecord } from '../auth/tokens.ts';
import type { Backend } from '../backends/backend.ts';
import { isPullqError, type ErrorCode } from '../protocol/errors.ts';

const NOW = Date.UTC(2030, 0, 1);

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(isPullqError(error, code), String(error));
    return true;
  });
}

function record(name: string, changes: Partial<TokenRecord> = {}): TokenRecord {
  return {
    ...newTokenRecord({ name, roles: ['consumer'], queuePattern: 'emails-*' }, NOW).record,
    ...changes,
  };
}

export type MakeTokenStore = () => (Backend & TokenStore) | Promise<Backend & TokenStore>;

/** Runs the TokenStore rules against fresh stores from `open` (one per test, closed after). */
export function tokenStoreContract(kind: string, open: MakeTokenStore): void {
  describe(`token store: ${kind}`, () => {
    let store: Backend & TokenStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    it('is recognized as a token store', () => {
      assert.ok(isTokenStore(store));
    });

    it('finds a created token by its hash, with every field as stored', async () => {
      const { token, record: created } = newTokenRecord(
        {
          name: 'worker@eu',
          roles: ['producer', 'consumer'],
          queuePattern: 'emails-*',
          expiresAt: NOW + 60_000,
        },
        NOW,
      );
      await store.createToken(created);
      assert.deepEqual(await store.findTokenByHash(hashToken(token)), {
        name: 'worker@eu',
        tokenHash: hashToken(token),
        roles: ['producer', 'consumer'],
        queuePattern: 'emails-*',
        createdAt: NOW,
        expiresAt: NOW + 60_000,
      });
    });

    it('finds nothing for an unknown hash', async () => {
      await store.createToken(record('a'));
      assert.equal(await store.findTokenByHash(hashToken(generateToken())), null);
      assert.equal(await store.findTokenByHash('not a hash'), null);
    });

    it('refuses a name that is taken with already_exists, and keeps the first token', async () => {
      const first = record('same');
      await store.createToken(first);
      await rejectsWith(store.createToken(record('same')), 'already_exists');
      assert.deepEqual(await store.findTokenByHash(first.tokenHash), first);
      assert.equal(await store.countTokens(), 1);
    });

    it('refuses a token already stored under another name with already_exists', async () => {
      const first = record('one');
      await store.createToken(first);
      await rejectsWith(store.createToken({ ...first, name: 'two' }), 'already_exists');
      assert.equal(await store.countTokens(), 1);
    });

    it('refuses a record with a bad name, roles, pattern, hash or time with invalid_argument', async () => {
      const bad: Partial<TokenRecord>[] = [
        { name: '' },
        { name: 'has space' },
        { name: 'x'.repeat(101) },
        { roles: [] },
        { roles: ['root' as 'admin'] },
        { roles: ['admin', 'admin'] },
        { queuePattern: '' },
        { queuePattern: 'emails_*' },
        { tokenHash: 'pq_plaintext-token-is-not-a-hash' },
        { tokenHash: hashToken('x').toUpperCase() },
        { createdAt: -1 },
        { expiresAt: 1.5 },
      ];
      for (const changes of bad) {
        await rejectsWith(store.createToken(record('bad', changes)), 'invalid_argument');
      }
      assert.equal(await store.countTokens(), 0);
    });

    it('lists tokens by name', async () => {
      for (const name of ['charlie', 'alpha', 'bravo']) await store.createToken(record(name));
      assert.deepEqual(
        (await store.listTokens()).map((token) => token.name),
        ['alpha', 'bravo', 'charlie'],
      );
      assert.equal(await store.countTokens(), 3);
    });

    it('revoking deletes the token at once; revoking it again answers false', async () => {
      const revoked = record('gone');
      await store.createToken(revoked);
      await store.createToken(record('kept'));
      assert.equal(await store.revokeToken('gone'), true);
      assert.equal(await store.findTokenByHash(revoked.tokenHash), null);
      assert.equal(await store.revokeToken('gone'), false);
      assert.equal(await store.revokeToken('never-was'), false);
      assert.deepEqual(
        (await store.listTokens()).map((token) => token.name),
        ['kept'],
      );
    });

    it('a revoked name can be used again, for a new token', async () => {
      await store.createToken(record('rotated'));
      await store.revokeToken('rotated');
      const next = record('rotated');
      await store.createToken(next);
      assert.deepEqual(await store.findTokenByHash(next.tokenHash), next);
    });

    it('a changed record from the store does not change the stored one', async () => {
      const created = record('frozen');
      await store.createToken(created);
      const found = await store.findTokenByHash(created.tokenHash);
      assert.ok(found);
      found.roles.push('admin');
      created.roles.push('admin');
      assert.deepEqual((await store.findTokenByHash(created.tokenHash))?.roles, ['consumer']);
    });

    it('a closed store fails every token verb with unavailable', async () => {
      await store.close();
      await rejectsWith(store.createToken(record('late')), 'unavailable');
      await rejectsWith(store.findTokenByHash(hashToken('x')), 'unavailable');
      await rejectsWith(store.listTokens(), 'unavailable');
      await rejectsWith(store.revokeToken('late'), 'unavailable');
      await rejectsWith(store.countTokens(), 'unavailable');
    });
  });
}
