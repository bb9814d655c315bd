/** Contract: lease tokens and the v1beta2 fence: only the current lease may ack, extend or release. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { assertItemError, put, ref, take, text, values, type ContractSuite } from './harness.ts';

export function leaseTokenContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('lease tokens', () => {
    test(
      'a leased task carries a lease token, state leased, and eta at the end of its lease',
      async (ctx) => {
        const q = await ctx.queue();
        const [inserted] = await put(ctx, q, [{ text: 'x', tag: 't' }]);
        const [leased] = await take(ctx, q, { leaseSeconds: 30 });
        assert.ok(inserted && leased);
        assert.equal(leased.id, inserted.id);
        assert.equal(leased.state, 'leased');
        assert.equal(typeof leased.leaseToken, 'string');
        assert.ok(leased.leaseToken.length > 0);
        assert.equal(leased.eta, ctx.now() + 30_000);
        assert.equal(text(leased.payload), 'x');
        assert.equal(leased.tag, 't');
        assert.equal(leased.queue, q);
        assert.equal((await ctx.backend.get(q, inserted.id))?.state, 'leased');
      },
      { clock: true },
    );

    test('every lease hands out a different token', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }, { text: '3' }]);
      const leased = await take(ctx, q);
      assert.equal(new Set(leased.map((task) => task.leaseToken)).size, 3);
    });

    test('ack with the current lease token deletes the task', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      assert.deepEqual(await ctx.backend.ack(q, [ref(task)]), [{ ok: true, value: null }]);
      assert.equal(await ctx.backend.get(q, task.id), null);
      assert.deepEqual(await take(ctx, q), []);
    });

    test(
      'ack, extend and release with a stale token after the task was leased again fail with lease_lost',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [first] = await take(ctx, q, { leaseSeconds: 10 });
        ctx.clock.advance(10_000);
        const [second] = await take(ctx, q, { leaseSeconds: 10 });
        assert.ok(first && second);
        assert.notEqual(second.leaseToken, first.leaseToken);
        assertItemError((await ctx.backend.ack(q, [ref(first)]))[0], 'lease_lost');
        assertItemError((await ctx.backend.extend(q, [ref(first)], 60))[0], 'lease_lost');
        assertItemError((await ctx.backend.release(q, [{ ref: ref(first) }]))[0], 'lease_lost');
        // The stale attempts changed nothing: the current lease still holds.
        values(await ctx.backend.ack(q, [ref(second)]));
      },
      { clock: true },
    );

    test('a lease token stops working once the task is released', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.release(q, [{ ref: ref(task) }]));
      assertItemError((await ctx.backend.ack(q, [ref(task)]))[0], 'lease_lost');
      assertItemError((await ctx.backend.extend(q, [ref(task)], 60))[0], 'lease_lost');
      assertItemError((await ctx.backend.release(q, [{ ref: ref(task) }]))[0], 'lease_lost');
      assert.equal((await ctx.backend.get(q, task.id))?.state, 'ready');
    });

    test('acking an acked task again fails with task_not_found: the task is gone', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.ack(q, [ref(task)]));
      assertItemError((await ctx.backend.ack(q, [ref(task)]))[0], 'task_not_found');
      assertItemError((await ctx.backend.extend(q, [ref(task)], 60))[0], 'task_not_found');
      assertItemError((await ctx.backend.release(q, [{ ref: ref(task) }]))[0], 'task_not_found');
    });

    test('a lease token stops working once the task is deleted', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.delete(q, [task.id]));
      assertItemError((await ctx.backend.ack(q, [ref(task)]))[0], 'task_not_found');
    });

    test('a token the backend never handed out fails with lease_lost', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const forged = { id: task.id, token: `${task.leaseToken}x` };
      assertItemError((await ctx.backend.ack(q, [forged]))[0], 'lease_lost');
      assertItemError((await ctx.backend.ack(q, [{ id: task.id, token: '' }]))[0], 'lease_lost');
      values(await ctx.backend.ack(q, [ref(task)]));
    });

    test('ack, extend and release of a task that is not leased fail with lease_lost', async (ctx) => {
      const q = await ctx.queue();
      const [ready, delayed] = await put(ctx, q, [
        { text: 'ready' },
        { text: 'delayed', eta: ctx.now() + 3_600_000 },
      ]);
      assert.ok(ready && delayed);
      for (const id of [ready.id, delayed.id]) {
        const forged = { id, token: 'not-a-lease' };
        assertItemError((await ctx.backend.ack(q, [forged]))[0], 'lease_lost');
        assertItemError((await ctx.backend.extend(q, [forged], 60))[0], 'lease_lost');
        assertItemError((await ctx.backend.release(q, [{ ref: forged }]))[0], 'lease_lost');
      }
      assert.equal((await ctx.backend.stats(q)).ready, 1);
    });

    test('ack, extend and release of an unknown task fail with task_not_found', async (ctx) => {
      const q = await ctx.queue();
      const missing = { id: 'no-such-task', token: 'whatever' };
      assertItemError((await ctx.backend.ack(q, [missing]))[0], 'task_not_found');
      assertItemError((await ctx.backend.extend(q, [missing], 60))[0], 'task_not_found');
      assertItemError((await ctx.backend.release(q, [{ ref: missing }]))[0], 'task_not_found');
    });

    test('a batch ack answers each item in order: a bad item fails alone', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }]);
      const [one, two] = await take(ctx, q);
      assert.ok(one && two);
      const results = await ctx.backend.ack(q, [
        ref(one),
        { id: two.id, token: 'stale' },
        { id: 'missing', token: 'x' },
        ref(two),
      ]);
      assert.equal(results.length, 4);
      assert.deepEqual(results[0], { ok: true, value: null });
      assertItemError(results[1], 'lease_lost');
      assertItemError(results[2], 'task_not_found');
      assert.deepEqual(results[3], { ok: true, value: null });
      assert.equal((await ctx.backend.stats(q)).leased, 0);
    });

    test(
      'a lease token stays valid after its lease runs out, until the task is leased again',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q, { leaseSeconds: 10 });
        assert.ok(task);
        ctx.clock.advance(15_000);
        const [extended] = values(await ctx.backend.extend(q, [ref(task)], 30));
        assert.equal(extended?.eta, ctx.now() + 30_000);
        values(await ctx.backend.ack(q, [ref(task)]));
        assert.equal(await ctx.backend.get(q, task.id), null);
      },
      { clock: true },
    );

    test('the v1beta2 fence { id, leaseExpiresAt } matches the running lease', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }]);
      const [one, two] = await take(ctx, q);
      assert.ok(one && two);
      const [extended] = values(
        await ctx.backend.extend(q, [{ id: one.id, leaseExpiresAt: one.eta }], 120),
      );
      assert.ok(extended);
      assert.notEqual(extended.eta, one.eta);
      // The fence follows the lease end: the old time no longer names the lease.
      assertItemError(
        (await ctx.backend.ack(q, [{ id: one.id, leaseExpiresAt: one.eta }]))[0],
        'lease_lost',
      );
      values(await ctx.backend.ack(q, [{ id: one.id, leaseExpiresAt: extended.eta }]));
      values(await ctx.backend.release(q, [{ ref: { id: two.id, leaseExpiresAt: two.eta } }]));
      assert.equal((await ctx.backend.get(q, two.id))?.state, 'ready');
    });

    test('the v1beta2 fence with another time fails with lease_lost', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const wrong = { id: task.id, leaseExpiresAt: task.eta + 1 };
      assertItemError((await ctx.backend.ack(q, [wrong]))[0], 'lease_lost');
      assertItemError((await ctx.backend.extend(q, [wrong], 60))[0], 'lease_lost');
      assertItemError((await ctx.backend.release(q, [{ ref: wrong }]))[0], 'lease_lost');
    });

    test(
      'the v1beta2 fence fails with lease_lost once the lease has run out',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        const [task] = await take(ctx, q, { leaseSeconds: 10 });
        assert.ok(task);
        const fence = { id: task.id, leaseExpiresAt: task.eta };
        ctx.clock.advance(9_999);
        values(await ctx.backend.extend(q, [fence], 10));
        const renewed = { id: task.id, leaseExpiresAt: ctx.now() + 10_000 };
        ctx.clock.advance(10_000);
        assertItemError((await ctx.backend.ack(q, [renewed]))[0], 'lease_lost');
        assertItemError((await ctx.backend.extend(q, [renewed], 10))[0], 'lease_lost');
        assertItemError((await ctx.backend.release(q, [{ ref: renewed }]))[0], 'lease_lost');
        // Nobody leased it again: the native token still names the lease.
        values(await ctx.backend.ack(q, [ref(task)]));
      },
      { clock: true },
    );
  });
}
