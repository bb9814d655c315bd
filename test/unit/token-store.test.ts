/**
 * The TokenStore contract (src/testing/token-store-contract.ts), run unchanged against the
 * memory backend and the SQLite backend; then what SQLite adds: tokens survive a restart, and the file holds no
 * token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TokenStore } from '../../src/auth/token-store.ts';
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
import { isPullqError } from '../../src/protocol/errors.ts';
import { tokenStoreContract } from '../../src/testing/token-store-contract.ts';

const NOW = Date.UTC(2030, 0, 1);

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pullq-token-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const stores: Record<string, () => Backend & TokenStore> = {
  memory: () => new MemoryBackend(),
  sqlite: () => new SqliteBackend({ path: join(dir, 'pullq.db') }),
};

for (const [kind, open] of Object.entries(stores)) tokenStoreContract(kind, open);

function record(name: string, changes: Partial<TokenRecord> = {}): TokenRecord {
  return {
    ...newTokenRecord({ name, roles: ['consumer'], queuePattern: 'emails-*' }, NOW).record,
    ...changes,
  };
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
