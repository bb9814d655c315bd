/**
 * The transport contract over `redis://`: every connection of the suite opens the same Redis
 * under one key prefix made for this run; its keys are deleted at the end. The Redis URL and
 * the rules for an unreachable one are those of redis.test.ts.
 */
import { it } from 'node:test';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../../src/backends/redis/open.ts';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { transportContract } from '../../src/testing/index.ts';

const URL_TEXT = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OPTIONS = redisOptionsFromUrl(new URL(URL_TEXT));
const PREFIX = `pq-transport-${process.pid}-${Date.now().toString(36)}`;

const unreachable = await dropPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `Redis at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('redis transport contract', { skip: unreachable }, () => {});
} else {
  transportContract('redis', () => {
    const admin = new RedisBackend({ ...OPTIONS, prefix: PREFIX });
    const url = new URL(URL_TEXT);
    url.searchParams.set('prefix', PREFIX);
    return {
      connectionOptions: () => ({ url: url.href }),
      createQueue: async (name) => {
        await admin.createQueue(name);
      },
      insertRaw: async (queue, payload) => {
        const [result] = await admin.insert(queue, [{ payload }]);
        if (!result?.ok) throw result?.error ?? new Error('no insert result');
      },
      close: async () => {
        await admin.close();
        await dropPrefix(OPTIONS, PREFIX);
      },
    };
  });
}
