/**
 * The TokenStore contract (src/testing/token-store-contract.ts) against the Redis backend,
 * each test under a key prefix of its own (deleted at the end); then what Redis adds: tokens
 * are shared by every backend on the same prefix (several servers on one Redis), and the
 * store holds no token, only its hash. The Redis URL and the rules for an unreachable one are
 * those of test/contract/redis.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { newTokenRecord } from '../../src/auth/tokens.ts';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../../src/backends/redis/open.ts';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { tokenStoreContract } from '../../src/testing/token-store-contract.ts';

const URL_TEXT = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OPTIONS = redisOptionsFromUrl(new URL(URL_TEXT));
const PREFIX = `pq-tokens-${process.pid}-${Date.now().toString(36)}`;
const NOW = Date.UTC(2030, 0, 1);

const unreachable = await dropPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `Redis at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('token store: redis', { skip: unreachable }, () => {});
} else {
  let stores = 0;
  after(() => dropPrefix(OPTIONS, PREFIX));
  tokenStoreContract(
    'redis',
    () => new RedisBackend({ ...OPTIONS, prefix: `${PREFIX}:${++stores}` }),
  );

  describe('token store: redis keys', () => {
    it('a token created through one backend is found and revoked through another on the same prefix', async () => {
      const prefix = `${PREFIX}:shared`;
      const first = new RedisBackend({ ...OPTIONS, prefix });
      const second = new RedisBackend({ ...OPTIONS, prefix });
      try {
        const { record } = newTokenRecord({ name: 'shared', roles: ['admin'] }, NOW);
        await first.createToken(record);
        assert.deepEqual(await second.findTokenByHash(record.tokenHash), record);
        assert.equal(await second.revokeToken('shared'), true);
        assert.equal(await first.findTokenByHash(record.tokenHash), null);
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    });

    it('Redis holds the hash of a token, never the token nor its random part', async () => {
      const prefix = `${PREFIX}:secret`;
      const backend = new RedisBackend({ ...OPTIONS, prefix });
      const { Redis } = await import('ioredis');
      const raw = new Redis({ ...OPTIONS.redis, lazyConnect: true });
      try {
        const { token, record } = newTokenRecord({ name: 'secret', roles: ['admin'] }, NOW);
        await backend.createToken(record);
        await raw.connect();
        const keys = await raw.keys(`${prefix}:*`);
        assert.ok(keys.length > 0, 'the token is stored under the prefix');
        const stored = (
          await Promise.all(keys.map(async (key) => JSON.stringify(await raw.hgetall(key))))
        ).join('\n');
        assert.ok(stored.includes(record.tokenHash), 'the hash is stored');
        assert.equal(stored.includes(token), false);
        assert.equal(stored.includes(token.slice(3)), false);
      } finally {
        raw.disconnect();
        await backend.close();
      }
    });
  });
}
