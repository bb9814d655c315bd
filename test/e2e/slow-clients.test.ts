/**
 * Hostile connections against a spawned `pullq serve` (docs/protocol.md: the server closes
 * slow clients after its header and request timeouts; past its connection cap it closes idle
 * connections to make room). Slowloris clients dribbling header bytes, connections that send
 * nothing, bodies sent a byte at a time, thousands of idle kept-alive connections: each is
 * closed on time or left harmlessly idle, and meanwhile a normal client keeps inserting,
 * leasing and acking. The server here runs with a 2 s header and a 4 s request timeout
 * (--headers-timeout, --request-timeout) so the test takes seconds, not minutes.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ServeConfigError, resolveServeOptions } from '../../src/server/serve-options.ts';
import { bearer, startServe, type ServeProcess } from './serve-process.ts';

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 4000;
/** Node checks timeouts every quarter of the shorter one (src/server/app.ts). */
const CHECK_INTERVAL_MS = HEADERS_TIMEOUT_MS / 4;
/** Room for a loaded 2-core machine on top of a timeout and its check interval. */
const SLACK_MS = 3000;
/** A normal request slower than this is stalled, not slow: the server was not serving. */
const STALLED_MS = 5000;

interface Watched {
  socket: Socket;
  openedAt: number;
  /** ms from connect to close; null while open. */
  closedAfter: number | null;
  received: string;
}

/** A connection to the server, watched for what it receives and when it closes. */
function open(port: number): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const watched: Watched = { socket, openedAt: 0, closedAfter: null, received: '' };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (watched.received += chunk));
    socket.on('error', () => {});
    socket.on('close', () => (watched.closedAfter = performance.now() - watched.openedAt));
    socket.once('connect', () => {
      watched.openedAt = performance.now();
      resolve(watched);
    });
    socket.once('error', reject);
  });
}

async function openMany(port: number, count: number): Promise<Watched[]> {
  const sockets: Watched[] = [];
  // In batches: 2,000 connects at once overflow the listen backlog (511) and some are lost.
  for (let start = 0; start < count; start += 200) {
    const batch = Math.min(200, count - start);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, () => open(port)))));
  }
  return sockets;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!check() && performance.now() < until) await sleep(50);
}

interface Steady {
  rounds: number;
  /** Every insert, lease and ack, in ms. */
  latencies: number[];
  failures: string[];
}

/**
 * A normal client: insert a task, lease it, ack it, again and again until `stop` resolves.
 * fetch keeps its connections alive, as the pullq client does.
 */
async function steadyClient(url: string, queue: string, stop: Promise<void>): Promise<Steady> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const result: Steady = { rounds: 0, latencies: [], failures: [] };
  const timed = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const started = performance.now();
    const answer = await fetch(`${url}/v1/queues/${queue}/${path}`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const parsed = (await answer.json()) as Record<string, unknown>;
    result.latencies.push(performance.now() - started);
    if (answer.status !== 200)
      result.failures.push(`${path}: ${answer.status} ${JSON.stringify(parsed)}`);
    return parsed;
  };
  while (!stopped) {
    try {
      await timed('tasks', { tasks: [{ text: `round ${result.rounds}` }] });
      const leased = (await timed('lease', { max: 1, leaseSeconds: 30 })) as {
        tasks: { id: string; leaseToken: string }[];
      };
      const task = leased.tasks[0];
      if (!task) result.failures.push('lease: no task');
      else await timed('ack', { leases: [{ id: task.id, token: task.leaseToken }] });
      result.rounds += 1;
    } catch (error) {
      result.failures.push(String(error));
    }
  }
  return result;
}

function assertServed(steady: Steady, what: string): void {
  assert.deepEqual(steady.failures, [], `${what}: the normal client failed`);
  assert.ok(steady.rounds > 0, `${what}: the normal client did no round`);
  const slowest = Math.max(...steady.latencies);
  assert.ok(
    slowest < STALLED_MS,
    `${what}: a request of the normal client stalled ${Math.round(slowest)} ms`,
  );
}

