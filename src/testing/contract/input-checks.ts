/** Contract: every limit of the protocol is refused the same way, before anything changes. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { LeaseRef, NewTask } from '../../backends/backend.ts';
import { newTask, put, ref, rejectsWith, take, type ContractSuite } from './harness.ts';

const DAY_S = 24 * 3600;

export function inputCheckContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('input checks', () => {
    test('lease max outside 1..1000 fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      for (const max of [0, -1, 1001, 1.5, Number.NaN]) {
        await rejectsWith(
          () => ctx.backend.lease(q, { max, leaseSeconds: 60 }),
          'invalid_argument',
        );
      }
      assert.deepEqual(await ctx.backend.lease(q, { max: 1000, leaseSeconds: 60 }), []);
    });

    test('leaseSeconds outside 0..604800 fails with invalid_argument, on lease and on extend', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      for (const leaseSeconds of [-1, 604801, Number.NaN, Number.POSITIVE_INFINITY]) {
        await rejectsWith(() => ctx.backend.lease(q, { max: 1, leaseSeconds }), 'invalid_argument');
      }
      const [task] = await take(ctx, q, { leaseSeconds: 604800 });
      assert.ok(task);
      for (const leaseSeconds of [-1, 604801, Number.NaN]) {
        await rejectsWith(
          () => ctx.backend.extend(q, [ref(task)], leaseSeconds),
          'invalid_argument',
        );
      }
      const [extended] = await ctx.backend.extend(q, [ref(task)], 0);
      assert.equal(extended?.ok, true);
    });

    test('waitSeconds outside 0..60 fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      for (const waitSeconds of [-1, 61]) {
        await rejectsWith(
          () => ctx.backend.lease(q, { max: 1, leaseSeconds: 60, waitSeconds }),
          'invalid_argument',
        );
      }
    });

    test('queue names must be 1 to 100 of a-z, A-Z, 0-9 and -', async (ctx) => {
      for (const name of ['', 'a b', 'a_b', 'a.b', 'é', 'x'.repeat(101)]) {
        await rejectsWith(() => ctx.backend.createQueue(name), 'invalid_argument');
        await rejectsWith(
          () => ctx.backend.insert(name, [newTask({})], { createQueue: true }),
          'invalid_argument',
        );
        await rejectsWith(
          () => ctx.backend.lease(name, { max: 1, leaseSeconds: 1 }),
          'invalid_argument',
        );
        await rejectsWith(() => ctx.backend.stats(name), 'invalid_argument');
      }
      const longest = `${ctx.name()}-`.padEnd(100, 'Zz09-');
      assert.equal((await ctx.backend.createQueue(longest)).name, longest);
    });

    test('task ids must be 1 to 500 of a-z, A-Z, 0-9, _ and -', async (ctx) => {
      const q = await ctx.queue();
      for (const id of ['', 'a b', 'a.b', 'a/b', 'é', 'x'.repeat(501)]) {
        await rejectsWith(() => ctx.backend.insert(q, [newTask({ id })]), 'invalid_argument');
        await rejectsWith(() => ctx.backend.delete(q, [id]), 'invalid_argument');
        await rejectsWith(() => ctx.backend.ack(q, [{ id, token: 't' }]), 'invalid_argument');
      }
      const longest = 'Az09_-'.repeat(100).slice(0, 500);
      const [task] = await put(ctx, q, [{ id: longest }]);
      assert.equal(task?.id, longest);
    });

    test('a tag over 500 bytes fails with invalid_argument on insert, lease and list', async (ctx) => {
      const q = await ctx.queue();
      const tag = 'x'.repeat(501);
      await rejectsWith(() => ctx.backend.insert(q, [newTask({ tag })]), 'invalid_argument');
      await rejectsWith(
        () => ctx.backend.lease(q, { max: 1, leaseSeconds: 1, tag }),
        'invalid_argument',
      );
      await rejectsWith(() => ctx.backend.list(q, { limit: 10, tag }), 'invalid_argument');
    });

    test('a payload over 1 MiB fails with payload_too_large and inserts nothing', async (ctx) => {
      const q = await ctx.queue();
      await rejectsWith(
        () =>
          ctx.backend.insert(q, [
            newTask({ text: 'small' }),
            { payload: new Uint8Array(1024 * 1024 + 1) },
          ]),
        'payload_too_large',
      );
      assert.deepEqual((await ctx.backend.list(q, { limit: 10 })).tasks, []);
    });

    test('an ETA that is not a time in milliseconds fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      for (const eta of [-1, 1.5, Number.NaN]) {
        await rejectsWith(() => ctx.backend.insert(q, [newTask({ eta })]), 'invalid_argument');
      }
    });

    test('one invalid task fails the whole insert and inserts nothing', async (ctx) => {
      const q = await ctx.queue();
      await rejectsWith(
        () =>
          ctx.backend.insert(q, [
            newTask({ id: 'good', text: 'ok' }),
            newTask({ id: 'bad id', text: 'no' }),
          ]),
        'invalid_argument',
      );
      assert.equal(await ctx.backend.get(q, 'good'), null);
      await put(ctx, q, [{ id: 'good' }]);
    });

    test('empty batches fail with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      await rejectsWith(() => ctx.backend.insert(q, []), 'invalid_argument');
      await rejectsWith(() => ctx.backend.ack(q, []), 'invalid_argument');
      await rejectsWith(() => ctx.backend.extend(q, [], 60), 'invalid_argument');
      await rejectsWith(() => ctx.backend.release(q, []), 'invalid_argument');
      await rejectsWith(() => ctx.backend.delete(q, []), 'invalid_argument');
    });

    test('batches over 1000 items fail with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      const tasks: NewTask[] = Array.from({ length: 1001 }, () => newTask({}));
      const refs: LeaseRef[] = Array.from({ length: 1001 }, (_, i) => ({
        id: `t${i}`,
        token: 'x',
      }));
      await rejectsWith(() => ctx.backend.insert(q, tasks), 'invalid_argument');
      await rejectsWith(() => ctx.backend.ack(q, refs), 'invalid_argument');
      await rejectsWith(() => ctx.backend.extend(q, refs, 60), 'invalid_argument');
      await rejectsWith(
        () =>
          ctx.backend.release(
            q,
            refs.map((item) => ({ ref: item })),
          ),
        'invalid_argument',
      );
      await rejectsWith(
        () =>
          ctx.backend.delete(
            q,
            refs.map((item) => item.id),
          ),
        'invalid_argument',
      );
      assert.equal((await ctx.backend.stats(q)).ready, 0);
    });

    test('release delaySeconds outside 0..30 days fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      for (const delaySeconds of [-1, 30 * DAY_S + 1, Number.NaN]) {
        await rejectsWith(
          () => ctx.backend.release(q, [{ ref: ref(task), delaySeconds }]),
          'invalid_argument',
        );
      }
      assert.equal((await ctx.backend.get(q, task.id))?.state, 'leased', 'nothing was released');
    });

    test('list limit outside 1..1000 fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      for (const limit of [0, 1001, 2.5]) {
        await rejectsWith(() => ctx.backend.list(q, { limit }), 'invalid_argument');
      }
      assert.deepEqual((await ctx.backend.list(q, { limit: 1000 })).tasks, []);
    });
  });
}
