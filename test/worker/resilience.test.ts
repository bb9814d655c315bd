/**
 * What the worker survives: a handler that blocks its child's event loop for three lease
 * lengths (the supervisor renews the lease), and a child killed with SIGKILL mid-task (its
 * tasks are released at once, long before a 60 s lease would run out).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from '../../src/worker/worker.ts';
import {
  RECORD_HANDLER,
  assertAllGone,
  attempts,
  startHarness,
  until,
  type Harness,
} from './harness.ts';

describe('worker resilience', () => {
  let harness: Harness;
  const pids = new Set<number>();
  const workers: Worker[] = [];

  before(async () => {
    harness = await startHarness();
  });

  after(async () => {
    await Promise.all(workers.map(async (worker) => worker.stop({ force: true })));
    await harness?.close();
    assertAllGone(pids);
  });

  function track(worker: Worker): Worker {
    workers.push(worker);
    worker.on('child-start', ({ pid }) => pids.add(pid));
    return worker;
  }

  it('a handler blocking its event loop for 3x the lease completes exactly once: its lease was renewed', async () => {
    const connection = harness.connection();
    const out = join(harness.dir, 'blocked.log');
    const id = await connection.simpleQueue('blocked').put({ out, blockMs: 6000 });
    const worker = track(
      new Worker({
        connection,
        queue: 'blocked',
        handler: RECORD_HANDLER,
        processes: 1,
        concurrency: 1,
        leaseSeconds: 2,
        logLevel: 'silent',
      }),
    );
    await worker.start();
    await until(() => worker.stats().processed === 1, 20_000, 'the blocked handler');
    await until(() => worker.stats().inFlight === 0, 5000, 'the ack');
    // Long enough for an expired lease to have handed the task out again.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await worker.stop();
    assert.deepEqual(
      attempts(out).map((attempt) => [attempt.id, attempt.attempt]),
      [[id, 1]],
    );
    assert.ok(worker.stats().renewals >= 3, `renewals: ${worker.stats().renewals}`);
    assert.equal(worker.stats().leaseLost, 0);
    const task = await connection.ensure(async (backend) => backend.get('blocked', id));
    assert.equal(task, null, 'acked');
  });

  it('the tasks of a SIGKILLed child are processed again within 2 s, none lost', async () => {
    const connection = harness.connection();
    const out = join(harness.dir, 'crash.log');
    const queue = connection.simpleQueue('crash');
    const results = await queue.putMany(
      Array.from({ length: 40 }, () => ({ body: { out, sleepMs: 300 } })),
    );
    const ids = results.map((result) => (result.ok ? result.id : ''));
    const worker = track(
      new Worker({
        connection,
        queue: 'crash',
        handler: RECORD_HANDLER,
        processes: 2,
        concurrency: 10,
        leaseSeconds: 60,
        // A released task goes behind the older ready ones (ETA order); a shallow backlog
        // keeps that wait short, so the test measures the release, not the queue's depth.
        prefetch: 2,
        once: true,
        logLevel: 'silent',
      }),
    );
    const exits: { pid: number; tasks: string[]; at: number }[] = [];
    worker.on('child-exit', ({ pid, tasks }) => exits.push({ pid, tasks, at: Date.now() }));
    await worker.start();
    await until(() => worker.stats().inFlight >= 15, 10_000, 'tasks in flight');
    const victim = worker.stats().pids[0]!;
    process.kill(victim, 'SIGKILL');
    await worker.done;
    const exit = exits.find((entry) => entry.pid === victim);
    assert.ok(exit !== undefined && exit.tasks.length > 0, 'the killed child had tasks');
    const seen = attempts(out);
    for (const id of exit.tasks) {
      const redone = seen.find((attempt) => attempt.id === id && attempt.pid !== victim);
      assert.ok(redone !== undefined, `task ${id} was processed again`);
      assert.ok(redone.at - exit.at < 2000, `task ${id} redone ${redone.at - exit.at} ms after`);
    }
    assert.deepEqual(new Set(seen.map((attempt) => attempt.id)), new Set(ids), 'none lost');
    assert.equal(await queue.qsize(), 0);
    assert.ok(worker.stats().released >= exit.tasks.length);
  });
});
