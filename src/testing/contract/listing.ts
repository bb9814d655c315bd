/** Contract: listing tasks (order, paging, filters, payloads) and queue stats. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ListRequest, Task } from '../../backends/backend.ts';
import {
  bytes,
  put,
  ref,
  rejectsWith,
  take,
  text,
  texts,
  values,
  type ContractContext,
  type ContractSuite,
} from './harness.ts';

/** Every page of a listing, following nextCursor until it is null. */
async function listAll(
  ctx: ContractContext,
  queue: string,
  request: Omit<ListRequest, 'cursor'>,
): Promise<Task[][]> {
  const pages: Task[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await ctx.backend.list(queue, { ...request, ...(cursor ? { cursor } : {}) });
    pages.push(page.tasks);
    if (page.nextCursor === null) return pages;
    assert.ok(pages.length < 100, 'listing does not end');
    cursor = page.nextCursor;
  }
}

export function listingContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('list', () => {
    test('list returns tasks in insertion order, whatever their ETA', async (ctx) => {
      const q = await ctx.queue();
      const now = ctx.now();
      await put(ctx, q, [
        { text: 'a', eta: now + 60_000 },
        { text: 'b', eta: now - 60_000 },
        { text: 'c' },
      ]);
      const page = await ctx.backend.list(q, { limit: 10 });
      assert.deepEqual(
        page.tasks.map((task) => [task.id.length > 0, task.state]),
        [
          [true, 'delayed'],
          [true, 'ready'],
          [true, 'ready'],
        ],
      );
      assert.deepEqual(
        texts(await ctx.backend.list(q, { limit: 10, includePayload: true }).then((p) => p.tasks)),
        ['a', 'b', 'c'],
      );
      assert.equal(page.nextCursor, null);
    });

    test('list pages with limit and nextCursor until nextCursor is null', async (ctx) => {
      const q = await ctx.queue();
      await put(
        ctx,
        q,
        Array.from({ length: 7 }, (_, index) => ({ text: String(index) })),
      );
      const pages = await listAll(ctx, q, { limit: 3, includePayload: true });
      assert.deepEqual(pages.map(texts), [['0', '1', '2'], ['3', '4', '5'], ['6']]);
    });

    test('a full last page has nextCursor null', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: '0' }, { text: '1' }, { text: '2' }, { text: '3' }]);
      const pages = await listAll(ctx, q, { limit: 2, includePayload: true });
      assert.deepEqual(pages.map(texts), [
        ['0', '1'],
        ['2', '3'],
      ]);
    });

    test('paging neither skips nor repeats tasks when tasks are deleted between pages', async (ctx) => {
      const q = await ctx.queue();
      const inserted = await put(
        ctx,
        q,
        ['0', '1', '2', '3', '4'].map((t) => ({ text: t })),
      );
      const first = await ctx.backend.list(q, { limit: 2, includePayload: true });
      assert.deepEqual(texts(first.tasks), ['0', '1']);
      assert.ok(first.nextCursor);
      values(await ctx.backend.delete(q, [inserted[1]?.id ?? '', inserted[2]?.id ?? '']));
      const second = await ctx.backend.list(q, {
        limit: 2,
        cursor: first.nextCursor,
        includePayload: true,
      });
      assert.deepEqual(texts(second.tasks), ['3', '4']);
      assert.equal(second.nextCursor, null);
    });

    test('list filters by state', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [
        { text: 'dead' },
        { text: 'leased' },
        { text: 'delayed', eta: ctx.now() + 3_600_000 },
        { text: 'ready' },
      ]);
      const [dead] = await take(ctx, q, { max: 2 });
      assert.ok(dead);
      values(await ctx.backend.release(q, [{ ref: ref(dead), deadLetter: true }]));
      for (const state of ['ready', 'delayed', 'leased', 'dead'] as const) {
        const page = await ctx.backend.list(q, { limit: 10, state, includePayload: true });
        assert.deepEqual(texts(page.tasks), [state], `state ${state}`);
        assert.equal(page.tasks[0]?.state, state);
      }
    });

    test('list filters by tag, and by tag and state together', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [
        { text: 'r1', tag: 'red' },
        { text: 'b1', tag: 'blue' },
        { text: 'r2', tag: 'red', eta: ctx.now() + 3_600_000 },
        { text: 'n1' },
      ]);
      const red = await ctx.backend.list(q, { limit: 10, tag: 'red', includePayload: true });
      assert.deepEqual(texts(red.tasks), ['r1', 'r2']);
      const redDelayed = await ctx.backend.list(q, {
        limit: 10,
        tag: 'red',
        state: 'delayed',
        includePayload: true,
      });
      assert.deepEqual(texts(redDelayed.tasks), ['r2']);
    });

    test('a filtered listing pages through matching tasks only', async (ctx) => {
      const q = await ctx.queue();
      await put(
        ctx,
        q,
        Array.from({ length: 9 }, (_, index) => ({
          text: String(index),
          tag: index % 3 === 0 ? 'third' : 'other',
        })),
      );
      const pages = await listAll(ctx, q, { limit: 2, tag: 'third', includePayload: true });
      assert.deepEqual(pages.map(texts), [['0', '3'], ['6']]);
    });

    test('list leaves payloads out unless asked for', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'secret' }]);
      const bare = await ctx.backend.list(q, { limit: 10 });
      assert.equal(bare.tasks[0]?.payload.byteLength, 0);
      const full = await ctx.backend.list(q, { limit: 10, includePayload: true });
      assert.equal(text(full.tasks[0]?.payload ?? bytes('')), 'secret');
    });

    test('a leased task is listed with its lease end as eta and no lease token', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [leased] = await take(ctx, q);
      const [listed] = (await ctx.backend.list(q, { limit: 10 })).tasks;
      assert.equal(listed?.state, 'leased');
      assert.equal(listed.eta, leased?.eta);
      assert.equal((listed as { leaseToken?: unknown }).leaseToken, undefined);
    });

    test('a cursor the backend did not hand out fails with invalid_argument', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      for (const cursor of ['not a cursor', '!!!', 'c2VxOg']) {
        await rejectsWith(() => ctx.backend.list(q, { limit: 10, cursor }), 'invalid_argument');
      }
    });

    test('an empty queue lists no tasks and no cursor', async (ctx) => {
      const q = await ctx.queue();
      assert.deepEqual(await ctx.backend.list(q, { limit: 10 }), { tasks: [], nextCursor: null });
    });
  });

  describe('stats', () => {
    test(
      'stats count ready, delayed, leased and dead tasks',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [
          { text: 'dead' },
          { text: 'leased1' },
          { text: 'leased2' },
          { text: 'delayed', eta: ctx.now() + 3_600_000 },
          { text: 'ready1' },
          { text: 'ready2' },
          { text: 'ready3' },
        ]);
        const [dead] = await take(ctx, q, { max: 3 });
        assert.ok(dead);
        values(await ctx.backend.release(q, [{ ref: ref(dead), deadLetter: true }]));
        const stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.ready, stats.delayed, stats.leased, stats.dead], [3, 1, 2, 1]);
      },
      { capability: 'exactStats' },
    );

    test(
      'an empty queue has zero counts and null ages',
      async (ctx) => {
        const q = await ctx.queue();
        assert.deepEqual(await ctx.backend.stats(q), {
          ready: 0,
          delayed: 0,
          leased: 0,
          dead: 0,
          oldestReadyAgeSeconds: null,
          oldestEta: null,
          leasedLastMinute: 0,
          leasedLastHour: 0,
        });
      },
      { capability: 'exactStats' },
    );

    test(
      'oldestReadyAgeSeconds is how long the ready task with the oldest ETA has been due',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'now' }, { text: 'later', eta: ctx.now() + 60_000 }]);
        ctx.clock.advance(4_200);
        assert.equal((await ctx.backend.stats(q)).oldestReadyAgeSeconds, 4.2);
        await put(ctx, q, [{ text: 'overdue', eta: ctx.now() - 10_000 }]);
        assert.equal((await ctx.backend.stats(q)).oldestReadyAgeSeconds, 10);
        await take(ctx, q, { max: 2 });
        assert.equal((await ctx.backend.stats(q)).oldestReadyAgeSeconds, null);
        ctx.clock.advance(60_000);
        // 'later' has been due for 4.2 s.
        assert.equal((await ctx.backend.stats(q)).oldestReadyAgeSeconds, 4.2);
      },
      { clock: true, capability: 'exactStats' },
    );

    test(
      'oldestEta is the earliest ETA among tasks that are not dead, leased ones included',
      async (ctx) => {
        const q = await ctx.queue();
        const now = ctx.now();
        await put(ctx, q, [{ text: 'later', eta: now + 60_000 }]);
        assert.equal((await ctx.backend.stats(q)).oldestEta, now + 60_000);
        await put(ctx, q, [{ text: 'soon', eta: now - 1_000 }]);
        assert.equal((await ctx.backend.stats(q)).oldestEta, now - 1_000);
        await take(ctx, q, { leaseSeconds: 30 });
        assert.equal((await ctx.backend.stats(q)).oldestEta, now + 30_000);
        const [task] = await put(ctx, q, [{ text: 'doomed', eta: now - 5_000 }]);
        const [doomed] = await take(ctx, q, { leaseSeconds: 10 });
        assert.ok(task && doomed);
        assert.equal(doomed.id, task.id);
        values(await ctx.backend.release(q, [{ ref: ref(doomed), deadLetter: true }]));
        assert.equal((await ctx.backend.stats(q)).oldestEta, now + 30_000);
      },
      { clock: true, capability: 'exactStats' },
    );

    test(
      'leasedLastMinute and leasedLastHour count leased tasks as the clock moves',
      async (ctx) => {
        const q = await ctx.queue();
        await put(
          ctx,
          q,
          Array.from({ length: 5 }, () => ({})),
        );
        await take(ctx, q, { max: 3, leaseSeconds: 3600 });
        ctx.clock.advance(30_000);
        await take(ctx, q, { max: 2, leaseSeconds: 3600 });
        let stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.leasedLastMinute, stats.leasedLastHour], [5, 5]);
        ctx.clock.advance(30_000);
        stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.leasedLastMinute, stats.leasedLastHour], [2, 5]);
        ctx.clock.advance(3_600_000 - 60_000 - 1);
        stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.leasedLastMinute, stats.leasedLastHour], [0, 5]);
        ctx.clock.advance(1);
        stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.leasedLastMinute, stats.leasedLastHour], [0, 2]);
        ctx.clock.advance(30_000);
        stats = await ctx.backend.stats(q);
        assert.deepEqual([stats.leasedLastMinute, stats.leasedLastHour], [0, 0]);
      },
      { clock: true, capability: 'exactStats' },
    );

    test(
      'each lease of the same task counts in leasedLastMinute',
      async (ctx) => {
        const q = await ctx.queue();
        await put(ctx, q, [{ text: 'x' }]);
        for (let round = 0; round < 3; round++) {
          const [task] = await take(ctx, q);
          assert.ok(task);
          values(await ctx.backend.release(q, [{ ref: ref(task) }]));
        }
        assert.equal((await ctx.backend.stats(q)).leasedLastMinute, 3);
      },
      { capability: 'exactStats' },
    );
  });
}
