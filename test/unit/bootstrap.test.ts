import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BootstrapError,
  bootstrapAdminToken,
  type BootstrapOptions,
} from '../../src/auth/bootstrap.ts';
import { hashToken, newTokenRecord, recordForToken } from '../../src/auth/tokens.ts';
import { MemoryTokenStore } from '../../src/backends/memory-token-store.ts';

const NOW = 1_700_000_000_000;
const ENV_TOKEN = 'operator-chosen-admin-token-1';

function options(
  tokens: MemoryTokenStore,
  overrides: Partial<BootstrapOptions> = {},
): BootstrapOptions {
  return {
    tokens,
    adminToken: null,
    now: NOW,
    save: () => assert.fail('nothing should be saved'),
    ...overrides,
  };
}

describe('bootstrapAdminToken', () => {
  it('on an empty store generates an admin token on *, saves it, then stores only its hash', async () => {
    const tokens = new MemoryTokenStore();
    let saved = '';
    const result = await bootstrapAdminToken(
      options(tokens, {
        save: async (token) => {
          assert.equal(await tokens.countTokens(), 0, 'saved before it is stored');
          saved = token;
          return '/where/it/went';
        },
      }),
    );
    assert.deepEqual(result, { kind: 'generated', name: 'admin', savedTo: '/where/it/went' });
    assert.match(saved, /^pq_[A-Za-z0-9_-]{43}$/);
    const [record] = await tokens.listTokens();
    assert.deepEqual(record, {
      name: 'admin',
      tokenHash: hashToken(saved),
      roles: ['admin'],
      queuePattern: '*',
      createdAt: NOW,
      expiresAt: null,
    });
  });

  it('stores nothing when the token cannot be saved, so the next start tries again', async () => {
    const tokens = new MemoryTokenStore();
    await assert.rejects(
      bootstrapAdminToken(
        options(tokens, {
          save: () => {
            throw new Error('read-only home');
          },
        }),
      ),
      /read-only home/,
    );
    assert.equal(await tokens.countTokens(), 0);
  });

  it('does nothing when the store has tokens and PULLQ_ADMIN_TOKEN is not set', async () => {
    const tokens = new MemoryTokenStore();
    await tokens.createToken(newTokenRecord({ name: 'worker', roles: ['consumer'] }, NOW).record);
    assert.deepEqual(await bootstrapAdminToken(options(tokens)), { kind: 'existing', count: 1 });
    assert.equal(await tokens.countTokens(), 1);
  });

  it('PULLQ_ADMIN_TOKEN on an empty store becomes the admin token, and nothing is saved', async () => {
    const tokens = new MemoryTokenStore();
    const result = await bootstrapAdminToken(options(tokens, { adminToken: ENV_TOKEN }));
    assert.deepEqual(result, {
      kind: 'environment',
      name: 'admin',
      created: true,
      replaced: false,
    });
    const found = await tokens.findTokenByHash(hashToken(ENV_TOKEN));
    assert.deepEqual([found?.name, found?.roles, found?.queuePattern], ['admin', ['admin'], '*']);
  });

  it('PULLQ_ADMIN_TOKEN already stored as an admin token is kept as it is', async () => {
    const tokens = new MemoryTokenStore();
    await bootstrapAdminToken(options(tokens, { adminToken: ENV_TOKEN }));
    const again = await bootstrapAdminToken(options(tokens, { adminToken: ENV_TOKEN }));
    assert.deepEqual(again, {
      kind: 'environment',
      name: 'admin',
      created: false,
      replaced: false,
    });
    assert.equal(await tokens.countTokens(), 1);
  });

  it('PULLQ_ADMIN_TOKEN new to a store with tokens becomes admin-env; a changed one replaces it', async () => {
    const tokens = new MemoryTokenStore();
    await tokens.createToken(newTokenRecord({ name: 'admin', roles: ['admin'] }, NOW).record);
    const first = await bootstrapAdminToken(options(tokens, { adminToken: ENV_TOKEN }));
    assert.deepEqual(first, {
      kind: 'environment',
      name: 'admin-env',
      created: true,
      replaced: false,
    });

    const rotated = `${ENV_TOKEN}-rotated`;
    const second = await bootstrapAdminToken(options(tokens, { adminToken: rotated }));
    assert.deepEqual(second, {
      kind: 'environment',
      name: 'admin-env',
      created: true,
      replaced: true,
    });
    assert.equal(await tokens.findTokenByHash(hashToken(ENV_TOKEN)), null, 'the old one is gone');
    assert.equal((await tokens.findTokenByHash(hashToken(rotated)))?.name, 'admin-env');
    assert.deepEqual(
      (await tokens.listTokens()).map((token) => token.name),
      ['admin', 'admin-env'],
    );
  });

  it('refuses a PULLQ_ADMIN_TOKEN that is a stored token without admin on *, or expired', async () => {
    const tokens = new MemoryTokenStore();
    const producer = { name: 'producer', roles: ['producer' as const], queuePattern: '*' };
    const narrow = { name: 'narrow', roles: ['admin' as const], queuePattern: 'emails-*' };
    const expired = { name: 'old', roles: ['admin' as const], expiresAt: NOW - 1 };
    for (const [index, grant] of [producer, narrow, expired].entries()) {
      const token = `${ENV_TOKEN}-${index}`;
      await tokens.createToken(recordForToken(token, grant, NOW - 1000));
      await assert.rejects(
        bootstrapAdminToken(options(tokens, { adminToken: token })),
        (error: unknown) =>
          error instanceof BootstrapError &&
          error.message.includes(JSON.stringify(grant.name)) &&
          !error.message.includes(token),
        grant.name,
      );
    }
  });

  it('refuses a PULLQ_ADMIN_TOKEN shorter than 16 characters or with spaces', async () => {
    const tokens = new MemoryTokenStore();
    for (const adminToken of ['short', 'sixteen chars ok', '']) {
      await assert.rejects(
        bootstrapAdminToken(options(tokens, { adminToken })),
        BootstrapError,
        adminToken,
      );
    }
    assert.equal(await tokens.countTokens(), 0);
  });
});
