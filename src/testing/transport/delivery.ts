/**
 * Delivery: what put sends is what get hands out, once, in order, when it is due.
 */
import assert from 'node:assert/strict';
import { delay, rejectsWith, type TransportSuite } from './harness.ts';

export function deliveryContract(suite: TransportSuite): void {
  const { test } = suite;

  test('a put message is got with its body and headers, and ack deletes it', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect().simpleQueue<{ video: string }>(name);
    const id = await queue.put({ video: 'cat.mp4' }, { headers: { requestId: 'r-1', n: 2 } });
    const message = await queue.get({ timeout: 5 });
    assert.ok(message, 'no message within 5 s');
    assert.equal(message.id, id);
    assert.deepEqual(message.body, { video: 'cat.mp4' });
    assert.deepEqual(message.headers, { requestId: 'r-1', n: 2 });
    assert.equal(message.contentType, 'application/json');
    assert.equal(message.raw, false);
    assert.equal(message.attempts, 1);
    assert.ok(message.leaseExpiresAt.getTime() > Date.now() - 60_000);
    await message.ack();
    assert.equal(message.state, 'acked');
    assert.equal(await queue.getNowait(), null);
    assert.equal(await ctx.countTasks(name), 0);
  });

  test('messages come out in the order they were put, across a prefetched batch', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ numTasks: 5 }).simpleQueue<number>(name);
    for (let n = 0; n < 8; n++) await queue.put(n);
    const got: number[] = [];
    for (let n = 0; n < 8; n++) {
      const message = await queue.get({ timeout: 5 });
      assert.ok(message);
      got.push(message.body);
      await message.ack();
    }
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('putMany inserts every message in one call and answers one result each', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ numTasks: 10 }).simpleQueue<string>(name);
    const results = await queue.putMany([{ body: 'a' }, { body: 'b', tag: 't' }, { body: 'c' }]);
    assert.equal(results.length, 3);
    const ids = results.map((result) => (result.ok ? result.id : assert.fail(result.error)));
    const bodies: string[] = [];
    for (let n = 0; n < 3; n++) {
      const message = await queue.get({ timeout: 5 });
      assert.ok(message);
      assert.equal(message.id, ids[n]);
      bodies.push(message.body);
      await message.ack();
    }
    assert.deepEqual(bodies, ['a', 'b', 'c']);
  });

  test(
    'a put name is a dedup key: the same name again fails already_exists',
    async (ctx) => {
      const queue = ctx.connect().simpleQueue(await ctx.queue());
      assert.equal(await queue.put('first', { name: 'order-17' }), 'order-17');
      await rejectsWith(queue.put('second', { name: 'order-17' }), 'already_exists');
      const results = await queue.putMany([
        { body: 'third', name: 'order-17' },
        { body: 'fourth' },
      ]);
      assert.equal(results[0]?.ok, false);
      assert.equal(results[1]?.ok, true);
    },
    { capability: 'uniqueIds' },
  );

  test('a message put with delaySeconds is not got before its time', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ pollingInterval: 0.1 }).simpleQueue(name);
    const putAt = Date.now();
    await queue.put('later', { delaySeconds: 1 });
    assert.equal(await queue.getNowait(), null);
    assert.equal(await queue.qsize(), 1, 'a delayed task counts in qsize');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message, 'the delayed message never came');
    assert.ok(Date.now() - putAt >= 900, 'it came before its ETA');
    await message.ack();
  });

  test(
    'a tagged put is got by a consumer of that tag only',
    async (ctx) => {
      const name = await ctx.queue();
      const connection = ctx.connect();
      await connection.simpleQueue(name).put('blue one', { tag: 'blue' });
      assert.equal(await connection.simpleQueue(name, { tag: 'red' }).getNowait(), null);
      const message = await connection
        .simpleQueue<string>(name, { tag: 'blue' })
        .get({ timeout: 5 });
      assert.equal(message?.body, 'blue one');
      assert.equal(message.tag, 'blue');
      await message.ack();
    },
    { capability: 'tags' },
  );

  test('get with a timeout on an empty queue resolves null after about that long', async (ctx) => {
    const queue = ctx.connect({ pollingInterval: 0.1 }).simpleQueue(await ctx.queue());
    const started = performance.now();
    assert.equal(await queue.get({ timeout: 0.5 }), null);
    assert.ok(performance.now() - started >= 450, 'get gave up before its timeout');
  });

  test('a waiting get receives a message put by another connection', async (ctx) => {
    const name = await ctx.queue();
    const consumer = ctx.connect({ pollingInterval: 0.1 }).simpleQueue<string>(name);
    const waiting = consumer.get({ timeout: 10 });
    await delay(200);
    await ctx.connect().simpleQueue(name).put('hello');
    const message = await waiting;
    assert.equal(message?.body, 'hello');
    await message.ack();
  });

  test('get aborted by its signal rejects with the reason and loses nothing', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ pollingInterval: 0.1 }).simpleQueue<string>(name);
    const controller = new AbortController();
    const waiting = queue.get({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop waiting')), 100);
    await assert.rejects(waiting, /stop waiting/);
    await queue.put('after the abort');
    const message = await queue.get({ timeout: 5 });
    assert.equal(message?.body, 'after the abort');
    await message.ack();
  });

  test('a get that waits without a timeout fails unavailable when its queue closes', async (ctx) => {
    const queue = ctx.connect({ pollingInterval: 0.1 }).simpleQueue(await ctx.queue());
    const waiting = queue.get();
    await delay(100);
    await queue.close();
    await rejectsWith(waiting, 'unavailable');
    await rejectsWith(queue.put('x'), 'unavailable');
  });

  test('for await yields messages as they come', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ numTasks: 2 }).simpleQueue<number>(name);
    await queue.putMany([1, 2, 3].map((body) => ({ body })));
    const seen: number[] = [];
    for await (const message of queue) {
      seen.push(message.body);
      await message.ack();
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [1, 2, 3]);
  });

  test('qsize counts waiting tasks and clear deletes them', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect().simpleQueue(name);
    await queue.putMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    assert.equal(await queue.qsize(), 3);
    assert.equal(await queue.clear(), 3);
    assert.equal(await queue.qsize(), 0);
    assert.equal(await queue.getNowait(), null);
  });

  test(
    'a consumer that starts before its queue exists waits for the first put',
    async (ctx) => {
      const name = ctx.name();
      const consumer = ctx.connect({ pollingInterval: 0.1 }).simpleQueue<string>(name);
      const waiting = consumer.get({ timeout: 10 });
      await delay(300);
      await ctx.connect().simpleQueue(name).put('first ever');
      const message = await waiting;
      assert.equal(message?.body, 'first ever');
      await message.ack();
    },
    { capability: 'queueAdmin' },
  );

  test('getNowait answers at once while another get of the same queue long-polls', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect().simpleQueue(name);
    const controller = new AbortController();
    const waiting = queue.get({ timeout: 20, signal: controller.signal });
    await delay(100);
    const started = performance.now();
    assert.equal(await queue.getNowait(), null);
    assert.ok(performance.now() - started < 5000, 'getNowait waited for the long-poll');
    controller.abort();
    await assert.rejects(waiting);
  });
}