function summary(steady: Steady): string {
  const sorted = [...steady.latencies].sort((a, b) => a - b);
  const at = (q: number): string =>
    (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
  return `${steady.rounds} rounds, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}

async function createQueue(url: string, name: string): Promise<void> {
  const answer = await fetch(`${url}/v1/queues`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  assert.equal(answer.status, 201, await answer.text());
}

describe('slow and idle clients, with a 2 s header and a 4 s request timeout', () => {
  let serve: ServeProcess;
  let port = 0;
  before(async () => {
    serve = await startServe([
      '--backend',
      'memory://',
      '--headers-timeout',
      String(HEADERS_TIMEOUT_MS / 1000),
      '--request-timeout',
      String(REQUEST_TIMEOUT_MS / 1000),
    ]);
    port = Number(new URL(serve.url).port);
  });
  after(async () => {
    assert.equal(serve.child.exitCode, null, 'the server died');
    await serve.stop();
  });

  it('300 slowloris connections sending a header byte every 500 ms get 408 and are closed after the header timeout, while a normal client is served', async (t) => {
    let stop!: () => void;
    const steady = steadyClient(serve.url, 'slowloris', new Promise((resolve) => (stop = resolve)));
    const sockets = await openMany(port, 300);
    const header = `GET /v1/queues HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(100)}`;
    let sent = 0;
    const dribble = setInterval(() => {
      for (const { socket } of sockets)
        if (!socket.destroyed) socket.write(header[sent % header.length]!);
      sent += 1;
    }, 500);
    await waitUntil(
      () => sockets.every((s) => s.closedAfter !== null),
      HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS,
    );
    clearInterval(dribble);
    stop();
    const closed = sockets.map((s) => s.closedAfter);
    assert.ok(
      closed.every((ms) => ms !== null),
      `${closed.filter((ms) => ms === null).length} slowloris connections still open`,
    );
    assert.ok(
      closed.every((ms) => ms >= HEADERS_TIMEOUT_MS - 100),
      `closed before the header timeout: ${Math.min(...closed)} ms`,
    );
    const timedOut = sockets.filter((s) => /^HTTP\/1\.1 408 /.test(s.received));
    assert.equal(timedOut.length, sockets.length, 'each was answered 408 before the close');
    assert.match(timedOut[0]!.received, /"code":"request_timeout"/);
    const served = await steady;
    assertServed(served, 'slowloris');
    t.diagnostic(
      `slowloris closed after ${Math.round(Math.min(...closed))}-${Math.round(Math.max(...closed))} ms; normal client: ${summary(served)}`,
    );
  });

  it('connections that send nothing are closed after the header timeout', async () => {
    const sockets = await openMany(port, 300);
    await waitUntil(
      () => sockets.every((s) => s.closedAfter !== null),
      HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS,
    );
    const open = sockets.filter((s) => s.closedAfter === null).length;
    assert.equal(open, 0, `${open} silent connections still open`);
    assert.ok(sockets.every((s) => s.closedAfter! >= HEADERS_TIMEOUT_MS - 100));
  });

  it('200 bodies sent a byte every 500 ms get 408 and are closed after the request timeout, while a normal client is served', async (t) => {
    let stop!: () => void;
    const steady = steadyClient(
      serve.url,
      'slow-bodies',
      new Promise((resolve) => (stop = resolve)),
    );
    const sockets = await openMany(port, 200);
    for (const { socket } of sockets) {
      socket.write(
        `POST /v1/queues/slow-bodies/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${bearer().authorization}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"tasks":[{"text":"`,
      );
    }
    const dribble = setInterval(() => {
      for (const { socket } of sockets) if (!socket.destroyed) socket.write('x');
    }, 500);
    await waitUntil(
      () => sockets.every((s) => s.closedAfter !== null),
      REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + SLACK_MS,
    );
    clearInterval(dribble);
    stop();
    const closed = sockets.map((s) => s.closedAfter);
    assert.ok(
      closed.every((ms) => ms !== null),
      `${closed.filter((ms) => ms === null).length} slow bodies still open`,
    );
    assert.ok(
      closed.every((ms) => ms >= REQUEST_TIMEOUT_MS - 100),
      `closed before the request timeout: ${Math.min(...closed)} ms`,
    );
    assert.ok(
      sockets.every((s) => /^HTTP\/1\.1 408 /.test(s.received)),
      'each was answered 408 before the close',
    );
    const served = await steady;
    assertServed(served, 'slow bodies');
    t.diagnostic(
      `slow bodies closed after ${Math.round(Math.min(...closed))}-${Math.round(Math.max(...closed))} ms; normal client: ${summary(served)}`,
    );
  });

  it('2,000 idle kept-alive connections stay open until the keep-alive timeout and do not hold up a normal client', async (t) => {
    const sockets = await openMany(port, 2000);
    for (const { socket } of sockets)
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitUntil(() => sockets.every((s) => s.received.includes('"status":"ok"')), 15_000);
    assert.ok(
      sockets.every((s) => s.received.includes('"status":"ok"')),
      'each idle connection was served its first request',
    );
    let stop!: () => void;
    const steady = steadyClient(
      serve.url,
      'idle-flood',
      new Promise((resolve) => (stop = resolve)),
    );
    // Idle past the header and request timeouts: those are for requests, not for idleness.
    await sleep(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS);
    stop();
    const served = await steady;
    const closed = sockets.filter((s) => s.closedAfter !== null).length;
    for (const { socket } of sockets) socket.destroy();
    assert.equal(closed, 0, `${closed} idle connections were closed before the keep-alive timeout`);
    assertServed(served, 'idle connections');
    t.diagnostic(`2,000 idle connections; normal client: ${summary(served)}`);
  });

  it('a long-poll longer than the request timeout is not cut: the timeouts bound receiving a request, not answering it', async () => {
    await createQueue(serve.url, 'long-poll');
    const waitMs = REQUEST_TIMEOUT_MS + 1500;
    const started = performance.now();
    const answer = await fetch(`${serve.url}/v1/queues/long-poll/lease`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ max: 1, leaseSeconds: 30, waitSeconds: waitMs / 1000 }),
    });
    // Nothing arrives: the wait ends empty, at its end.
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { tasks: [] });
    assert.ok(performance.now() - started >= waitMs - 100);
  });
});

