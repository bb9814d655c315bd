/**
 * Payloads: every serializer and compression survives the transport, tasks inserted by other
 * tools arrive as raw messages, and a body the consumer will not decode never crashes it.
 */
import assert from 'node:assert/strict';
import { COMPRESSION_NAMES } from '../../client/serializers.ts';
import type { TransportSuite } from './harness.ts';

export function payloadContract(suite: TransportSuite): void {
  const { test } = suite;

  test('each serializer and compression round-trips through the transport', async (ctx) => {
    const name = await ctx.queue();
    const queue = ctx.connect({ numTasks: 20 }).simpleQueue(name);
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    const cases = [
      { body: { nested: [1, 'two', null] }, serializer: 'json' as const },
      { body: 'plain text, ünïcode', serializer: 'text' as const },
      { body: bytes, serializer: 'binary' as const },
      { body: { n: 1, list: [true, 'x'] }, serializer: 'msgpack' as const },
    ];
    const puts = cases.flatMap((item) =>
      [undefined, ...COMPRESSION_NAMES].map((compression) => ({
        ...item,
        ...(compression === undefined ? {} : { compression }),
      })),
    );
    const results = await queue.putMany(puts);
    assert.ok(results.every((result) => result.ok));
    for (const put of puts) {
      const message = await queue.get({ timeout: 5 });
      assert.ok(message);
      assert.deepEqual(message.body, put.body, `${put.serializer}+${put.compression ?? 'none'}`);
      assert.equal(message.compression, put.compression ?? null);
      await message.ack();
    }
  });

  test('a payload inserted without an envelope arrives raw, byte for byte', async (ctx) => {
    const name = await ctx.queue();
    const notUtf8 = Uint8Array.from([0xff, 0xfe, 0x00, 0x7b, 0x80]);
    await ctx.harness.insertRaw(name, notUtf8);
    const queue = ctx.connect().simpleQueue(name);
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    assert.equal(message.raw, true);
    assert.equal(message.contentType, 'application/octet-stream');
    assert.deepEqual(Buffer.from(message.payload), Buffer.from(notUtf8));
    assert.deepEqual(Buffer.from(message.body as Uint8Array), Buffer.from(notUtf8));
    await message.ack();
  });

  test('an App Engine-style JSON payload arrives raw and decodes with raw: json', async (ctx) => {
    const name = await ctx.queue();
    const appEngine = new TextEncoder().encode(JSON.stringify({ message: 'hello from 2013' }));
    await ctx.harness.insertRaw(name, appEngine);
    await ctx.harness.insertRaw(name, new TextEncoder().encode('not json at all'));
    const queue = ctx.connect().simpleQueue<{ message: string }>(name, { raw: 'json' });
    const good = await queue.get({ timeout: 5 });
    assert.ok(good);
    assert.equal(good.raw, true);
    assert.deepEqual(good.body, { message: 'hello from 2013' });
    await good.ack();
    const bad = await queue.get({ timeout: 5 });
    assert.ok(bad, 'a raw payload that is not JSON was not delivered');
    assert.equal(bad.decodeError?.code, 'malformed_request');
    assert.throws(() => bad.body, /./);
    await bad.reject();
  });

  test('a content type outside the accept list is delivered undecoded, never thrown', async (ctx) => {
    const name = await ctx.queue();
    const producer = ctx.connect().simpleQueue(name);
    await producer.put({ secret: 1 }, { serializer: 'msgpack' });
    await producer.put({ fine: 2 });
    const consumer = ctx.connect({ numTasks: 2 }).simpleQueue(name, { accept: ['json'] });
    const refused = await consumer.get({ timeout: 5 });
    assert.ok(refused);
    assert.equal(refused.decodeError?.code, 'unsupported_media_type');
    assert.throws(() => refused.body, { code: 'unsupported_media_type' });
    await refused.reject();
    const accepted = await consumer.get({ timeout: 5 });
    assert.deepEqual(accepted?.body, { fine: 2 });
    await accepted.ack();
  });
}
