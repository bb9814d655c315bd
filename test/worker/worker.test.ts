/**
 * The worker end to end: a real `pullq serve`, a supervisor in this process and real child
 * processes running the record fixture.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '../../src/worker/worker.ts';
import { RECORD_HANDLER, assertAllGone, attempts, workerSuite } from './harness.ts';

describe('pullq worker against a running pullq serve', () => {
  const suite = workerSuite();
  const { pids } = suite;

  it('10,000 tasks through 2 processes x 20: every one processed exactly once, the queue ends empty', async (t) => {
    const connection = suite.harness.connection();
    const queue = connection.simpleQueue('many');
    const out = join(suite.harness.dir, 'many.log');
    const total = 10_000;
    const results = await queue.putMany(Array.from({ length: total }, () => ({ body: { out } })));
    assert.ok(results.every((result) => result.ok));
    const worker = new Worker({
      connection,
      queue: 'many',
      handler: RECORD_HANDLER,
      processes: 2,
      concurrency: 20,
      once: true,
      logLevel: 'silent',
    });
    suite.track(worker);
    await worker.start();
    for (const pid of worker.stats().pids) pids.add(pid);
    const report = await worker.done;
    assert.deepEqual(report.releasedRunning, []);
    const seen = attempts(out);
    const ids = new Set(seen.map((attempt) => attempt.id));
    const duplicates = seen.length - ids.size;
    t.diagnostic(`${ids.size} tasks processed, ${duplicates} processed twice`);
    assert.deepEqual(ids, new Set(results.map((result) => (result.ok ? result.id : ''))));
    assert.equal(duplicates, 0, 'no task ran twice');
    assert.equal(new Set(seen.map((attempt) => attempt.pid)).size, 2, 'both children worked');
    assert.equal(worker.stats().processed, total);
    assert.equal(worker.stats().leaseLost, 0);
    assert.equal(await queue.qsize(), 0);
    const stats = await connection.ensure(async (backend) => backend.stats('many'));
    assert.equal(stats.leased, 0);
    assertAllGone(pids);
  });
});
