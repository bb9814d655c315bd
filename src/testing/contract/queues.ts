/** Contract: queue admin (create, get, update, delete, list, purge), pause, unknown queues. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { DEFAULT_QUEUE_CONFIG } from '../../backends/backend.ts';
import {
  newTask,
  put,
  ref,
  rejectsWith,
  take,
  texts,
  values,
  type ContractSuite,
} from './harness.ts';

export function queueContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('queue admin', () => {
    test(
      'createQueue returns the queue with the default settings',
      async (ctx) => {
        const name = ctx.name();
        const created = await ctx.backend.createQueue(name);
        assert.deepEqual(created, { ...DEFAULT_QUEUE_CONFIG, name, createdAt: ctx.now() });
        assert.deepEqual(created, {
          name,
          createdAt: ctx.now(),
          maxLeases: null,
          deadLetterQueue: null,
          dedupWindowSeconds: 604800,
          paused: false,
        });
        assert.deepEqual(await ctx.backend.getQueue(name), created);
      },
      { clock: true },
    );

    test('createQueue keeps the settings given', async (ctx) => {
      const name = ctx.name();
      const dlq = ctx.name();
      const config = { maxLeases: 3, deadLetterQueue: dlq, dedupWindowSeconds: 60, paused: true };
      const created = await ctx.backend.createQueue(name, config);
      assert.deepEqual({ ...created, createdAt: 0 }, { name, createdAt: 0, ...config });
      assert.deepEqual(await ctx.backend.getQueue(name), created);
    });

    test('creating a queue twice fails with already_exists', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 2 });
      await rejectsWith(() => ctx.backend.createQueue(q), 'already_exists');
      assert.equal((await ctx.backend.getQueue(q))?.maxLeases, 2);
    });

    test('getQueue of an unknown queue returns null', async (ctx) => {
      assert.equal(await ctx.backend.getQueue(ctx.name()), null);
    });

    test('updateQueue changes only the settings given', async (ctx) => {
      const dlq = ctx.name();
      const q = await ctx.queue({ maxLeases: 3, deadLetterQueue: dlq });
      const before = await ctx.backend.getQueue(q);
      const updated = await ctx.backend.updateQueue(q, { dedupWindowSeconds: 10 });
      assert.deepEqual(updated, { ...before, dedupWindowSeconds: 10 });
      assert.deepEqual(await ctx.backend.getQueue(q), updated);
    });

    test('updateQueue with null clears maxLeases and deadLetterQueue', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 3, deadLetterQueue: ctx.name() });
      const updated = await ctx.backend.updateQueue(q, { maxLeases: null, deadLetterQueue: null });
      assert.equal(updated.maxLeases, null);
      assert.equal(updated.deadLetterQueue, null);
      assert.equal((await ctx.backend.getQueue(q))?.maxLeases, null);
    });

    test('deleteQueue removes the queue and every task in it', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'kept-name' }, { text: 'b' }]);
      await take(ctx, q, { max: 1 });
      await ctx.backend.deleteQueue(q);
      assert.equal(await ctx.backend.getQueue(q), null);
      await rejectsWith(() => ctx.backend.stats(q), 'queue_not_found');
      await ctx.backend.createQueue(q);
      assert.deepEqual((await ctx.backend.list(q, { limit: 10 })).tasks, []);
    });

    test('listQueues lists the queues by name', async (ctx) => {
      const base = ctx.name();
      for (const suffix of ['b', 'c', 'a']) await ctx.backend.createQueue(`${base}-${suffix}`);
      const mine = (await ctx.backend.listQueues()).filter((queue) =>
        queue.name.startsWith(`${base}-`),
      );
      assert.deepEqual(
        mine.map((queue) => queue.name),
        ['a', 'b', 'c'].map((suffix) => `${base}-${suffix}`),
      );
      assert.equal(mine[0]?.dedupWindowSeconds, 604800);
    });

    test('purgeQueue deletes every task in any state and returns how many', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [
        { text: 'dead' },
        { text: 'leased' },
        { text: 'ready' },
        { text: 'delayed', eta: ctx.now() + 3_600_000 },
      ]);
      const [dead] = await take(ctx, q, { max: 2 });
      assert.ok(dead);
      values(await ctx.backend.release(q, [{ ref: ref(dead), deadLetter: true }]));
      assert.equal(await ctx.backend.purgeQueue(q), 4);
      assert.deepEqual((await ctx.backend.list(q, { limit: 10 })).tasks, []);
      assert.equal(await ctx.backend.purgeQueue(q), 0);
      assert.ok(await ctx.backend.getQueue(q), 'purge keeps the queue');
    });

    test('purgeQueue keeps the tombstones of acked and deleted ids', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'used' }]);
      values(await ctx.backend.delete(q, ['used']));
      await ctx.backend.purgeQueue(q);
      const [result] = await ctx.backend.insert(q, [newTask({ id: 'used' })]);
      assert.equal(result?.ok ? null : result?.error.code, 'already_exists');
    });

    test('a queue cannot be its own dead-letter queue', async (ctx) => {
      const name = ctx.name();
      await rejectsWith(
        () => ctx.backend.createQueue(name, { deadLetterQueue: name }),
        'invalid_argument',
      );
      const q = await ctx.queue();
      await rejectsWith(
        () => ctx.backend.updateQueue(q, { deadLetterQueue: q }),
        'invalid_argument',
      );
    });

    test('queue settings out of range fail with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      const bad = [
        { maxLeases: 0 },
        { maxLeases: 1.5 },
        { dedupWindowSeconds: -1 },
        { deadLetterQueue: 'no spaces' },
      ];
      for (const patch of bad) {
        const name = ctx.name();
        await rejectsWith(() => ctx.backend.createQueue(name, patch), 'invalid_argument');
        assert.equal(await ctx.backend.getQueue(name), null, 'a refused create creates nothing');
        await rejectsWith(() => ctx.backend.updateQueue(q, patch), 'invalid_argument');
      }
      const after = await ctx.backend.getQueue(q);
      assert.deepEqual(
        { ...after, createdAt: 0 },
        { ...DEFAULT_QUEUE_CONFIG, name: q, createdAt: 0 },
      );
    });
  });

  describe('pause', () => {
    test('a paused queue accepts inserts and leases nothing', async (ctx) => {
      const q = await ctx.queue();
      const paused = await ctx.backend.updateQueue(q, { paused: true });
      assert.equal(paused.paused, true);
      await put(ctx, q, [{ text: 'waits' }]);
      assert.deepEqual(await take(ctx, q), []);
      assert.deepEqual(await take(ctx, q, { groupByTag: true }), []);
      assert.equal((await ctx.backend.stats(q)).ready, 1);
    });

    test('resuming a paused queue makes its tasks leasable', async (ctx) => {
      const q = await ctx.queue({ paused: true });
      await put(ctx, q, [{ text: 'waits' }]);
      assert.deepEqual(await take(ctx, q), []);
      await ctx.backend.updateQueue(q, { paused: false });
      assert.deepEqual(texts(await take(ctx, q)), ['waits']);
    });

    test('a paused queue still takes acks, extends and releases of running leases', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '1' }, { text: '2' }]);
      const [one, two] = await take(ctx, q);
      assert.ok(one && two);
      await ctx.backend.updateQueue(q, { paused: true });
      values(await ctx.backend.extend(q, [ref(one)], 60));
      values(await ctx.backend.ack(q, [ref(one)]));
      values(await ctx.backend.release(q, [{ ref: ref(two) }]));
    });
  });

  describe('unknown queues', () => {
    test('every verb but insert with createQueue fails with queue_not_found on an unknown queue', async (ctx) => {
      const q = ctx.name();
      const one = { id: 'a', token: 't' };
      const refs = [one];
      const calls: [string, () => Promise<unknown>][] = [
        ['insert', () => ctx.backend.insert(q, [newTask({})])],
        ['lease', () => ctx.backend.lease(q, { max: 1, leaseSeconds: 60 })],
        [
          'lease with wait',
          () => ctx.backend.lease(q, { max: 1, leaseSeconds: 60, waitSeconds: 1 }),
        ],
        ['ack', () => ctx.backend.ack(q, refs)],
        ['extend', () => ctx.backend.extend(q, refs, 60)],
        ['release', () => ctx.backend.release(q, [{ ref: one }])],
        ['delete', () => ctx.backend.delete(q, ['a'])],
        ['get', () => ctx.backend.get(q, 'a')],
        ['list', () => ctx.backend.list(q, { limit: 10 })],
        ['stats', () => ctx.backend.stats(q)],
        ['redrive', () => ctx.backend.redrive(q)],
        ['updateQueue', () => ctx.backend.updateQueue(q, { paused: true })],
        ['deleteQueue', () => ctx.backend.deleteQueue(q)],
        ['purgeQueue', () => ctx.backend.purgeQueue(q)],
      ];
      for (const [verb, call] of calls) {
        await rejectsWith(call, 'queue_not_found').catch((error: unknown) => {
          throw new Error(`${verb}: ${String(error)}`, { cause: error });
        });
      }
      assert.equal(await ctx.backend.getQueue(q), null, 'no verb created the queue');
    });

    test('insert with createQueue creates a missing queue with default settings', async (ctx) => {
      const q = ctx.name();
      const [result] = await ctx.backend.insert(q, [newTask({ text: 'first' })], {
        createQueue: true,
      });
      assert.equal(result?.ok, true);
      const queue = await ctx.backend.getQueue(q);
      assert.deepEqual(
        { ...queue, createdAt: 0 },
        { ...DEFAULT_QUEUE_CONFIG, name: q, createdAt: 0 },
      );
      assert.deepEqual(texts(await take(ctx, q)), ['first']);
    });

    test('insert with createQueue into an existing queue keeps its settings', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 4 });
      await ctx.backend.insert(q, [newTask({})], { createQueue: true });
      assert.equal((await ctx.backend.getQueue(q))?.maxLeases, 4);
    });
  });
}
