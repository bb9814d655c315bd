/**
 * Settling: ack, reject, requeue and extendLease act on the server, on this delivery only,
 * once; and nothing a consumer leased stays stuck when it stops.
 */
import assert from 'node:assert/strict';
import { delay, rejectsWith, type TransportSuite } from './harness.ts';

export function settlingContract(suite: TransportSuite): void {
  const { test } = suite;

  test('requeue gives the lease back: the same task comes again at once, no copy', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect().simpleQueue<string>(name);
    const id = await queue.put('again');
    const first = await queue.get({ timeout: 5 });
    assert.ok(first);
    await first.requeue();
    assert.equal(first.state, 'requeued');
    const second = await queue.get({ timeout: 5 });
    assert.ok(second, 'the requeued task did not come back at once');
    assert.equal(second.id, id);
    assert.equal(second.attempts, 2);
    assert.notEqual(second.deliveryTag, first.deliveryTag);
    assert.equal(await ctx.countTasks(name), 1, 'requeue made a copy');
    await second.ack();
  });

  test('requeue with delaySeconds keeps the task back that long', async (ctx) => {
    const queue = ctx.connect({ pollingInterval: 0.1 }).simpleQueue(await ctx.queue());
    await queue.put('x');
    const first = await queue.get({ timeout: 5 });
    assert.ok(first);
    await first.requeue({ delaySeconds: 2 });
    assert.equal(await queue.getNowait(), null);
    const again = await queue.get({ timeout: 5 });
    assert.ok(again, 'the task never came back');
    await again.ack();
  });

  test('reject tells the server: the task is not delivered again', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect().simpleQueue(name);
    await queue.put('poison');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    await message.reject();
    assert.equal(message.state, 'rejected');
    assert.equal(await queue.getNowait(), null);
    if (ctx.capabilities.deadLetters) {
      const backend = await ctx.connect().connect();
      const stats = await backend.stats(name);
      assert.equal(stats.dead, 1, 'a rejected task is a dead letter');
    } else {
      assert.equal(await ctx.countTasks(name), 0, 'without dead letters, reject drops');
    }
  });

  test('reject({ requeue: true }) puts the task back like requeue', async (ctx) => {
    const queue = ctx.connect().simpleQueue(await ctx.queue());
    await queue.put('x');
    const first = await queue.get({ timeout: 5 });
    assert.ok(first);
    await first.reject({ requeue: true });
    assert.equal(first.state, 'requeued');
    const again = await queue.get({ timeout: 5 });
    assert.equal(again?.attempts, 2);
    await again.ack();
  });

  test('settling twice throws already_settled', async (ctx) => {
    const queue = ctx.connect({ numTasks: 3 }).simpleQueue(await ctx.queue());
    await queue.putMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const [a, b, c] = [
      await queue.get({ timeout: 5 }),
      await queue.get({ timeout: 5 }),
      await queue.get({ timeout: 5 }),
    ];
    assert.ok(a && b && c);
    await a.ack();
    await rejectsWith(a.ack(), 'already_settled');
    await rejectsWith(a.reject(), 'already_settled');
    await rejectsWith(a.extendLease(10), 'already_settled');
    await b.requeue();
    await rejectsWith(b.ack(), 'already_settled');
    // Two calls at the same moment: one settles, the other is refused.
    const outcomes = await Promise.allSettled([c.ack(), c.ack()]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
  });

  test('an expired lease redelivers the task, and the old delivery cannot ack it', async (ctx) => {
    const name = await ctx.queue();
    const slow = ctx.connect({ leaseSeconds: 1 }).simpleQueue<string>(name);
    await slow.put('work');
    const first = await slow.get({ timeout: 5 });
    assert.ok(first);
    await delay(1300);
    const other = ctx.connect().simpleQueue<string>(name);
    const second = await other.get({ timeout: 5 });
    assert.ok(second, 'the task did not come back after its lease ran out');
    assert.equal(second.id, first.id);
    assert.equal(second.attempts, 2);
    await rejectsWith(first.ack(), 'lease_lost');
    await second.ack();
  });

  test('extendLease keeps a message from redelivery past the first expiry', async (ctx) => {
    const name = await ctx.queue();
    const worker = ctx.connect({ leaseSeconds: 1 }).simpleQueue<string>(name);
    await worker.put('long job');
    const message = await worker.get({ timeout: 5 });
    assert.ok(message);
    const before = message.leaseExpiresAt.getTime();
    await message.extendLease(4);
    assert.ok(message.leaseExpiresAt.getTime() > before, 'leaseExpiresAt did not move');
    await delay(1500);
    const other = ctx.connect().simpleQueue(name);
    assert.equal(await other.getNowait(), null, 'the task was redelivered while extended');
    await message.ack();
    assert.equal(await ctx.countTasks(name), 0);
  });

  test('close gives back the prefetch buffer: another consumer gets it at once', async (ctx) => {
    const name = await ctx.queue();
    const producer = ctx.connect().simpleQueue<number>(name);
    await producer.putMany([1, 2, 3, 4, 5].map((body) => ({ body })));
    const greedy = ctx.connect({ numTasks: 5, leaseSeconds: 300 }).simpleQueue<number>(name);
    const held = await greedy.get({ timeout: 5 });
    assert.equal(held?.body, 1);
    await greedy.close();
    const other = ctx.connect({ numTasks: 5 }).simpleQueue<number>(name);
    const started = performance.now();
    const bodies: number[] = [];
    for (let n = 0; n < 4; n++) {
      const message = await other.get({ timeout: 1 });
      assert.ok(message, `only ${bodies.length} of the 4 buffered tasks came back within 1 s`);
      bodies.push(message.body);
      await message.ack();
    }
    assert.ok(performance.now() - started < 1000 + 500, 'the buffer came back only slowly');
    assert.deepEqual(bodies, [2, 3, 4, 5]);
    // The message handed out before close is still the consumer's, and settles normally.
    await held.ack();
  });

  test('connection.close gives back the messages handed out and not settled', async (ctx) => {
    const name = await ctx.queue();
    const first = ctx.connect({ leaseSeconds: 300 });
    const queue = first.simpleQueue<string>(name);
    await queue.put('unfinished');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    await first.close();
    assert.equal(message.state, 'released');
    const again = await ctx.connect().simpleQueue<string>(name).get({ timeout: 1 });
    assert.equal(again?.body, 'unfinished', 'the unsettled message was not given back');
    await again.ack();
  });
}
