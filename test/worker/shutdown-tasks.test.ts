/**
 * Stopping a worker (graceful, then forced) and named tasks (routing by the pullq-task header,
 * unknown names, timeouts), against a running pullq serve.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from '../../src/worker/worker.ts';
import { defineTask } from '../../src/worker/tasks.ts';
import { greet, stuck } from './fixtures/tasks.ts';
import { RECORD_HANDLER, assertAllGone, attempts, until, workerSuite } from './harness.ts';

const TASKS_HANDLER = fileURLToPath(new URL('./fixtures/tasks.ts', import.meta.url));

describe('worker shutdown and named tasks', () => {
  const suite = workerSuite();
  const { pids } = suite;

  it('stop() gives the prefetch buffer back at once and lets running handlers finish and ack', async () => {
    const connection = suite.harness.connection();
    const out = join(suite.harness.dir, 'stop.log');
    await connection
      .simpleQueue('stop')
      .putMany(Array.from({ length: 30 }, () => ({ body: { out, sleepMs: 1000 } })));
    const worker = suite.track(
      new Worker({
        connection,
        queue: 'stop',
        handler: RECORD_HANDLER,
        processes: 1,
        concurrency: 2,
        prefetch: 10,
        leaseSeconds: 60,
        graceSeconds: 10,
        logLevel: 'silent',
      }),
    );
    await worker.start();
    await until(
      () => worker.stats().inFlight === 2 && worker.stats().buffered >= 6,
      10_000,
      'a full buffer',
    );
    const started = Date.now();
    const report = await worker.stop();
    assert.ok(Date.now() - started < 10_000, 'within the grace period');
    assert.equal(report.forced, false);
    assert.ok(report.releasedBuffered.length >= 6);
    const finished = attempts(out);
    assert.equal(finished.length, 2, 'the two running handlers finished');
    const other = suite.harness.connection();
    const leased = await other.ensure(async (backend) =>
      backend.lease('stop', { max: 100, leaseSeconds: 60 }),
    );
    const leasedIds = new Set(leased.map((task) => task.id));
    for (const id of report.releasedBuffered) assert.ok(leasedIds.has(id), `${id} is leasable`);
    for (const { id } of finished) {
      assert.equal(await other.ensure(async (backend) => backend.get('stop', id)), null);
    }
    assertAllGone(pids);
  });

  it('stop({ force: true }) aborts running handlers and releases their tasks at once', async () => {
    const connection = suite.harness.connection();
    const out = join(suite.harness.dir, 'force.log');
    await connection
      .simpleQueue('force')
      .putMany(Array.from({ length: 2 }, () => ({ body: { out, sleepMs: 20_000 } })));
    const worker = suite.track(
      new Worker({
        connection,
        queue: 'force',
        handler: RECORD_HANDLER,
        processes: 1,
        concurrency: 2,
        leaseSeconds: 60,
        logLevel: 'silent',
      }),
    );
    await worker.start();
    await until(() => worker.stats().inFlight === 2, 10_000, 'two running handlers');
    void worker.stop();
    const report = await worker.stop({ force: true });
    assert.equal(report.forced, true);
    assert.equal(report.releasedRunning.length, 2);
    const leased = await suite.harness
      .connection()
      .ensure(async (backend) => backend.lease('force', { max: 10, leaseSeconds: 60 }));
    assert.deepEqual(leased.map((task) => task.id).sort(), [...report.releasedRunning].sort());
    assertAllGone(pids);
  });

  it('named tasks are routed by their pullq-task header; an unknown name is dead at once', async () => {
    const connection = suite.harness.connection();
    await connection.ensure(async (backend) => backend.createQueue('named', { maxLeases: 1 }));
    const queue = connection.simpleQueue('named');
    const out = join(suite.harness.dir, 'named.log');
    await greet.enqueue(queue, { out, name: 'ada' });
    const unknownId = await defineTask('no-such-task', async () => {}).enqueue(queue, {});
    const stuckId = await stuck.enqueue(queue, { out });
    const worker = suite.track(
      new Worker({
        connection,
        queue: 'named',
        handler: TASKS_HANDLER,
        processes: 1,
        concurrency: 4,
        once: true,
        logLevel: 'silent',
      }),
    );
    await worker.start();
    await worker.done;
    assert.equal(readFileSync(out, 'utf8'), 'greet ada 1\n', 'stuck never got to finish');
    const unknown = await connection.ensure(async (backend) => backend.get('named', unknownId));
    assert.equal(unknown?.state, 'dead');
    assert.match(unknown?.lastError ?? '', /unknown task "no-such-task".*defines greet, stuck/);
    const timedOut = await connection.ensure(async (backend) => backend.get('named', stuckId));
    assert.equal(timedOut?.state, 'dead', 'its only attempt failed');
    assert.match(timedOut?.lastError ?? '', /ran past its timeout of 0.3 s/);
  });
});
