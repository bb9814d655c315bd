/**
 * HttpBackend against real listening servers: a pullq server on memory for the round trips,
 * and bare node:http servers that misbehave (hang, answer HTML, record headers) for the
 * failure classes. The full contract runs in test/contract/http.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpBackend } from '../../src/backends/http.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { PullqError } from '../../src/protocol/errors.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<PullqError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof PullqError, String(caught));
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('HttpBackend against a pullq server', () => {
  let memory: MemoryBackend;
  let pullq: PullqServer;
  let backend: HttpBackend;
  before(async () => {
    memory = new MemoryBackend();
    pullq = await buildServer({ backend: memory });
    await pullq.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = pullq.app.server.address() as AddressInfo;
    backend = new HttpBackend({ url: `http://127.0.0.1:${port}/` });
  });
  after(async () => {
    await backend.close();
    await pullq.app.close();
    await memory.close();
  });

  it('insert, lease and ack round-trip every byte value and the task fields', async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, index) => index);
    const [inserted] = await backend.insert(
      'round-trip',
      [{ payload, tag: 'x', id: 'all-bytes' }],
      {
        createQueue: true,
      },
    );
    assert.ok(inserted?.ok);
    assert.equal(inserted.value.id, 'all-bytes');
    assert.deepEqual(inserted.value.payload, payload);
    const [leased] = await backend.lease('round-trip', { max: 10, leaseSeconds: 30 });
    assert.ok(leased);
    assert.deepEqual(leased.payload, payload);
    assert.equal(leased.tag, 'x');
    assert.equal(leased.attempts, 1);
    assert.equal(leased.state, 'leased');
    assert.deepEqual(
      await backend.ack('round-trip', [{ id: leased.id, token: leased.leaseToken }]),
      [{ ok: true, value: null }],
    );
    assert.equal(await backend.get('round-trip', 'all-bytes'), null);
  });

  it('a whole-call error comes back as the same PullqError: code, status and details', async () => {
    const error = await rejectsWithCode(
      backend.lease('no-such-queue', { max: 1, leaseSeconds: 1 }),
      'queue_not_found',
    );
    assert.equal(error.status, 404);
    assert.equal(error.retryable, false);
    assert.deepEqual(error.details, { queue: 'no-such-queue' });
    const invalid = await rejectsWithCode(
      backend.lease('round-trip', { max: 5000, leaseSeconds: 1 }),
      'invalid_argument',
    );
    assert.equal(invalid.details?.['field'], 'max');
  });

  it('a per-item error comes back as the same PullqError in its item', async () => {
    await backend.createQueue('items');
    await backend.insert('items', [{ payload: new Uint8Array(1), id: 'taken' }]);
    const [result] = await backend.insert('items', [{ payload: new Uint8Array(1), id: 'taken' }]);
    assert.ok(result && !result.ok);
    assert.ok(result.error instanceof PullqError);
    assert.equal(result.error.code, 'already_exists');
    assert.equal(result.error.details?.['tombstoned'], false);
  });

  it('an AbortSignal ends a waiting lease with no tasks, and the server leases nothing for it', async () => {
    await backend.createQueue('abortable');
    const stop = new AbortController();
    const started = performance.now();
    const waiting = backend.lease('abortable', {
      max: 1,
      leaseSeconds: 60,
      waitSeconds: 30,
      signal: stop.signal,
    });
    setTimeout(() => stop.abort(), 50);
    assert.deepEqual(await waiting, []);
    assert.ok(performance.now() - started < 1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await backend.insert('abortable', [{ payload: new Uint8Array(1), id: 'after' }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const task = await backend.get('abortable', 'after');
    assert.equal(task?.state, 'ready');
    assert.equal(task.attempts, 0);
  });

  it('an invalid queue name fails before any request, as a rejected promise', async () => {
    await rejectsWithCode(backend.stats('../etc'), 'invalid_argument');
  });
});

describe('HttpBackend failures', () => {
  it('a server that is not there makes every verb fail with unavailable, retryable', async () => {
    const server = createServer();
    const url = await listen(server);
    await close(server);
    const backend = new HttpBackend({ url });
    try {
      const error = await rejectsWithCode(backend.listQueues(), 'unavailable');
      assert.equal(error.retryable, true);
      assert.ok(error.cause, 'the network error is kept as the cause');
      await rejectsWithCode(backend.insert('q', [{ payload: new Uint8Array(1) }]), 'unavailable');
    } finally {
      await backend.close();
    }
  });

  it('a server that goes away mid-request makes the call fail with unavailable', async () => {
    const server = createServer((request) => request.socket.destroy());
    const url = await listen(server);
    const backend = new HttpBackend({ url });
    try {
      await rejectsWithCode(backend.stats('q'), 'unavailable');
    } finally {
      await backend.close();
      await close(server);
    }
  });

  it('a server that does not answer in timeoutMs makes the call fail with timeout, retryable', async () => {
    const server = createServer(() => {});
    const url = await listen(server);
    const backend = new HttpBackend({ url, timeoutMs: 200 });
    try {
      const error = await rejectsWithCode(backend.listQueues(), 'timeout');
      assert.equal(error.retryable, true);
    } finally {
      await backend.close();
      await close(server);
    }
  });

  it('a 502 page from a proxy becomes unavailable; another non-catalog answer becomes internal', async () => {
    let status = 502;
    const server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    });
    const url = await listen(server);
    const backend = new HttpBackend({ url });
    try {
      await rejectsWithCode(backend.listQueues(), 'unavailable');
      status = 500;
      await rejectsWithCode(backend.listQueues(), 'internal');
    } finally {
      await backend.close();
      await close(server);
    }
  });

  it('the token and extra headers go with every request', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"queues":[]}');
    });
    const url = await listen(server);
    const backend = new HttpBackend({ url, token: 's3cret', headers: { 'x-tenant': 'acme' } });
    try {
      assert.deepEqual(await backend.listQueues(), []);
      assert.equal(seen[0]?.authorization, 'Bearer s3cret');
      assert.equal(seen[0]?.['x-tenant'], 'acme');
    } finally {
      await backend.close();
      await close(server);
    }
  });

  it('after close every verb fails with unavailable', async () => {
    const backend = new HttpBackend({ url: 'http://127.0.0.1:9' });
    await backend.close();
    await rejectsWithCode(backend.listQueues(), 'unavailable');
  });
});
