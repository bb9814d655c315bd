/**
 * Retries that must not duplicate: a proxy in front of a real pullq server lets a request
 * through and then drops its answer, so the client cannot know whether the first try took
 * effect. The retried put must not insert a second task, and a retried ack or requeue whose
 * first try worked must report success.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { Connection } from '../../src/client/connection.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { startCountingProxy, type CountingProxy } from '../e2e/fixtures/counting-proxy.ts';

/** The first request after `loseAnswers(1)` went out a second time (the retry). */
function repeatedFirst(proxy: CountingProxy): boolean {
  const [first, second] = proxy.requests;
  return first !== undefined && first === second;
}

describe('retried calls whose first try took effect', () => {
  let memory: MemoryBackend;
  let pullq: PullqServer;
  let proxy: CountingProxy;
  let connection: Connection;
  let queueCount = 0;
  let name = '';

  before(async () => {
    memory = new MemoryBackend();
    pullq = await buildServer({ backend: memory });
    await pullq.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = pullq.app.server.address() as AddressInfo;
    proxy = await startCountingProxy(`http://127.0.0.1:${port}`);
    connection = new Connection(proxy.url.replace('http:', 'pullq:'), {
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
    });
  });
  beforeEach(() => {
    name = `retry-${++queueCount}`;
  });
  after(async () => {
    await connection.close();
    await proxy.close();
    await pullq.app.close();
    await memory.close();
  });

  it('a put whose answer was lost is inserted once, and resolves', async () => {
    const queue = connection.simpleQueue<string>(name);
    proxy.requests.length = 0;
    proxy.loseAnswers(1);
    const id = await queue.put('exactly once');
    assert.ok(repeatedFirst(proxy), 'the call was not repeated after its answer was lost');
    const stats = await memory.stats(name);
    assert.equal(stats.ready, 1);
    assert.equal((await memory.get(name, id))?.id, id);
  });

  it('a named put whose answer was lost resolves with its name, inserted once', async () => {
    const queue = connection.simpleQueue<string>(name);
    proxy.requests.length = 0;
    proxy.loseAnswers(1);
    assert.equal(await queue.put('named', { name: 'invoice-9' }), 'invoice-9');
    assert.ok(repeatedFirst(proxy), 'the call was not repeated after its answer was lost');
    assert.equal((await memory.stats(name)).ready, 1);
  });

  it('a put of a name taken by another task still fails already_exists on the retry', async () => {
    const queue = connection.simpleQueue<string>(name);
    await queue.put('the first owner', { name: 'taken' });
    proxy.requests.length = 0;
    proxy.loseAnswers(1);
    await assert.rejects(queue.put('someone else', { name: 'taken' }), { code: 'already_exists' });
    assert.ok(repeatedFirst(proxy), 'the call was not repeated after its answer was lost');
  });

  it('an ack whose answer was lost resolves, and the task is gone', async () => {
    const queue = connection.simpleQueue<string>(name);
    const id = await queue.put('ack me');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    proxy.requests.length = 0;
    proxy.loseAnswers(1);
    await message.ack();
    assert.ok(repeatedFirst(proxy), 'the call was not repeated after its answer was lost');
    assert.equal(message.state, 'acked');
    assert.equal(await memory.get(name, id), null);
  });

  it('a requeue whose answer was lost resolves, and the task is ready again', async () => {
    const queue = connection.simpleQueue<string>(name);
    await queue.put('put me back');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    proxy.requests.length = 0;
    proxy.loseAnswers(1);
    await message.requeue();
    assert.ok(repeatedFirst(proxy), 'the call was not repeated after its answer was lost');
    assert.equal((await memory.stats(name)).ready, 1);
  });
});
