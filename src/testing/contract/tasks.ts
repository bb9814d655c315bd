/** Contract: insert and get, ETA, tags, caller-chosen ids and their tombstones, delete. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { TASK_ID_PATTERN } from '../../protocol/limits.ts';
import {
  assertItemError,
  bytes,
  ids,
  newTask,
  put,
  ref,
  rejectsWith,
  take,
  text,
  texts,
  values,
  type ContractSuite,
} from './harness.ts';

const DAY_MS = 24 * 3_600_000;

export function taskContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('insert and get', () => {
    test(
      'insert returns each task as stored: ready, attempts 0, enqueued and due now',
      async (ctx) => {
        const q = await ctx.queue();
        const [task] = await put(ctx, q, [{ text: 'hello' }]);
        assert.deepEqual(
          { ...task, id: typeof task?.id, payload: text(task?.payload ?? bytes('')) },
          {
            queue: q,
            id: 'string',
            payload: 'hello',
            tag: null,
            enqueuedAt: ctx.now(),
            eta: ctx.now(),
            attempts: 0,
            state: 'ready',
            lastError: null,
            deadLetteredFrom: null,
          },
        );
      },
      { clock: true },
    );

    test('insert answers one result per task, in order', async (ctx) => {
      const q = await ctx.queue();
      const inserted = await put(ctx, q, [{ text: 'a' }, { text: 'b', tag: 't' }, { text: 'c' }]);
      assert.deepEqual(texts(inserted), ['a', 'b', 'c']);
      assert.deepEqual(
        inserted.map((task) => task.tag),
        [null, 't', null],
      );
    });

    test('get returns the task with its payload; an unknown id gives null', async (ctx) => {
      const q = await ctx.queue();
      const payload = new Uint8Array([0, 1, 2, 253, 254, 255]);
      const [task] = await put(ctx, q, [{ payload, tag: 'bin' }]);
      assert.ok(task);
      const got = await ctx.backend.get(q, task.id);
      assert.deepEqual(got && [...got.payload], [...payload]);
      assert.equal(got?.tag, 'bin');
      assert.equal(await ctx.backend.get(q, 'no-such-task'), null);
    });

    test('an empty payload is accepted and read back empty', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ payload: new Uint8Array(0) }]);
      assert.equal((await ctx.backend.get(q, task?.id ?? ''))?.payload.byteLength, 0);
    });

    test('a payload of exactly 1 MiB is accepted and read back whole', async (ctx) => {
      const q = await ctx.queue();
      const payload = new Uint8Array(1024 * 1024).fill(7);
      const [task] = await put(ctx, q, [{ payload }]);
      const got = await ctx.backend.get(q, task?.id ?? '');
      assert.equal(got?.payload.byteLength, payload.byteLength);
      assert.ok(got.payload.every((byte) => byte === 7));
    });
  });

  describe('ETA', () => {
    test('a task inserted with a future ETA is delayed until then', async (ctx) => {
      const q = await ctx.queue();
      const eta = ctx.now() + 3_600_000;
      const [task] = await put(ctx, q, [{ text: 'later', eta }]);
      assert.equal(task?.state, 'delayed');
      assert.equal(task.eta, eta);
      assert.deepEqual(await take(ctx, q), []);
      assert.equal((await ctx.backend.stats(q)).delayed, 1);
    });

    test('a task inserted with a past ETA is ready at once', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ text: 'overdue', eta: ctx.now() - 60_000 }]);
      assert.equal(task?.state, 'ready');
      assert.deepEqual(texts(await take(ctx, q)), ['overdue']);
    });

    test('an ETA up to 30 days ahead is accepted; beyond fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      // A minute of margin each side: the backend may read its clock a little later.
      await put(ctx, q, [{ text: 'far', eta: ctx.now() + 30 * DAY_MS - 60_000 }]);
      await rejectsWith(
        () => ctx.backend.insert(q, [newTask({ eta: ctx.now() + 30 * DAY_MS + 60_000 })]),
        'invalid_argument',
      );
    });

    test(
      'an ETA exactly 30 days ahead is accepted, one millisecond more is not',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ eta: ctx.now() + 30 * DAY_MS }]);
        await rejectsWith(
          () => ctx.backend.insert(q, [newTask({ eta: ctx.now() + 30 * DAY_MS + 1 })]),
          'invalid_argument',
        );
        assert.equal((await ctx.backend.stats(q)).delayed, 1);
      },
      { clock: true },
    );
  });

  describe('tags', () => {
    test('lease with a tag leases only tasks with that tag', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [
        { text: 'r1', tag: 'red' },
        { text: 'b1', tag: 'blue' },
        { text: 'n1' },
        { text: 'r2', tag: 'red' },
      ]);
      assert.deepEqual(texts(await take(ctx, q, { tag: 'red' })), ['r1', 'r2']);
      assert.deepEqual(await take(ctx, q, { tag: 'red' }), []);
      assert.deepEqual(await take(ctx, q, { tag: 'green' }), []);
      assert.deepEqual(texts(await take(ctx, q)), ['b1', 'n1']);
    });

    test('groupByTag leases only tasks with the tag of the oldest ready task', async (ctx) => {
      const q = await ctx.queue();
      const now = ctx.now();
      await put(ctx, q, [
        { text: 'b1', tag: 'blue', eta: now - 2000 },
        { text: 'r1', tag: 'red', eta: now - 5000 },
        { text: 'n1' },
        { text: 'r2', tag: 'red' },
        { text: 'b2', tag: 'blue' },
        { text: 'later', tag: 'green', eta: now - 1000 },
      ]);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['r1', 'r2']);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['b1', 'b2']);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['later']);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['n1']);
    });

    test('groupByTag treats untagged tasks as their own group', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'n1' }, { text: 'r1', tag: 'red' }, { text: 'n2' }]);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['n1', 'n2']);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true })), ['r1']);
    });

    test('groupByTag leases at most max tasks of the group', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [
        { text: 'r1', tag: 'red' },
        { text: 'b1', tag: 'blue' },
        { text: 'r2', tag: 'red' },
        { text: 'r3', tag: 'red' },
      ]);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true, max: 2 })), ['r1', 'r2']);
      assert.deepEqual(texts(await take(ctx, q, { groupByTag: true, max: 2 })), ['b1']);
    });

    test('groupByTag on an empty queue leases nothing', async (ctx) => {
      const q = await ctx.queue();
      assert.deepEqual(await take(ctx, q, { groupByTag: true }), []);
    });

    test('a tag of 500 bytes is accepted; 501 bytes fail with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      const tag = 'é'.repeat(250); // 2 bytes each in UTF-8
      const [task] = await put(ctx, q, [{ text: 'x', tag }]);
      assert.equal(task?.tag, tag);
      assert.deepEqual(texts(await take(ctx, q, { tag })), ['x']);
      await rejectsWith(
        () => ctx.backend.insert(q, [newTask({ tag: `${tag}x` })]),
        'invalid_argument',
      );
    });
  });

  describe('task ids and dedup', () => {
    test('insert keeps a caller-chosen id', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ id: 'order-42_a', text: 'x' }]);
      assert.equal(task?.id, 'order-42_a');
      assert.equal(text((await ctx.backend.get(q, 'order-42_a'))?.payload ?? bytes('')), 'x');
    });

    test('a caller-chosen id that exists fails with already_exists for that item; the rest of the batch is inserted', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'taken', text: 'first' }]);
      const results = await ctx.backend.insert(q, [
        newTask({ id: 'fresh-1', text: 'a' }),
        newTask({ id: 'taken', text: 'second' }),
        newTask({ text: 'b' }),
      ]);
      assert.equal(results[0]?.ok, true);
      assertItemError(results[1], 'already_exists');
      assert.equal(results[2]?.ok, true);
      assert.equal(text((await ctx.backend.get(q, 'taken'))?.payload ?? bytes('')), 'first');
      assert.equal((await ctx.backend.stats(q)).ready, 3);
    });

    test('the same id twice in one batch: the second fails with already_exists', async (ctx) => {
      const q = await ctx.queue();
      const results = await ctx.backend.insert(q, [
        newTask({ id: 'twice', text: '1' }),
        newTask({ id: 'twice', text: '2' }),
      ]);
      assert.equal(results[0]?.ok, true);
      assertItemError(results[1], 'already_exists');
      assert.equal(text((await ctx.backend.get(q, 'twice'))?.payload ?? bytes('')), '1');
    });

    test('a caller-chosen id stays refused while its task is leased or delayed', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'busy' }, { id: 'later', eta: ctx.now() + 3_600_000 }]);
      await take(ctx, q);
      const results = await ctx.backend.insert(q, [
        newTask({ id: 'busy' }),
        newTask({ id: 'later' }),
      ]);
      assertItemError(results[0], 'already_exists');
      assertItemError(results[1], 'already_exists');
    });

    test('an acked caller-chosen id stays refused within the dedup window', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'once' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.ack(q, [ref(task)]));
      assertItemError(
        (await ctx.backend.insert(q, [newTask({ id: 'once' })]))[0],
        'already_exists',
      );
    });

    test('a deleted caller-chosen id stays refused within the dedup window', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'once' }]);
      values(await ctx.backend.delete(q, ['once']));
      assertItemError(
        (await ctx.backend.insert(q, [newTask({ id: 'once' })]))[0],
        'already_exists',
      );
    });

    test(
      'a tombstoned id is accepted again once the default dedup window of 7 days has passed',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ id: 'weekly' }]);
        values(await ctx.backend.delete(q, ['weekly']));
        ctx.clock.advance(7 * DAY_MS - 1);
        assertItemError(
          (await ctx.backend.insert(q, [newTask({ id: 'weekly' })]))[0],
          'already_exists',
        );
        ctx.clock.advance(1);
        const [again] = await put(ctx, q, [{ id: 'weekly', text: 'again' }]);
        assert.equal(again?.id, 'weekly');
      },
      { clock: true },
    );

    test(
      "the dedup window is the queue's dedupWindowSeconds",
      async (ctx) => {
        const q = await ctx.queue({ dedupWindowSeconds: 60 });
        await put(ctx, q, [{ id: 'minute' }]);
        const [task] = await take(ctx, q);
        assert.ok(task);
        values(await ctx.backend.ack(q, [ref(task)]));
        ctx.clock.advance(59_999);
        assertItemError(
          (await ctx.backend.insert(q, [newTask({ id: 'minute' })]))[0],
          'already_exists',
        );
        ctx.clock.advance(1);
        await put(ctx, q, [{ id: 'minute' }]);
      },
      { clock: true },
    );

    test('a dedup window of 0 seconds leaves no tombstone', async (ctx) => {
      const q = await ctx.queue({ dedupWindowSeconds: 0 });
      await put(ctx, q, [{ id: 'again' }]);
      values(await ctx.backend.delete(q, ['again']));
      await put(ctx, q, [{ id: 'again' }]);
    });

    test('generated ids are unique valid task ids', async (ctx) => {
      const q = await ctx.queue();
      const inserted = await put(
        ctx,
        q,
        Array.from({ length: 1000 }, () => ({})),
      );
      const generated = ids(inserted);
      assert.equal(new Set(generated).size, 1000);
      for (const id of generated) assert.match(id, TASK_ID_PATTERN);
    });

    test('a generated id leaves no tombstone', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ text: 'anonymous' }]);
      assert.ok(task);
      values(await ctx.backend.delete(q, [task.id]));
      const [reused] = await put(ctx, q, [{ id: task.id, text: 'named now' }]);
      assert.equal(reused?.id, task.id);
    });

    test('the same id may live in two queues', async (ctx) => {
      const [a, b] = [await ctx.queue(), await ctx.queue()];
      await put(ctx, a, [{ id: 'shared', text: 'a' }]);
      await put(ctx, b, [{ id: 'shared', text: 'b' }]);
      assert.equal(text((await ctx.backend.get(b, 'shared'))?.payload ?? bytes('')), 'b');
    });
  });

  describe('delete', () => {
    test('delete removes a task in any state: ready, delayed, leased and dead', async (ctx) => {
      const q = await ctx.queue();
      const [dead, leased, delayed, ready] = await put(ctx, q, [
        { text: 'dead' },
        { text: 'leased' },
        { text: 'delayed', eta: ctx.now() + 3_600_000 },
        { text: 'ready' },
      ]);
      assert.ok(dead && leased && delayed && ready);
      const [toKill] = await take(ctx, q, { max: 2 });
      assert.equal(toKill?.id, dead.id);
      values(await ctx.backend.release(q, [{ ref: ref(toKill), deadLetter: true }]));
      const all = [ready, delayed, leased, dead];
      const states = [];
      for (const task of all) states.push((await ctx.backend.get(q, task.id))?.state);
      assert.deepEqual(states, ['ready', 'delayed', 'leased', 'dead']);
      values(await ctx.backend.delete(q, ids(all)));
      const stats = await ctx.backend.stats(q);
      assert.deepEqual([stats.ready, stats.delayed, stats.leased, stats.dead], [0, 0, 0, 0]);
      for (const task of all) assert.equal(await ctx.backend.get(q, task.id), null);
    });

    test('deleting a tombstoned id again succeeds', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ id: 'gone' }]);
      values(await ctx.backend.delete(q, ['gone']));
      values(await ctx.backend.delete(q, ['gone']));
    });

    test('deleting an unknown id fails with task_not_found', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ text: 'generated' }]);
      assert.ok(task);
      const results = await ctx.backend.delete(q, ['never-was', task.id, task.id]);
      assertItemError(results[0], 'task_not_found');
      assert.deepEqual(results[1], { ok: true, value: null });
      // A generated id leaves no tombstone, so the second delete finds nothing.
      assertItemError(results[2], 'task_not_found');
    });

    test('a deleted task is never leased', async (ctx) => {
      const q = await ctx.queue();
      const [task] = await put(ctx, q, [{ text: 'x' }, { text: 'y' }]);
      assert.ok(task);
      values(await ctx.backend.delete(q, [task.id]));
      assert.deepEqual(texts(await take(ctx, q)), ['y']);
    });
  });
}
