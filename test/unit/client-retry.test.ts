/** withRetry: only retryable catalog errors are retried, a bounded number of times. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PullqError } from '../../src/protocol/errors.ts';
import {
  resolveRetryPolicy,
  retryDelay,
  withRetry,
  type RetryEvent,
} from '../../src/client/retry.ts';

const fast = { maxRetries: 3, initialDelayMs: 1, maxDelayMs: 4 };

describe('withRetry', () => {
  it('retries a retryable error until the operation succeeds', async () => {
    const events: RetryEvent[] = [];
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new PullqError('unavailable', 'down');
        return 'up';
      },
      fast,
      { onRetry: (event) => events.push(event) },
    );
    assert.equal(result, 'up');
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(
      events.map((event) => [event.retry, event.error.code]),
      [
        [1, 'unavailable'],
        [2, 'unavailable'],
      ],
    );
  });

  it('gives up after maxRetries and throws the last error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new PullqError('timeout', `try ${calls}`);
      }, fast),
      { code: 'timeout', message: 'try 4' },
    );
    assert.equal(calls, 4);
  });

  for (const code of ['permission_denied', 'invalid_argument', 'lease_lost', 'internal'] as const) {
    it(`does not retry ${code}`, async () => {
      let calls = 0;
      await assert.rejects(
        withRetry(async () => {
          calls++;
          throw new PullqError(code, 'no');
        }, fast),
        { code },
      );
      assert.equal(calls, 1);
    });
  }

  it('does not retry an error outside the catalog', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new TypeError('a bug');
      }, fast),
      TypeError,
    );
    assert.equal(calls, 1);
  });

  it('retry: false turns retrying off', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(async () => {
        calls++;
        throw new PullqError('unavailable', 'down');
      }, resolveRetryPolicy(false)),
    );
    assert.equal(calls, 1);
  });

  it('an aborted signal stops retrying', async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          controller.abort();
          throw new PullqError('unavailable', 'down');
        },
        fast,
        { signal: controller.signal },
      ),
    );
    assert.equal(calls, 1);
  });
});

describe('retryDelay', () => {
  const policy = { maxRetries: 10, initialDelayMs: 100, maxDelayMs: 1000 };

  it('stays below a cap that doubles each retry up to maxDelayMs', () => {
    const error = new PullqError('unavailable', 'down');
    for (const [retry, cap] of [
      [1, 100],
      [2, 200],
      [4, 800],
      [5, 1000],
      [9, 1000],
    ] as const) {
      for (let n = 0; n < 200; n++) {
        const delay = retryDelay(error, retry, policy);
        assert.ok(delay >= 0 && delay <= cap, `retry ${retry}: ${delay} over ${cap}`);
      }
    }
  });

  it('is jittered: delays for the same retry differ', () => {
    const error = new PullqError('unavailable', 'down');
    const delays = new Set(Array.from({ length: 20 }, () => retryDelay(error, 3, policy)));
    assert.ok(delays.size > 10);
  });

  it("waits at least a rate limit's retryAfterSeconds", () => {
    const error = new PullqError('rate_limited', 'slow down', {
      details: { retryAfterSeconds: 2 },
    });
    assert.ok(retryDelay(error, 1, policy) >= 2000);
  });
});
