/** Contract: lease order, attempts, expiry, extend and release. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ids, put, ref, take, text, texts, values, type ContractSuite } from './harness.ts';

export function leaseContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('lease order', () => {
    test('lease returns tasks by ETA ascending, then insertion order', async (ctx) => {
      const q = await ctx.queue();
      const now = ctx.now();
      await put(ctx, q, [
        { text: 'a', eta: now - 1000 },
        { text: 'b', eta: now - 3000 },
        { text: 'c', eta: now - 3000 },
        { text: 'd' },
        { text: 'e', eta: now - 2000 },
      ]);
      assert.deepEqual(texts(await take(ctx, q)), ['b', 'c', 'e', 'a', 'd']);
    });

    test('lease returns at most max tasks, the first ones in lease order', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }, { text: '3' }]);
      assert.deepEqual(texts(await take(ctx, q, { max: 2 })), ['1', '2']);
      assert.deepEqual(texts(await take(ctx, q, { max: 2 })), ['3']);
    });

    test('a leased task is not leased again while its lease runs', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'only' }]);
      assert.equal((await take(ctx, q)).length, 1);
      assert.deepEqual(await take(ctx, q), []);
    });

    test('lease on an empty queue returns no tasks', async (ctx) => {
      const q = await ctx.queue();
      assert.deepEqual(await take(ctx, q), []);
    });

    test(
      'a task with a future ETA is not leased until the ETA passes',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'later', eta: ctx.now() + 10_000 }, { text: 'now' }]);
        assert.deepEqual(texts(await take(ctx, q)), ['now']);
        ctx.clock.advance(9_999);
        assert.deepEqual(await take(ctx, q), []);
        ctx.clock.advance(1);
        assert.deepEqual(texts(await take(ctx, q)), ['later']);
      },
      { clock: true },
    );
  });

  describe('attempts', () => {
    test('a new task has attempts 0 and the first lease gives attempts 1', async (ctx) => {
      const q = await ctx.queue();
      const [inserted] = await put(ctx, q, [{ text: 'x' }]);
      assert.equal(inserted?.attempts, 0);
      const [leased] = await take(ctx, q);
      assert.equal(leased?.attempts, 1);
      assert.equal((await ctx.backend.get(q, leased.id))?.attempts, 1);
    });

    test('each lease adds an attempt and release does not count one', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [task] = await take(ctx, q);
        assert.equal(task?.attempts, attempt);
        const [released] = values(await ctx.backend.release(q, [{ ref: ref(task) }]));
        assert.equal(released?.attempts, attempt);
        assert.equal((await ctx.backend.get(q, task.id))?.attempts, attempt);
      }
    });

    test(
      'a lease that runs out counts no attempt until the task is leased again',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [first] = await take(ctx, q, { leaseSeconds: 5 });
        ctx.clock.advance(60_000);
        assert.equal((await ctx.backend.get(q, first?.id ?? ''))?.attempts, 1);
        const [second] = await take(ctx, q);
        assert.equal(second?.attempts, 2);
      },
      { clock: true },
    );
  });

  describe('lease expiry', () => {
    test(
      'a lease that runs out makes the task leasable again',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [first] = await take(ctx, q, { leaseSeconds: 30 });
        ctx.clock.advance(29_999);
        assert.deepEqual(await take(ctx, q), []);
        ctx.clock.advance(1);
        const [again] = await take(ctx, q);
        assert.equal(again?.id, first?.id);
      },
      { clock: true },
    );

    test(
      'a lease that runs out changes nothing else: state ready, same id, payload, tag and attempts',
      async (ctx) => {
        const q = await ctx.queue();
        const [inserted] = await put(ctx, q, [{ text: 'x', tag: 'red' }]);
        assert.ok(inserted);
        await take(ctx, q, { leaseSeconds: 30 });
        assert.equal((await ctx.backend.get(q, inserted.id))?.state, 'leased');
        ctx.clock.advance(30_000);
        const task = await ctx.backend.get(q, inserted.id);
        assert.ok(task);
        assert.equal(task.state, 'ready');
        assert.equal(text(task.payload), 'x');
        assert.equal(task.tag, 'red');
        assert.equal(task.attempts, 1);
        assert.equal(task.lastError, null);
        assert.equal(task.enqueuedAt, inserted.enqueuedAt);
        assert.equal((await ctx.backend.stats(q)).ready, 1);
      },
      { clock: true },
    );

    test(
      'a lease of 0 seconds leaves the task leasable at once',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [first] = await take(ctx, q, { leaseSeconds: 0 });
        const [second] = await take(ctx, q, { leaseSeconds: 0 });
        assert.equal(second?.id, first?.id);
        assert.equal(second?.attempts, 2);
      },
      { clock: true },
    );
  });

  describe('extend', () => {
    test(
      'extend keeps a task from redelivery past its original expiry',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q, { leaseSeconds: 30 });
        assert.ok(task);
        ctx.clock.advance(20_000);
        const [extended] = values(await ctx.backend.extend(q, [ref(task)], 60));
        assert.equal(extended?.eta, ctx.now() + 60_000);
        assert.equal(extended.state, 'leased');
        ctx.clock.advance(59_999);
        assert.deepEqual(await take(ctx, q), []);
        ctx.clock.advance(1);
        assert.deepEqual(ids(await take(ctx, q)), [task.id]);
      },
      { clock: true },
    );

    test('extend keeps the lease token', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.extend(q, [ref(task)], 120));
      values(await ctx.backend.extend(q, [ref(task)], 240));
      values(await ctx.backend.ack(q, [ref(task)]));
    });

    test('extend does not count an attempt', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const [extended] = values(await ctx.backend.extend(q, [ref(task)], 120));
      assert.equal(extended?.attempts, 1);
    });

    test(
      'extend can shorten a lease',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q, { leaseSeconds: 600 });
        assert.ok(task);
        values(await ctx.backend.extend(q, [ref(task)], 5));
        ctx.clock.advance(5_000);
        assert.deepEqual(ids(await take(ctx, q)), [task.id]);
      },
      { clock: true },
    );
  });

  describe('release', () => {
    test('release without a delay makes the task ready and leasable at once', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const [released] = values(await ctx.backend.release(q, [{ ref: ref(task) }]));
      assert.equal(released?.state, 'ready');
      assert.equal(released.id, task.id);
      const [again] = await take(ctx, q);
      assert.equal(again?.id, task.id);
      assert.equal(text(again.payload), 'x');
    });

    test(
      'release with a delay keeps the task delayed until the delay passes',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q);
        assert.ok(task);
        const [released] = values(
          await ctx.backend.release(q, [{ ref: ref(task), delaySeconds: 30 }]),
        );
        assert.equal(released?.state, 'delayed');
        assert.equal(released.eta, ctx.now() + 30_000);
        assert.equal((await ctx.backend.stats(q)).delayed, 1);
        ctx.clock.advance(29_999);
        assert.deepEqual(await take(ctx, q), []);
        ctx.clock.advance(1);
        assert.equal((await ctx.backend.get(q, task.id))?.state, 'ready');
        assert.deepEqual(ids(await take(ctx, q)), [task.id]);
      },
      { clock: true },
    );

    test('release with an error note keeps it as lastError', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const [released] = values(
        await ctx.backend.release(q, [{ ref: ref(task), error: 'TypeError: boom' }]),
      );
      assert.equal(released?.lastError, 'TypeError: boom');
      assert.equal((await ctx.backend.get(q, task.id))?.lastError, 'TypeError: boom');
      const [again] = await take(ctx, q);
      assert.equal(again?.lastError, 'TypeError: boom');
    });

    test('an error note longer than 4 KiB is cut to 4 KiB on a character boundary', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }]);
      const [one, two] = await take(ctx, q);
      assert.ok(one && two);
      const [cutAscii, cutWide] = values(
        await ctx.backend.release(q, [
          { ref: ref(one), error: 'x'.repeat(5000) },
          // 3 bytes each: 4096 is not a multiple of 3, so a naive cut would split one.
          { ref: ref(two), error: '€'.repeat(2000) },
        ]),
      );
      assert.equal(cutAscii?.lastError, 'x'.repeat(4096));
      assert.equal(cutWide?.lastError, '€'.repeat(1365));
    });
  });
}
