/**
 * Contract: long-poll leases and close. Waiting uses real timers in every backend, so these
 * tests measure real time, with generous bounds; the manual clock only decides which tasks
 * are due.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  newTask,
  put,
  ref,
  rejectsWith,
  sleep,
  take,
  texts,
  values,
  type ContractSuite,
} from './harness.ts';

export function longPollContract(suite: ContractSuite): void {
  const test = suite.test;
  const within = suite.options.wakeupWithinMs;
  const longPoll = { capability: 'longPoll' } as const;

  describe('long-poll', () => {
    test(
      'a waiting lease returns soon after a task is inserted',
      async (ctx) => {
        const q = await ctx.queue();
        const pending = take(ctx, q, { waitSeconds: 10 });
        await sleep(100);
        const insertedAt = performance.now();
        await put(ctx, q, [{ text: 'arrived' }]);
        const tasks = await pending;
        const tookMs = performance.now() - insertedAt;
        assert.deepEqual(texts(tasks), ['arrived']);
        assert.ok(tookMs < within, `returned ${Math.round(tookMs)} ms after the insert`);
      },
      longPoll,
    );

    test(
      'a waiting lease on an empty queue returns empty once the wait ends',
      async (ctx) => {
        const q = await ctx.queue();
        const started = performance.now();
        const tasks = await take(ctx, q, { waitSeconds: 0.3 });
        const tookMs = performance.now() - started;
        assert.deepEqual(tasks, []);
        assert.ok(tookMs >= 250, `returned after ${Math.round(tookMs)} ms, before the wait ended`);
        assert.ok(tookMs < 300 + within, `returned after ${Math.round(tookMs)} ms`);
      },
      longPoll,
    );

    test('a lease without waitSeconds returns at once on an empty queue', async (ctx) => {
      const q = await ctx.queue();
      const started = performance.now();
      assert.deepEqual(await take(ctx, q), []);
      assert.ok(performance.now() - started < within);
    });

    test(
      'an AbortSignal ends a waiting lease early, with no tasks',
      async (ctx) => {
        const q = await ctx.queue();
        const controller = new AbortController();
        const started = performance.now();
        const pending = take(ctx, q, { waitSeconds: 30, signal: controller.signal });
        await sleep(100);
        controller.abort();
        assert.deepEqual(await pending, []);
        assert.ok(performance.now() - started < 100 + within);
        // The aborted lease took nothing: a task inserted now is still there.
        await put(ctx, q, [{ text: 'later' }]);
        assert.deepEqual(texts(await take(ctx, q)), ['later']);
      },
      longPoll,
    );

    test(
      'a lease with an already aborted signal does not wait',
      async (ctx) => {
        const q = await ctx.queue();
        const started = performance.now();
        const tasks = await take(ctx, q, { waitSeconds: 30, signal: AbortSignal.abort() });
        assert.deepEqual(tasks, []);
        assert.ok(performance.now() - started < within);
      },
      longPoll,
    );

    test(
      'a waiting lease returns soon after a task is released',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q);
        assert.ok(task);
        const pending = take(ctx, q, { waitSeconds: 10 });
        await sleep(100);
        const releasedAt = performance.now();
        values(await ctx.backend.release(q, [{ ref: ref(task) }]));
        assert.deepEqual(texts(await pending), ['x']);
        assert.ok(performance.now() - releasedAt < within);
      },
      longPoll,
    );

    test(
      'a waiting lease picks up a task once its ETA passes',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'due soon', eta: ctx.now() + 10_000 }]);
        const pending = take(ctx, q, { waitSeconds: 10 });
        await sleep(100);
        const dueAt = performance.now();
        ctx.clock.advance(10_000);
        assert.deepEqual(texts(await pending), ['due soon']);
        assert.ok(performance.now() - dueAt < within);
      },
      { clock: true, capability: 'longPoll' },
    );

    test(
      'a waiting lease picks up a task whose lease runs out',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        await take(ctx, q, { leaseSeconds: 30 });
        const pending = take(ctx, q, { waitSeconds: 10 });
        await sleep(100);
        ctx.clock.advance(30_000);
        const [again] = await pending;
        assert.equal(again?.attempts, 2);
      },
      { clock: true, capability: 'longPoll' },
    );

    test(
      'resuming a paused queue wakes a waiting lease',
      async (ctx) => {
        const q = await ctx.queue({ paused: true });
        await put(ctx, q, [{ text: 'held' }]);
        const pending = take(ctx, q, { waitSeconds: 10 });
        await sleep(100);
        const resumedAt = performance.now();
        await ctx.backend.updateQueue(q, { paused: false });
        assert.deepEqual(texts(await pending), ['held']);
        assert.ok(performance.now() - resumedAt < within);
      },
      longPoll,
    );

    test(
      'two waiting leases never get the same task',
      async (ctx) => {
        const q = await ctx.queue();
        const first = take(ctx, q, { waitSeconds: 0.5 });
        const second = take(ctx, q, { waitSeconds: 0.5 });
        await sleep(100);
        await put(ctx, q, [{ text: 'only one' }]);
        const results = await Promise.all([first, second]);
        assert.deepEqual(
          results.flat().map((task) => task.attempts),
          [1],
        );
      },
      longPoll,
    );

    test(
      'a waiting lease with a tag keeps waiting through tasks of other tags',
      async (ctx) => {
        const q = await ctx.queue();
        const pending = take(ctx, q, { waitSeconds: 10, tag: 'mine' });
        await sleep(100);
        await put(ctx, q, [{ text: 'theirs', tag: 'other' }]);
        await sleep(300);
        await put(ctx, q, [{ text: 'mine', tag: 'mine' }]);
        assert.deepEqual(texts(await pending), ['mine']);
        assert.equal((await ctx.backend.stats(q)).ready, 1);
      },
      longPoll,
    );
  });

  describe('close', () => {
    test('after close every verb fails with unavailable', async (ctx) => {
      const q = await ctx.queue();
      await ctx.close();
      const ref1 = { id: 'a', token: 't' };
      const calls: [string, () => Promise<unknown>][] = [
        ['insert', () => ctx.backend.insert(q, [newTask({})], { createQueue: true })],
        ['lease', () => ctx.backend.lease(q, { max: 1, leaseSeconds: 60 })],
        ['ack', () => ctx.backend.ack(q, [ref1])],
        ['extend', () => ctx.backend.extend(q, [ref1], 60)],
        ['release', () => ctx.backend.release(q, [{ ref: ref1 }])],
        ['delete', () => ctx.backend.delete(q, ['a'])],
        ['get', () => ctx.backend.get(q, 'a')],
        ['list', () => ctx.backend.list(q, { limit: 10 })],
        ['stats', () => ctx.backend.stats(q)],
        ['redrive', () => ctx.backend.redrive(q)],
        ['createQueue', () => ctx.backend.createQueue(ctx.name())],
        ['getQueue', () => ctx.backend.getQueue(q)],
        ['updateQueue', () => ctx.backend.updateQueue(q, { paused: true })],
        ['deleteQueue', () => ctx.backend.deleteQueue(q)],
        ['listQueues', () => ctx.backend.listQueues()],
        ['purgeQueue', () => ctx.backend.purgeQueue(q)],
      ];
      for (const [verb, call] of calls) {
        await rejectsWith(call, 'unavailable').catch((error: unknown) => {
          throw new Error(`${verb}: ${String(error)}`, { cause: error });
        });
      }
    });

    test(
      'close ends a waiting lease promptly',
      async (ctx) => {
        const q = await ctx.queue();
        const started = performance.now();
        const pending = take(ctx, q, { waitSeconds: 30 }).then(
          (tasks) => ({ tasks }),
          (error: unknown) => ({ code: (error as { code?: unknown }).code }),
        );
        await sleep(100);
        await ctx.close();
        const outcome = await pending;
        assert.ok(
          'tasks' in outcome ? outcome.tasks.length === 0 : outcome.code === 'unavailable',
          `a waiting lease ends with no tasks or unavailable, got ${JSON.stringify(outcome)}`,
        );
        assert.ok(performance.now() - started < 100 + within);
      },
      longPoll,
    );
  });
}
