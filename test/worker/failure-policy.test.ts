/**
 * The failure policy against a running pullq serve: backoff between attempts, dead letters
 * after the queue's maxLeases with the last error, PermanentError and RetryAfter.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { RECORD_HANDLER, attempts, until, workerSuite } from './harness.ts';
import type { RecordBody } from './fixtures/record.ts';

describe('the worker failure policy', () => {
  const suite = workerSuite();
  const { pids } = suite;

  async function run(
    queueName: string,
    maxLeases: number,
    body: Omit<RecordBody, 'out'>,
    options: Partial<WorkerOptions> = {},
  ): Promise<{ worker: Worker; out: string; id: string }> {
    const connection = suite.harness.connection();
    await connection.ensure(async (backend) => backend.createQueue(queueName, { maxLeases }));
    const out = join(suite.harness.dir, `${queueName}.log`);
    const id = await connection.simpleQueue(queueName).put({ out, ...body });
    const worker = new Worker({
      connection,
      queue: queueName,
      handler: RECORD_HANDLER,
      processes: 1,
      concurrency: 2,
      logLevel: 'silent',
      ...options,
    });
    suite.track(worker);
    await worker.start();
    for (const pid of worker.stats().pids) pids.add(pid);
    return { worker, out, id };
  }

  it('a handler failing twice then succeeding runs attempts 1, 2, 3 with backoff delays within the bounds', async () => {
    const backoff = { baseMs: 300, maxMs: 500 };
    const delays: number[] = [];
    const { worker, out, id } = await run('flaky', 5, { failTimes: 2 }, { backoff });
    const acked: boolean[] = [];
    worker.on('retried', ({ delayMs }) => delays.push(delayMs));
    // 'processed' comes once the ack is answered (stats count the handler's success before).
    worker.on('processed', (event) => acked.push(event.acked));
    await until(() => acked.length === 1, 20_000, 'the third attempt and its ack');
    const seen = attempts(out);
    assert.deepEqual(
      seen.map((attempt) => attempt.attempt),
      [1, 2, 3],
    );
    assert.equal(delays.length, 2);
    assert.ok(delays[0]! >= 0 && delays[0]! < 300, `first delay ${delays[0]} in [0, 300)`);
    assert.ok(
      delays[1]! >= 0 && delays[1]! < 500,
      `second delay ${delays[1]} in [0, 500) (capped)`,
    );
    for (const [index, delay] of delays.entries()) {
      const gap = seen[index + 1]!.at - seen[index]!.at;
      assert.ok(gap >= delay - 5, `gap ${gap} ms is not shorter than the delay ${delay} ms`);
      assert.ok(gap < 500 + 1500, `gap ${gap} ms stays near the bound`);
    }
    assert.deepEqual(acked, [true]);
    const task = await suite.harness
      .connection()
      .ensure(async (backend) => backend.get('flaky', id));
    assert.equal(task, null, 'acked');
  });

  it('a handler that always fails lands dead after maxLeases with its last error', async () => {
    const { worker, out, id } = await run(
      'doomed',
      3,
      { failTimes: 99 },
      { backoff: { baseMs: 50 } },
    );
    await until(() => worker.stats().dead === 1, 20_000, 'the dead letter');
    assert.deepEqual(
      attempts(out).map((attempt) => attempt.attempt),
      [1, 2, 3],
    );
    const connection = suite.harness.connection();
    await until(() => worker.stats().inFlight === 0, 5000, 'the release');
    await worker.stop();
    const task = await connection.ensure(async (backend) => backend.get('doomed', id));
    assert.equal(task?.state, 'dead');
    assert.match(task?.lastError ?? '', /failing attempt 3 on purpose/);
    assert.match(task?.lastError ?? '', /record\.ts/, 'the stack is kept');
  });

  it('a PermanentError dead-letters the task on its first attempt', async () => {
    const { worker, out, id } = await run('permanent', 10, { permanent: true });
    await until(() => worker.stats().dead === 1, 10_000, 'the dead letter');
    await worker.stop();
    assert.equal(attempts(out).length, 1);
    const task = await suite.harness
      .connection()
      .ensure(async (backend) => backend.get('permanent', id));
    assert.equal(task?.state, 'dead');
    assert.match(task?.lastError ?? '', /PermanentError: this one cannot work/);
  });

  it('a RetryAfter error sets the delay of the next attempt', async () => {
    const { worker, out } = await run('later', 10, { retryAfterMs: 1200 });
    await until(() => worker.stats().processed === 1, 10_000, 'the second attempt');
    await worker.stop();
    const seen = attempts(out);
    assert.deepEqual(
      seen.map((attempt) => attempt.attempt),
      [1, 2],
    );
    assert.ok(seen[1]!.at - seen[0]!.at >= 1195, `gap ${seen[1]!.at - seen[0]!.at} ms`);
  });
});
