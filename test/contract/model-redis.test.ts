/**
 * Model-based test against real Redis: random operation sequences run against memory (the
 * reference) and the redis backend side by side (see model.test.ts); every observable result
 * must be equal. The sequences use fixed queue names, so each run gets a key prefix of its
 * own; every key of this file's prefixes is deleted at the end. The Redis URL and the rules
 * for an unreachable one are those of redis.test.ts.
 */
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../../src/backends/redis/open.ts';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { sequenceArb, setupArb } from './model-ops.ts';
import { compareWithReference } from './model-runner.ts';

const URL_TEXT = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OPTIONS = redisOptionsFromUrl(new URL(URL_TEXT));
const PREFIX = `pq-model-${process.pid}-${Date.now().toString(36)}`;
/** 20 to 70 ms a run here, as the load of the machine goes; $PULLQ_TEST_MODEL_RUNS runs more for a soak. */
const RUNS = Number(process.env['PULLQ_TEST_MODEL_RUNS'] ?? 300);

const unreachable = await dropPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `Redis at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

describe('model-based: random operations agree with the memory reference', () => {
  after(async () => {
    if (unreachable === null) await dropPrefix(OPTIONS, PREFIX);
  });

  it('redis agrees with memory', { skip: unreachable ?? false }, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(setupArb, sequenceArb, (setup, ops) =>
        compareWithReference(
          // A prefix per run (under this file's), so every run starts from an empty store.
          (clock) => new RedisBackend({ ...OPTIONS, prefix: `${PREFIX}:${++run}`, clock }),
          setup,
          ops,
        ),
      ),
      { numRuns: RUNS },
    );
  });
});
