/** Contract: maxLeases, the dead state, dead-letter queues, release with deadLetter, redrive. */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { LeasedTask } from '../../backends/backend.ts';
import {
  ids,
  put,
  ref,
  take,
  text,
  texts,
  values,
  type ContractContext,
  type ContractSuite,
} from './harness.ts';

/** Leases the queue's tasks and releases them, `rounds` times. */
async function leaseAndRelease(
  ctx: ContractContext,
  queue: string,
  rounds: number,
  error?: string,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const leased: LeasedTask[] = await take(ctx, queue);
    assert.ok(leased.length > 0, `round ${round}: nothing to lease`);
    values(
      await ctx.backend.release(
        queue,
        leased.map((task) => ({ ref: ref(task), ...(error === undefined ? {} : { error }) })),
      ),
    );
  }
}

export function deadLetterContract(suite: ContractSuite): void {
  const test = suite.test;

  describe('retry limit', () => {
    test('a task leased maxLeases times is dead on the next lease when no dead-letter queue is set', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 2 });
      const [task] = await put(ctx, q, [{ text: 'poison' }]);
      assert.ok(task);
      await leaseAndRelease(ctx, q, 2);
      assert.deepEqual(await take(ctx, q), []);
      const dead = await ctx.backend.get(q, task.id);
      assert.equal(dead?.state, 'dead');
      assert.equal(dead.attempts, 2);
      assert.equal(text(dead.payload), 'poison');
      assert.equal(typeof dead.lastError, 'string', 'a dead task says why it died');
      assert.equal(dead.deadLetteredFrom, null);
      const listed = await ctx.backend.list(q, { limit: 10, state: 'dead' });
      assert.deepEqual(ids(listed.tasks), [task.id]);
      assert.deepEqual(await take(ctx, q), [], 'a dead task is never leased');
    });

    test('dead-lettering keeps the last error note', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 1 });
      const [task] = await put(ctx, q, [{ text: 'poison' }]);
      await leaseAndRelease(ctx, q, 1, 'ValueError: bad input');
      await take(ctx, q);
      assert.equal((await ctx.backend.get(q, task?.id ?? ''))?.lastError, 'ValueError: bad input');
    });

    test('a task over maxLeases moves to the dead-letter queue as a ready task with deadLetteredFrom and lastError', async (ctx) => {
      const dlq = await ctx.queue();
      const q = await ctx.queue({ maxLeases: 1, deadLetterQueue: dlq });
      const [task] = await put(ctx, q, [{ text: 'poison', tag: 'pdf' }]);
      assert.ok(task);
      await leaseAndRelease(ctx, q, 1, 'boom');
      assert.deepEqual(await take(ctx, q), []);
      assert.equal(await ctx.backend.get(q, task.id), null);
      const [moved] = (await ctx.backend.list(dlq, { limit: 10, includePayload: true })).tasks;
      assert.ok(moved);
      assert.equal(moved.queue, dlq);
      assert.equal(moved.state, 'ready');
      assert.equal(moved.attempts, 0);
      assert.equal(moved.deadLetteredFrom, q);
      assert.equal(moved.lastError, 'boom');
      assert.equal(moved.tag, 'pdf');
      assert.equal(text(moved.payload), 'poison');
      const [leased] = await take(ctx, dlq);
      assert.equal(leased?.id, moved.id);
      assert.equal(text(leased.payload), 'poison');
    });

    test('a dead-letter queue that does not exist yet is created', async (ctx) => {
      const dlq = ctx.name();
      const q = await ctx.queue({ maxLeases: 1, deadLetterQueue: dlq });
      await put(ctx, q, [{ text: 'poison' }]);
      await leaseAndRelease(ctx, q, 1);
      await take(ctx, q);
      assert.equal((await ctx.backend.getQueue(dlq))?.name, dlq);
      assert.deepEqual(texts(await take(ctx, dlq)), ['poison']);
    });

    test('a lease that dead-letters a task goes on to lease the next ones', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 1 });
      await put(ctx, q, [{ text: 'poison' }]);
      await leaseAndRelease(ctx, q, 1);
      await put(ctx, q, [{ text: 'fine' }]);
      assert.deepEqual(texts(await take(ctx, q, { max: 2 })), ['fine']);
      assert.equal((await ctx.backend.stats(q)).dead, 1);
    });

    test('without maxLeases a task may be leased any number of times', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      await leaseAndRelease(ctx, q, 20);
      const [task] = await take(ctx, q);
      assert.equal(task?.attempts, 21);
    });

    test('lowering maxLeases applies from the next lease', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 5 });
      const [task] = await put(ctx, q, [{ text: 'x' }]);
      await leaseAndRelease(ctx, q, 2);
      await ctx.backend.updateQueue(q, { maxLeases: 2 });
      assert.deepEqual(await take(ctx, q), []);
      assert.equal((await ctx.backend.get(q, task?.id ?? ''))?.state, 'dead');
    });

    test('clearing maxLeases with null lets the task be leased again', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 1 });
      await put(ctx, q, [{ text: 'x' }]);
      await leaseAndRelease(ctx, q, 1);
      await ctx.backend.updateQueue(q, { maxLeases: null });
      assert.equal((await take(ctx, q))[0]?.attempts, 2);
    });
  });

  describe('release with deadLetter', () => {
    test('release with deadLetter makes the task dead at once when no dead-letter queue is set', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'reject me' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const [released] = values(
        await ctx.backend.release(q, [{ ref: ref(task), deadLetter: true, error: 'unparseable' }]),
      );
      assert.equal(released?.state, 'dead');
      assert.equal(released.lastError, 'unparseable');
      assert.equal(released.attempts, 1);
      assert.equal((await ctx.backend.get(q, task.id))?.state, 'dead');
      assert.deepEqual(await take(ctx, q), []);
      assert.equal((await ctx.backend.stats(q)).dead, 1);
    });

    test('release with deadLetter moves the task to the dead-letter queue', async (ctx) => {
      const dlq = await ctx.queue();
      const q = await ctx.queue({ deadLetterQueue: dlq });
      await put(ctx, q, [{ text: 'reject me' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      const [released] = values(
        await ctx.backend.release(q, [{ ref: ref(task), deadLetter: true }]),
      );
      assert.equal(released?.queue, dlq);
      assert.equal(released.state, 'ready');
      assert.equal(released.deadLetteredFrom, q);
      assert.equal(typeof released.lastError, 'string');
      assert.equal(await ctx.backend.get(q, task.id), null);
      assert.equal((await ctx.backend.get(dlq, released.id))?.deadLetteredFrom, q);
    });

    test('a dead task keeps refusing its old lease token', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'x' }]);
      const [task] = await take(ctx, q);
      assert.ok(task);
      values(await ctx.backend.release(q, [{ ref: ref(task), deadLetter: true }]));
      const [result] = await ctx.backend.ack(q, [ref(task)]);
      assert.equal(result?.ok, false);
      assert.equal(result.ok ? null : result.error.code, 'lease_lost');
    });
  });

  describe('redrive', () => {
    test('redrive makes dead tasks ready again with attempts reset', async (ctx) => {
      const q = await ctx.queue({ maxLeases: 1 });
      const [task] = await put(ctx, q, [{ text: 'x' }]);
      assert.ok(task);
      await leaseAndRelease(ctx, q, 1, 'flaky');
      await take(ctx, q);
      assert.equal(await ctx.backend.redrive(q), 1);
      const redriven = await ctx.backend.get(q, task.id);
      assert.equal(redriven?.state, 'ready');
      assert.equal(redriven.attempts, 0);
      const [leased] = await take(ctx, q);
      assert.equal(leased?.id, task.id);
      assert.equal(leased.attempts, 1);
    });

    test('redrive with ids moves only those tasks', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'a' }, { text: 'b' }, { text: 'c' }]);
      const leased = await take(ctx, q);
      values(
        await ctx.backend.release(
          q,
          leased.map((task) => ({ ref: ref(task), deadLetter: true })),
        ),
      );
      const [a, , c] = leased;
      assert.equal(await ctx.backend.redrive(q, { ids: [a?.id ?? '', c?.id ?? '', 'unknown'] }), 2);
      assert.deepEqual(texts(await take(ctx, q)), ['a', 'c']);
      assert.equal((await ctx.backend.stats(q)).dead, 1);
    });

    test('redrive on a dead-letter queue moves its tasks back to the queue they came from', async (ctx) => {
      const dlq = await ctx.queue();
      const q = await ctx.queue({ maxLeases: 1, deadLetterQueue: dlq });
      const [task] = await put(ctx, q, [{ text: 'poison', tag: 'pdf' }]);
      assert.ok(task);
      await leaseAndRelease(ctx, q, 1, 'bug');
      await take(ctx, q);
      assert.equal((await ctx.backend.stats(dlq)).ready, 1);
      assert.equal(await ctx.backend.redrive(dlq), 1);
      assert.equal((await ctx.backend.stats(dlq)).ready, 0);
      const [back] = (await ctx.backend.list(q, { limit: 10, includePayload: true })).tasks;
      assert.ok(back);
      assert.equal(back.state, 'ready');
      assert.equal(back.deadLetteredFrom, null);
      assert.equal(back.attempts, 0);
      assert.equal(back.tag, 'pdf');
      assert.equal(text(back.payload), 'poison');
      assert.deepEqual(texts(await take(ctx, q)), ['poison']);
    });

    test('redrive leaves tasks that are not dead letters alone and returns 0', async (ctx) => {
      const q = await ctx.queue();
      await put(ctx, q, [{ text: 'ready' }, { text: 'leased' }]);
      await take(ctx, q, { max: 1 });
      assert.equal(await ctx.backend.redrive(q), 0);
      const stats = await ctx.backend.stats(q);
      assert.deepEqual([stats.ready, stats.leased], [1, 1]);
    });
  });
}
