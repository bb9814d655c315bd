/**
 * What the worker survives: a handler that blocks its child's event loop for three lease
 * lengths (the supervisor renews the lease), and children killed with SIGKILL mid-task under a
 * deep backlog (their tasks, still leased, go to the front of the buffer and run again at once,
 * long before a 60 s lease would run out).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Worker } from '../../src/worker/worker.ts';
import { RECORD_HANDLER, attempts, until, workerSuite } from './harness.ts';

const CRASH_SELF_HANDLER = fileURLToPath(new URL('./fixtures/crash-self.ts', import.meta.url));
const START_END_HANDLER = fileURLToPath(new URL('./fixtures/start-end.ts', import.meta.url));

describe('worker resilience', () => {
  const suite = workerSuite();

  it('a handler blocking its event loop for 3x the lease completes exactly once: its lease was renewed', async () => {
    const connection = suite.harness.connection();
    const out = join(suite.harness.dir, 'blocked.log');
    const id = await connection.simpleQueue('blocked').put({ out, blockMs: 6000 });
    const worker = suite.track(
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

  it(
    'a task that kills every child running it is redelivered twice, then released with the crash note and dead-lettered by maxLeases',
    { timeout: 30_000 },
    async () => {
      const connection = suite.harness.connection();
      const out = join(suite.harness.dir, 'poison.log');
      await connection.ensure(async (backend) => backend.createQueue('poison', { maxLeases: 1 }));
      const id = await connection.simpleQueue('poison').put({ out });
      const worker = suite.track(
        new Worker({
          connection,
          queue: 'poison',
          handler: CRASH_SELF_HANDLER,
          processes: 1,
          concurrency: 1,
          leaseSeconds: 60,
          once: true,
          logLevel: 'silent',
        }),
      );
      await worker.start();
      await worker.done;
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.deepEqual(
        lines.map((line) => line.split(' ').slice(0, 2).join(' ')),
        [`${id} 1`, `${id} 1`, `${id} 1`],
        'three children ran it, each as attempt 1: the server counted one lease',
      );
      assert.equal(new Set(lines.map((line) => line.split(' ')[2])).size, 3);
      assert.equal(worker.stats().redelivered, 2);
      assert.equal(worker.stats().released, 1);
      // `once` lets the release land and leases again: that lease would be the second attempt,
      // which maxLeases 1 does not allow, so the task went dead instead.
      const leased = await connection.ensure(async (backend) =>
        backend.lease('poison', { max: 1, leaseSeconds: 60 }),
      );
      assert.deepEqual(leased, []);
      const task = await connection.ensure(async (backend) => backend.get('poison', id));
      assert.equal(task?.state, 'dead');
      assert.equal(task.attempts, 1);
      assert.match(task.lastError ?? '', /worker process \d+ died \(SIGKILL\)/);
    },
  );

  it('10,000 tasks with a child SIGKILLed every second: none is lost and every task in flight in a killed child runs again within 2 s', async (t) => {
    const connection = suite.harness.connection();
    const out = join(suite.harness.dir, 'crash.log');
    const queue = connection.simpleQueue('crash');
    const total = 10_000;
    const results = await queue.putMany(
      Array.from({ length: total }, () => ({ body: { out, sleepMs: 20 } })),
    );
    const ids = results.map((result) => (result.ok ? result.id : ''));
    const worker = suite.track(
      new Worker({
        connection,
        queue: 'crash',
        handler: START_END_HANDLER,
        processes: 2,
        concurrency: 20,
        // A 60 s lease: a task redone within 2 s was not waiting for its lease to run out.
        leaseSeconds: 60,
        once: true,
        logLevel: 'silent',
      }),
    );
    const exits = new Map<number, string[]>();
    worker.on('child-exit', ({ pid, tasks }) => exits.set(pid, tasks));
    await worker.start();
    await until(() => worker.stats().inFlight >= 30, 10_000, 'tasks in flight');
    const kills: { pid: number; at: number }[] = [];
    let finished = false;
    void worker.done.then(() => (finished = true));
    // A kill every second for as long as the run lasts.
    while (!finished) {
      // The busiest child, so each kill interrupts as many tasks as it can.
      const [victim] = worker
        .stats()
        .pids.map((pid) => ({ pid, running: runningIn(out, pid) }))
        .filter((child) => child.running > 0)
        .sort((a, b) => b.running - a.running);
      if (victim !== undefined && worker.stats().processed < total) {
        kills.push({ pid: victim.pid, at: Date.now() });
        process.kill(victim.pid, 'SIGKILL');
      }
      await Promise.race([worker.done, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    assert.ok(kills.length >= 3, `${kills.length} kills: the run outlasted a few seconds`);
    await worker.done;

    const lines = runs(out);
    let interrupted = 0;
    let killsThatInterrupted = 0;
    for (const kill of kills) {
      // In flight: started in the victim and not ended there, or sent to it and not begun.
      const started = lines.filter((line) => line.pid === kill.pid && line.kind === 'start');
      const ended = new Set(
        lines.filter((line) => line.pid === kill.pid && line.kind === 'end').map((l) => l.id),
      );
      const inFlight = new Set(started.filter((line) => !ended.has(line.id)).map((l) => l.id));
      for (const id of exits.get(kill.pid) ?? []) inFlight.add(id);
      // The victim is picked from the log, which can be a few tasks of 20 ms behind: near the
      // end of the run it may have finished all it had by the time the kill lands.
      if (inFlight.size > 0) killsThatInterrupted += 1;
      interrupted += inFlight.size;
      for (const id of inFlight) {
        const again = lines.find(
          (line) => line.id === id && line.kind === 'start' && line.at >= kill.at,
        );
        assert.ok(again !== undefined, `task ${id} of child ${kill.pid} ran again`);
        assert.ok(again.at - kill.at < 2000, `task ${id} ran again ${again.at - kill.at} ms after`);
      }
    }
    assert.ok(killsThatInterrupted >= 3, `${killsThatInterrupted} kills caught tasks in flight`);
    const ends = new Map<string, number>();
    for (const line of lines) {
      if (line.kind === 'end') ends.set(line.id, (ends.get(line.id) ?? 0) + 1);
    }
    assert.deepEqual(new Set(ends.keys()), new Set(ids), 'every task processed, none lost');
    const stats = await connection.ensure(async (backend) => backend.stats('crash'));
    assert.deepEqual([stats.ready, stats.delayed, stats.leased, stats.dead], [0, 0, 0, 0]);
    const duplicates = [...ends.values()].reduce((sum, count) => sum + count - 1, 0);
    t.diagnostic(
      `${kills.length} kills (${killsThatInterrupted} with tasks in flight), ${interrupted} tasks interrupted, ${worker.stats().redelivered} ` +
        `redelivered, ${duplicates} processed twice`,
    );
    assert.ok(worker.stats().redelivered >= interrupted - duplicates);
  });
});

interface Run {
  kind: 'start' | 'end';
  id: string;
  pid: number;
  at: number;
}

/** The lines the start-end fixture wrote. */
function runs(file: string): Run[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [kind, id, pid, at] = line.split(' ');
      return {
        kind: kind === 'end' ? 'end' : 'start',
        id: id ?? '',
        pid: Number(pid),
        at: Number(at),
      };
    });
}

/** Tasks the child started and has not ended. */
function runningIn(file: string, pid: number): number {
  let running = 0;
  for (const line of runs(file)) {
    if (line.pid === pid) running += line.kind === 'start' ? 1 : -1;
  }
  return running;
}
