/**
 * Retries that must not duplicate: a proxy in front of a real pullq server lets a request
 * through and then drops its answer, so the client cannot know whether the first try took
 * effect. The retried put must not insert a second task, and a retried ack or requeue whose
 * first try worked must report success.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { Connection } from '../../src/client/connection.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';

/** Forwards everything; answers of requests whose path matches `dropAnswerOf` are thrown
 * away (the connection is cut) once the server has handled them, as many times as asked. */
class LossyProxy {
  dropAnswerOf: RegExp | null = null;
  drops = 0;
  dropped = 0;
  readonly server: Server;

  constructor(upstream: string) {
    const target = new URL(upstream);
    this.server = createServer((incoming, outgoing) => {
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: incoming.url,
          method: incoming.method,
          headers: incoming.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const drop = this.dropAnswerOf?.test(incoming.url ?? '') && this.drops > 0;
            if (drop) {
              this.drops--;
              this.dropped++;
              incoming.socket.destroy();
              return;
            }
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            outgoing.end(Buffer.concat(chunks));
          });
        },
      );
      incoming.pipe(forward);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  drop(path: RegExp, times = 1): void {
    this.dropAnswerOf = path;
    this.drops = times;
    this.dropped = 0;
  }
}

describe('retried calls whose first try took effect', () => {
  let memory: MemoryBackend;
  let pullq: PullqServer;
  let proxy: LossyProxy;
  let connection: Connection;
  let queueCount = 0;
  let name = '';

  before(async () => {
    memory = new MemoryBackend();
    pullq = await buildServer({ backend: memory });
    await pullq.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = pullq.app.server.address() as AddressInfo;
    proxy = new LossyProxy(`http://127.0.0.1:${port}`);
    const url = await proxy.listen();
    connection = new Connection(url.replace('http:', 'pullq:'), {
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
    });
  });
  beforeEach(() => {
    name = `retry-${++queueCount}`;
  });
  after(async () => {
    await connection.close();
    proxy.server.closeAllConnections();
    proxy.server.close();
    await pullq.app.close();
    await memory.close();
  });

  it('a put whose answer was lost is inserted once, and resolves', async () => {
    const queue = connection.simpleQueue<string>(name);
    proxy.drop(/\/tasks$/);
    const id = await queue.put('exactly once');
    assert.equal(proxy.dropped, 1, 'the proxy did not drop the answer');
    const stats = await memory.stats(name);
    assert.equal(stats.ready, 1);
    assert.equal((await memory.get(name, id))?.id, id);
  });

  it('a named put whose answer was lost resolves with its name, inserted once', async () => {
    const queue = connection.simpleQueue<string>(name);
    proxy.drop(/\/tasks$/);
    assert.equal(await queue.put('named', { name: 'invoice-9' }), 'invoice-9');
    assert.equal(proxy.dropped, 1);
    assert.equal((await memory.stats(name)).ready, 1);
  });

  it('a put of a name taken by another task still fails already_exists on the retry', async () => {
    const queue = connection.simpleQueue<string>(name);
    await queue.put('the first owner', { name: 'taken' });
    proxy.drop(/\/tasks$/);
    await assert.rejects(queue.put('someone else', { name: 'taken' }), { code: 'already_exists' });
    assert.equal(proxy.dropped, 1);
  });

  it('an ack whose answer was lost resolves, and the task is gone', async () => {
    const queue = connection.simpleQueue<string>(name);
    const id = await queue.put('ack me');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    proxy.drop(/\/ack$/);
    await message.ack();
    assert.equal(proxy.dropped, 1);
    assert.equal(message.state, 'acked');
    assert.equal(await memory.get(name, id), null);
  });

  it('a requeue whose answer was lost resolves, and the task is ready again', async () => {
    const queue = connection.simpleQueue<string>(name);
    await queue.put('put me back');
    const message = await queue.get({ timeout: 5 });
    assert.ok(message);
    proxy.drop(/\/release$/);
    await message.requeue();
    assert.equal(proxy.dropped, 1);
    assert.equal((await memory.stats(name)).ready, 1);
  });
});
