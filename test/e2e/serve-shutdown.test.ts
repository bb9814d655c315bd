/**
 * Graceful shutdown of `pullq serve`: SIGTERM ends waiting long-polls at once (empty), lets
 * the process exit 0, and leaves the data whole for the next start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch } from 'undici';
import { TEST_ADMIN_TOKEN, bearer, startServe } from './serve-process.ts';

describe('pullq serve shutdown', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('SIGTERM ends a waiting long-poll lease empty and promptly, exits 0, and keeps the data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-shutdown-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const agent = new Agent();
    cleanups.push(() => agent.close());
    const post = (url: string, body: unknown) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer() },
        body: JSON.stringify(body),
        dispatcher: agent,
      });

    const server = await startServe(['--data', dir]);
    cleanups.push(() => server.stop('SIGKILL'));
    const insert = await post(`${server.url}/v1/queues/kept/tasks`, {
      tasks: [{ id: 'kept-1', text: 'still here' }],
    });
    assert.equal(insert.status, 200);
    const create = await post(`${server.url}/v1/queues`, { name: 'idle' });
    assert.equal(create.status, 201);

    const started = performance.now();
    const lease = post(`${server.url}/v1/queues/idle/lease`, {
      max: 1,
      leaseSeconds: 30,
      waitSeconds: 30,
    });
    await sleep(300); // the lease is now waiting on the server
    const code = server.stop('SIGTERM');

    const answer = await lease;
    const elapsedMs = performance.now() - started;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { tasks: [] });
    assert.ok(
      elapsedMs < 5_000,
      `the lease returned after ${Math.round(elapsedMs)} ms, not at once`,
    );
    assert.equal(await code, 0);
    assert.match(server.stderr(), /SIGTERM received, shutting down/);
    assert.match(server.stderr(), /pullq serve: stopped/);

    const again = await startServe(['--data', dir]);
    cleanups.push(() => again.stop('SIGKILL'));
    const task = await fetch(`${again.url}/v1/queues/kept/tasks/kept-1`, {
      headers: bearer(),
      dispatcher: agent,
    });
    assert.equal(task.status, 200);
    const body = (await task.json()) as { payload: string; state: string };
    assert.equal(Buffer.from(body.payload, 'base64').toString(), 'still here');
    assert.equal(body.state, 'ready');
    assert.equal(await again.stop('SIGTERM'), 0);
  });
  it('shutdown waits for a request in flight, and a second SIGTERM forces the exit', async () => {
    const server = await startServe(['--backend', 'memory://']);
    cleanups.push(() => server.stop('SIGKILL'));
    const { hostname, port } = new URL(server.url);
    // A request whose body never finishes: in flight until the server gives up on it.
    const socket = connect(Number(port), hostname);
    cleanups.push(() => Promise.resolve(socket.destroy()));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST /v1/queues/slow/tasks HTTP/1.1\r\nHost: pullq\r\n' +
        `Authorization: Bearer ${TEST_ADMIN_TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"tasks":',
    );
    await sleep(200);

    server.child.kill('SIGTERM');
    await sleep(700);
    assert.equal(server.child.exitCode, null, 'the first signal waits for the request in flight');
    assert.match(server.stderr(), /SIGTERM received, shutting down \(send it again to force\)/);

    const started = performance.now();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 1);
    assert.ok(performance.now() - started < 3_000, 'the second signal exits at once');
    assert.match(server.stderr(), /SIGTERM again: exiting now/);
  });
});
