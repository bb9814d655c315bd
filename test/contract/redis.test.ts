/**
 * The backend contract against real Redis ($PULLQ_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379). Every test opens a fresh backend under one key prefix made for
 * this run (the suite's queue names are unique per run); every key of that prefix is deleted
 * at the end. An unreachable Redis fails the file under CI=true and skips it otherwise.
 *
 * Then what is Redis's own: long-polls woken across connections (processes), a Redis that
 * cannot be reached answering `unavailable` fast, and the URL form.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { isPullqError } from '../../src/protocol/errors.ts';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../../src/backends/redis/open.ts';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { backendContract } from '../../src/testing/index.ts';

const URL_TEXT = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OPTIONS = redisOptionsFromUrl(new URL(URL_TEXT));
const PREFIX = `pq-contract-${process.pid}-${Date.now().toString(36)}`;

const unreachable = await dropPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `Redis at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('redis backend contract', { skip: unreachable }, () => {});
} else {
  after(() => dropPrefix(OPTIONS, PREFIX));
  backendContract('redis', (clock) => new RedisBackend({ ...OPTIONS, prefix: PREFIX, clock }));

  describe('redis backend: across connections', () => {
    it('a long-poll through one backend wakes within milliseconds when another inserts', async () => {
      const prefix = `${PREFIX}:wake`;
      const waiter = new RedisBackend({ ...OPTIONS, prefix });
      const producer = new RedisBackend({ ...OPTIONS, prefix });
      try {
        await producer.createQueue('q');
        const tookMs: number[] = [];
        for (let round = 0; round < 5; round += 1) {
          const pending = waiter.lease('q', { max: 1, leaseSeconds: 60, waitSeconds: 10 });
          await sleep(100 + 37 * round);
          const insertedAt = performance.now();
          await producer.insert('q', [{ payload: new TextEncoder().encode(`t${round}`) }]);
          const [task] = await pending;
          tookMs.push(performance.now() - insertedAt);
          assert.equal(task?.attempts, 1);
        }
        // Without the wake-up the waiter would see the task at its next look, every 250 ms:
        // a median of ~125 ms. Pub/sub brings it in a few milliseconds.
        const median = [...tookMs].sort((a, b) => a - b)[2] ?? Infinity;
        assert.ok(median < 60, `woken after ${tookMs.map(Math.round).join(', ')} ms`);
      } finally {
        await Promise.all([waiter.close(), producer.close()]);
      }
    });
  });
}

describe('redis backend: connection', () => {
  it('a Redis that cannot be reached fails calls with unavailable within about a second', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    server.close(); // nothing listens on that port now
    assert.ok(address !== null && typeof address === 'object');
    const backend = new RedisBackend({ redis: { host: '127.0.0.1', port: address.port } });
    try {
      for (const call of [() => backend.createQueue('q'), () => backend.stats('q')]) {
        const started = performance.now();
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(isPullqError(error, 'unavailable'), String(error));
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${address.port}`));
          return true;
        });
        assert.ok(performance.now() - started < 2000);
      }
    } finally {
      await backend.close();
    }
  });

  it('a redis URL gives host, port, database, credentials, TLS and prefix', () => {
    assert.deepEqual(
      redisOptionsFromUrl(new URL('rediss://app:s%40cret@cache.example:6380/2?prefix=jobs')),
      {
        redis: {
          host: 'cache.example',
          port: 6380,
          db: 2,
          username: 'app',
          password: 's@cret',
          tls: {},
        },
        prefix: 'jobs',
      },
    );
    assert.deepEqual(redisOptionsFromUrl(new URL('redis://localhost')), {
      redis: { host: 'localhost', port: 6379, db: 0 },
    });
  });

  it('a redis URL with an unknown parameter, a database that is not a number or a bad prefix is refused', () => {
    for (const bad of ['redis://h/?prefixx=a', 'redis://h/zero']) {
      assert.throws(
        () => redisOptionsFromUrl(new URL(bad)),
        (error: unknown) => isPullqError(error, 'invalid_argument'),
        bad,
      );
    }
    assert.throws(
      () => new RedisBackend({ prefix: 'has space' }),
      (error: unknown) => isPullqError(error, 'invalid_argument'),
    );
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
