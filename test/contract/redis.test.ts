/**
 * The backend contract against real Redis ($PULLQ_TEST_REDIS_URL, default
 * redis://127.0.0.1:6379). Every test opens a fresh backend under one key prefix made for
 * this run (the suite's queue names are unique per run); every key of that prefix is deleted
 * at the end. An unreachable Redis fails the file under CI=true and skips it otherwise.
 */
import { after, it } from 'node:test';
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
}
