/**
 * The TokenStore rules (src/auth/token-store.ts), run unchanged against the memory backend and
 * the SQLite backend; then what SQLite adds: tokens survive a restart, and the file holds no
 * token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TokenStore } from '../../src/auth/token-store.ts';
import { isTokenStore } from '../../src/auth/token-store.ts';
import {
  generateToken,
  hashToken,
  isWellFormedToken,
  newTokenRecord,
  recordForToken,
  type TokenRecord,
} from '../../src/auth/tokens.ts';
import type { Backend } from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { isPullqError, type ErrorCode } from '../../src/protocol/errors.ts';

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

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pullq-token-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const stores: Record<string, () => Backend & TokenStore> = {
  memory: () => new MemoryBackend(),
  sqlite: () => new SqliteBackend({ path: join(dir, 'pullq.db') }),
};

for (const [kind, open] of Object.entries(stores)) {
  describe(`token store: ${kind}`, () => {
    let store: Backend & TokenStore;
    beforeEach(() => {
      store = open();
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

describe('token store: sqlite file', () => {
  it('tokens survive closing and opening the database again', async () => {
    const path = join(dir, 'pullq.db');
    const created = record('durable', { roles: ['producer', 'admin'], expiresAt: null });
    const first = new SqliteBackend({ path });
    await first.createToken(created);
    await first.close();
    const second = new SqliteBackend({ path });
    try {
      assert.deepEqual(await second.findTokenByHash(created.tokenHash), created);
    } finally {
      await second.close();
    }
  });

  it('the database file and its WAL hold no token, nor its random part', async () => {
    const path = join(dir, 'pullq.db');
    const backend = new SqliteBackend({ path });
    const { token, record: created } = newTokenRecord({ name: 'secret', roles: ['admin'] }, NOW);
    const chosen = 'operator-chosen-admin-token-1234';
    try {
      await backend.createToken(created);
      await backend.createToken(recordForToken(chosen, { name: 'env', roles: ['admin'] }, NOW));
      const bytes = Buffer.concat(
        ['', '-wal'].map((suffix) => {
          try {
            return readFileSync(path + suffix);
          } catch {
            return Buffer.alloc(0);
          }
        }),
      );
      assert.ok(bytes.includes(Buffer.from(created.tokenHash)), 'the hash is stored');
      for (const secret of [token, token.slice(3), chosen]) {
        assert.equal(bytes.includes(Buffer.from(secret)), false);
      }
      // The random part as raw bytes, too.
      assert.equal(bytes.includes(Buffer.from(token.slice(3), 'base64url')), false);
    } finally {
      await backend.close();
    }
  });
});

describe('tokens', () => {
  it('a generated token is pq_ and 256 random bits in base64url, and well-formed', () => {
    const token = generateToken();
    assert.match(token, /^pq_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token.slice(3), 'base64url').length, 32);
    assert.ok(isWellFormedToken(token));
    assert.notEqual(generateToken(), token);
  });

  it('a token is hashed with SHA-256 to 64 hex digits', () => {
    assert.equal(
      hashToken('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('an operator-chosen token must be 16 to 512 printable ASCII characters without spaces', () => {
    for (const bad of [
      'short',
      'has a space in it ok',
      'x'.repeat(513),
      'ключ-ключ-ключ-ключ',
      '\ttabbed-token-here',
    ]) {
      assert.equal(isWellFormedToken(bad), false, bad);
      assert.throws(
        () => recordForToken(bad, { name: 'env', roles: ['admin'] }, NOW),
        (error) => isPullqError(error, 'invalid_argument') && !error.message.includes(bad),
      );
    }
    assert.ok(isWellFormedToken('x'.repeat(16)));
    assert.ok(isWellFormedToken('x'.repeat(512)));
  });

  it('a new record keeps roles in producer, consumer, admin order without repeats', () => {
    const { record: created } = newTokenRecord(
      { name: 'n', roles: ['admin', 'producer', 'admin'] },
      NOW,
    );
    assert.deepEqual(created.roles, ['producer', 'admin']);
    assert.equal(created.queuePattern, '*');
    assert.equal(created.expiresAt, null);
  });
});
