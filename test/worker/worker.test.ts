/**
 * The worker end to end: a real `pullq serve`, a supervisor in this process and real child
 * processes running the record fixture.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serveWorkerMetrics } from '../../src/worker/metrics.ts';
import { Worker } from '../../src/worker/worker.ts';
import { RECORD_HANDLER, assertAllGone, attempts, until, workerSuite } from './harness.ts';

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

  it('serves Prometheus metrics of every outcome, the gauges and the durations at /metrics', async () => {
    const connection = suite.harness.connection();
    const queue = connection.simpleQueue('metered');
    const out = join(suite.harness.dir, 'metered.log');
    await queue.putMany(Array.from({ length: 40 }, () => ({ body: { out } })));
    await queue.putMany(Array.from({ length: 3 }, () => ({ body: { out, permanent: true } })));
    const worker = suite.track(
      new Worker({
        connection,
        queue: 'metered',
        handler: RECORD_HANDLER,
        processes: 2,
        concurrency: 5,
        logLevel: 'silent',
      }),
    );
    await worker.start();
    for (const pid of worker.stats().pids) pids.add(pid);
    const metrics = await serveWorkerMetrics(worker, { port: 0 });
    try {
      await until(() => worker.stats().processed + worker.stats().dead === 43, 20_000, 'all run');
      const response = await fetch(metrics.url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      const value = (series: string): number => {
        const line = text.split('\n').find((l) => l.startsWith(`${series} `));
        assert.ok(line !== undefined, `${series} is exported`);
        return Number(line.slice(series.length + 1));
      };
      const labels = 'queue="metered"';
      assert.equal(value(`pullq_worker_tasks_total{${labels},outcome="processed"}`), 40);
      assert.equal(value(`pullq_worker_tasks_total{${labels},outcome="failed"}`), 3);
      assert.equal(value(`pullq_worker_tasks_total{${labels},outcome="dead"}`), 3);
      assert.equal(value(`pullq_worker_tasks_total{${labels},outcome="retried"}`), 0);
      assert.equal(value(`pullq_worker_processes{${labels}}`), 2);
      assert.equal(value(`pullq_worker_in_flight{${labels}}`), 0);
      assert.equal(
        value(`pullq_worker_task_duration_seconds_count{${labels},outcome="processed"}`),
        40,
      );
      assert.ok(value('pullq_worker_process_resident_memory_bytes') > 0);
      // A second scrape counts nothing twice.
      const again = await (await fetch(metrics.url)).text();
      assert.ok(again.includes(`pullq_worker_tasks_total{${labels},outcome="processed"} 40\n`));
      assert.equal((await fetch(new URL('/other', metrics.url))).status, 404);
    } finally {
      await metrics.close();
      await worker.stop();
    }
  });
});