describe('past the connection cap (--max-connections 200)', () => {
  let serve: ServeProcess;
  let port = 0;
  before(async () => {
    serve = await startServe(['--backend', 'memory://', '--max-connections', '200']);
    port = Number(new URL(serve.url).port);
  });
  after(() => serve.stop());

  it('a connection past the cap is closed at once, idle ones are closed to make room, and the next attempt is served', async () => {
    const idle = await openMany(port, 200);
    for (const { socket } of idle) socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitUntil(() => idle.every((s) => s.received.includes('"status":"ok"')), 10_000);
    assert.ok(
      idle.every((s) => s.received.includes('"status":"ok"')),
      'the first 200 were served',
    );

    const dropped = await open(port);
    await waitUntil(() => dropped.closedAfter !== null, 5000);
    assert.notEqual(dropped.closedAfter, null, 'the connection past the cap was kept');
    assert.equal(dropped.received, '');
    await waitUntil(() => idle.every((s) => s.closedAfter !== null), 5000);
    assert.ok(
      idle.every((s) => s.closedAfter !== null),
      'the idle connections were closed to make room',
    );

    const answer = await fetch(`${serve.url}/v1/queues`, { headers: bearer() });
    assert.equal(answer.status, 200);
  });

  it('a connection with a request in flight is not closed to make room', async () => {
    await createQueue(serve.url, 'capped');
    const waiting = fetch(`${serve.url}/v1/queues/capped/lease`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ max: 1, leaseSeconds: 30, waitSeconds: 2 }),
    });
    await sleep(300);
    const flood = await openMany(port, 250).catch(() => []);
    const answer = await waiting;
    for (const { socket } of flood) socket.destroy();
    assert.equal(answer.status, 200, 'the long-poll was answered');
    assert.deepEqual(await answer.json(), { tasks: [] });
  });
});

describe('the limits are settings of pullq serve', () => {
  it('PULLQ_HEADERS_TIMEOUT, PULLQ_REQUEST_TIMEOUT and PULLQ_MAX_CONNECTIONS set them; absent, the server keeps its defaults', () => {
    const set = resolveServeOptions(
      {},
      { PULLQ_HEADERS_TIMEOUT: '5', PULLQ_REQUEST_TIMEOUT: '30', PULLQ_MAX_CONNECTIONS: '500' },
    );
    assert.deepEqual(
      [set.headersTimeoutSeconds, set.requestTimeoutSeconds, set.maxConnections],
      [5, 30, 500],
    );
    const unset = resolveServeOptions({}, {});
    assert.deepEqual(
      [unset.headersTimeoutSeconds, unset.requestTimeoutSeconds, unset.maxConnections],
      [null, null, null],
    );
    const flags = resolveServeOptions(
      { headersTimeout: '7', requestTimeout: '8', maxConnections: '9' },
      { PULLQ_HEADERS_TIMEOUT: '5' },
    );
    assert.deepEqual(
      [flags.headersTimeoutSeconds, flags.requestTimeoutSeconds, flags.maxConnections],
      [7, 8, 9],
    );
  });

  it('a value that is no whole number in range, or a header timeout longer than the request timeout, is refused', () => {
    for (const env of [
      { PULLQ_HEADERS_TIMEOUT: '0' },
      { PULLQ_HEADERS_TIMEOUT: '1.5' },
      { PULLQ_REQUEST_TIMEOUT: 'soon' },
      { PULLQ_MAX_CONNECTIONS: '-1' },
      { PULLQ_MAX_CONNECTIONS: '2000000' },
      { PULLQ_HEADERS_TIMEOUT: '60', PULLQ_REQUEST_TIMEOUT: '30' },
    ]) {
      assert.throws(() => resolveServeOptions({}, env), ServeConfigError, JSON.stringify(env));
    }
  });
});
