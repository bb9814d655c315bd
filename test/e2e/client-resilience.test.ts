/**
 * The client against real trouble: a `pullq serve` process (SQLite in a temp folder) killed
 * with SIGKILL and restarted on the same port and data folder while a producer and a consumer
 * work, and a counting HTTP proxy in this test in front of a real server, to see how many
 * requests each call made. Only errors the catalog marks retryable may be tried again.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueStats } from '../../src/backends/backend.ts';
import { Connection } from '../../src/client/connection.ts';
import type { RetryEvent } from '../../src/client/retry.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { startCountingProxy, type CountingProxy } from './fixtures/counting-proxy.ts';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from './serve-process.ts';

/** Quick retries, and enough of them to ride out a restart (about a second here). */
const RETRY = { maxRetries: 30, initialDelayMs: 20, maxDelayMs: 400 };
/** Long enough that a lease taken before the kill outlives the restart; short enough that a
 * task whose lease answer was lost in the crash comes back within the test. */
const LEASE_SECONDS = 4;

type Cleanup = () => Promise<unknown>;

/** A port that was free a moment ago, so that a restarted server can take the same one. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** `pullq serve` on a fixed port: the later `--port` wins over the `--port 0` startServe puts first. */
function serveOn(port: number, dir: string): Promise<ServeProcess> {
  return startServe(['--port', String(port), '--data', dir]);
}

async function adminCall(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...bearer(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? null : (JSON.parse(text) as unknown);
}

const EMPTY = { ready: 0, delayed: 0, leased: 0, dead: 0 };

async function queueCounts(url: string, queue: string): Promise<typeof EMPTY> {
  const stats = await adminCall(url, 'GET', `/v1/queues/${queue}/stats`);
  const { ready, delayed, leased, dead } = stats as QueueStats;
  return { ready, delayed, leased, dead };
}

const BODY_SENT = 'undici:request:bodySent';

/**
 * Resolves the moment a request to `origin` whose `METHOD path` matches has been sent in full
 * (undici's diagnostics channel; the promise settles before any more I/O): a kill from there
 * lands while that request is on the wire, before or after the server acted on it.
 */
function whenSent(origin: string, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (message: unknown): void => {
      const { request } = message as {
        request: { origin: unknown; method: string; path: string };
      };
      if (new URL(String(request.origin)).origin !== origin) return;
      if (!pattern.test(`${request.method} ${request.path}`)) return;
      unsubscribe(BODY_SENT, listener);
      clearTimeout(timer);
      resolve();
    };
    // The client's requests no longer show on undici's channel: fail, rather than wait forever.
    const timer = setTimeout(() => {
      unsubscribe(BODY_SENT, listener);
      reject(new Error(`no request matching ${String(pattern)} was seen on ${BODY_SENT}`));
    }, 20_000);
    subscribe(BODY_SENT, listener);
  });
}

describe('the client across a SIGKILL and restart of pullq serve', () => {
  const cleanups: Cleanup[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  const setUp = async (name: string) => {
    const dir = await mkdtemp(join(tmpdir(), `pullq-client-${name}-`));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const servers: ServeProcess[] = [await serveOn(port, dir)];
    let restarting: Promise<void> = Promise.resolve();
    let over = false;
    cleanups.push(async () => {
      over = true; // a restart under way when the test failed starts no new server
      await restarting.catch(() => undefined);
      await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    });
    const connect = (retries: RetryEvent[]): Connection => {
      const connection = new Connection(`pullq://127.0.0.1:${port}`, {
        token: TEST_ADMIN_TOKEN,
        retry: RETRY,
        onRetry: (event) => retries.push(event),
        leaseSeconds: LEASE_SECONDS,
      });
      cleanups.push(() => connection.close());
      return connection;
    };
    /** Kills the server for real (no drain) at once, when called, then waits and starts it
     * again on the same port and data folder. */
    const crashAndRestart = async (): Promise<void> => {
      const running = servers.at(-1) as ServeProcess;
      restarting = (async () => {
        assert.equal(await running.stop('SIGKILL'), 'SIGKILL'); // the kill itself is synchronous
        await sleep(300);
        if (!over) servers.push(await serveOn(port, dir));
      })();
      await restarting;
    };
    const url = (): string => (servers.at(-1) as ServeProcess).url;
    return { connect, crashAndRestart, url, origin: `http://127.0.0.1:${port}` };
  };

  it('every message put is acked exactly once, though the server is killed during an ack, a put and a lease', async (t) => {
    const N = 200;
    const QUEUE = 'numbers';
    /** Where each kill lands: the first request of that kind sent in full after that many acks. */
    const CRASHES = [
      { afterAcks: 50, during: /^POST \/v1\/queues\/numbers\/ack$/ },
      { afterAcks: 100, during: /^POST \/v1\/queues\/numbers\/tasks$/ },
      { afterAcks: 150, during: /^POST \/v1\/queues\/numbers\/lease$/ },
    ];
    const { connect, crashAndRestart, url, origin } = await setUp('restart');
    const producerRetries: RetryEvent[] = [];
    const consumerRetries: RetryEvent[] = [];
    const producer = connect(producerRetries).simpleQueue<{ n: number }>(QUEUE);
    const consumer = connect(consumerRetries).simpleQueue<{ n: number }>(QUEUE);
    const received: number[] = [];
    const acked: number[] = [];
    const crashes: Promise<void>[] = [];
    let leasesLost = 0;
    let stopped = false;

    // Kept at most 30 ahead of the consumer, so that it is still putting at the second kill.
    const producing = (async () => {
      for (let n = 0; n < N && !stopped; n++) {
        while (n - acked.length > 30 && !stopped) await sleep(2);
        await producer.put({ n });
      }
    })();
    producing.catch(() => undefined); // awaited below; a failure is reported there, not twice

    const consumeOne = async (timeoutSeconds: number): Promise<boolean> => {
      const message = await consumer.get({ timeout: timeoutSeconds });
      if (message === null) return false;
      received.push(message.body.n);
      try {
        await message.ack();
      } catch (error) {
        // The lease ran out while the server was down: the task comes back, and is acked then.
        if (!isPullqError(error, 'lease_lost')) throw error;
        leasesLost++;
        return true;
      }
      acked.push(message.body.n);
      const crash = CRASHES.find((planned) => planned.afterAcks === acked.length);
      if (crash !== undefined) {
        const crashing = whenSent(origin, crash.during).then(crashAndRestart);
        crashing.catch(() => undefined); // awaited below, as producing
        crashes.push(crashing);
      }
      return true;
    };
    try {
      while (new Set(acked).size < N) {
        const got = await consumeOne(10);
        assert.ok(got, `no message for 10 s with ${new Set(acked).size} of ${N} acked`);
      }
      await producing;
      await Promise.all(crashes);
      // A task whose ack was wrongly taken as done would come back once its lease ran out.
      while (await consumeOne(LEASE_SECONDS + 1));
    } finally {
      stopped = true;
    }

    assert.equal(crashes.length, CRASHES.length);
    assert.ok(consumerRetries.length > 0, 'the consumer never retried: the kills missed it');
    assert.ok(producerRetries.length > 0, 'the producer never retried: the kill missed it');
    for (const event of [...consumerRetries, ...producerRetries]) {
      assert.ok(event.error.retryable, `retried a ${event.error.code}`);
    }
    const expected = Array.from({ length: N }, (_, n) => n);
    assert.deepEqual(
      acked.toSorted((a, b) => a - b),
      expected,
      'each number acked exactly once',
    );
    assert.deepEqual(await queueCounts(url(), QUEUE), EMPTY);
    t.diagnostic(
      `received ${received.length} for ${N} acked; retries: consumer ${consumerRetries.length}, producer ${producerRetries.length}; acks that found their lease gone: ${leasesLost}`,
    );
  });

  it('a get() parked in a long-poll survives the kill and returns the task put after the restart', async () => {
    const QUEUE = 'parked';
    const { connect, crashAndRestart, url } = await setUp('parked');
    await adminCall(url(), 'POST', '/v1/queues', { name: QUEUE });
    const consumerRetries: RetryEvent[] = [];
    const consumer = connect(consumerRetries).simpleQueue<string>(QUEUE);

    const parked = consumer.get({ timeout: 25 });
    await sleep(300); // the lease is now waiting on the empty queue
    assert.equal(consumerRetries.length, 0);
    await crashAndRestart();
    // Let the consumer's retries reach the new server and park there again.
    for (let waited = 0; consumerRetries.length === 0; waited += 10) {
      assert.ok(waited < 10_000, 'the parked get() never retried after the kill');
      await sleep(10);
    }
    await sleep(RETRY.maxDelayMs + 200);

    const producer = connect([]).simpleQueue<string>(QUEUE);
    await producer.put('after the restart');
    const message = await parked;
    assert.ok(message !== null, 'the parked get() ended without the task');
    assert.equal(message.body, 'after the restart');
    await message.ack();
    assert.ok(consumerRetries.length > 0);
    assert.ok(consumerRetries.every((event) => event.error.code === 'unavailable'));
    assert.deepEqual(await queueCounts(url(), QUEUE), EMPTY);
  });
});

describe('which errors the client retries, counted at a proxy in front of pullq serve', () => {
  const cleanups: Cleanup[] = [];
  let server: ServeProcess;
  let proxy: CountingProxy;
  let retries: RetryEvent[];

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-client-retryable-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    server = await startServe(['--data', dir]);
    cleanups.push(() => server.stop('SIGKILL'));
    proxy = await startCountingProxy(server.url);
    cleanups.push(() => proxy.close());
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  beforeEach(() => {
    // A failed test may leave tricks unplayed; they must not fall on the next one.
    proxy.failNext(0);
    proxy.loseAnswers(0);
  });

  const connect = (token: string): Connection => {
    retries = [];
    // Many quick retries: a call that retried at all would show several requests.
    const connection = new Connection(proxy.url.replace(/^http:/, 'pullq:'), {
      token,
      retry: { maxRetries: 5, initialDelayMs: 1, maxDelayMs: 5 },
      onRetry: (event) => retries.push(event),
    });
    cleanups.push(() => connection.close());
    return connection;
  };

  /** What `call` resolved with, and the requests it made through the proxy. */
  const through = async <R>(call: () => Promise<R>): Promise<{ result: R; requests: string[] }> => {
    const start = proxy.requests.length;
    const result = await call();
    return { result, requests: proxy.requests.slice(start) };
  };

  it('permission_denied (403) on put and get is not retried: one request each, no onRetry', async () => {
    await adminCall(server.url, 'POST', '/v1/queues', { name: 'orders' });
    const created = (await adminCall(server.url, 'POST', '/v1/tokens', {
      name: 'billing-consumer',
      roles: ['consumer'],
      queue: 'billing',
    })) as { token: string };
    const orders = connect(created.token).simpleQueue<string>('orders');
    const denied = (error: unknown): boolean =>
      isPullqError(error, 'permission_denied') && error.status === 403;

    const put = await through(() => assert.rejects(orders.put('not mine'), denied));
    assert.deepEqual(put.requests, ['POST /v1/queues/orders/tasks']);
    const get = await through(() => assert.rejects(orders.get({ timeout: 2 }), denied));
    assert.deepEqual(get.requests, ['POST /v1/queues/orders/lease']);
    assert.deepEqual(retries, []);
    assert.deepEqual(await queueCounts(server.url, 'orders'), EMPTY);
  });

  it('invalid_argument (400) from the server is not retried: one request, no onRetry', async () => {
    const queue = connect(TEST_ADMIN_TOKEN).simpleQueue<string>('bad-requests');
    const invalid = (error: unknown): boolean =>
      isPullqError(error, 'invalid_argument') && error.status === 400;
    const farEta = Date.now() + 31 * 24 * 3600 * 1000;

    // Neither is checked on the client side: both reach the server, which refuses them.
    for (const options of [{ eta: farEta }, { tag: 't'.repeat(501) }]) {
      const put = await through(() => assert.rejects(queue.put('refused', options), invalid));
      assert.deepEqual(put.requests, ['POST /v1/queues/bad-requests/tasks']);
    }
    assert.deepEqual(retries, []);
    const queues = (await adminCall(server.url, 'GET', '/v1/queues')) as {
      queues: { name: string }[];
    };
    assert.ok(!queues.queues.some((q) => q.name === 'bad-requests'), 'nothing was inserted');
  });

  it('unavailable (503) is retried: after two 503s put, get and ack succeed, two onRetry each', async () => {
    const queue = connect(TEST_ADMIN_TOKEN).simpleQueue<string>('busy');
    const threeTimes = (request: string): string[] => [request, request, request];

    proxy.failNext(2);
    const put = await through(() => queue.put('through the storm'));
    assert.deepEqual(put.requests, threeTimes('POST /v1/queues/busy/tasks'));
    assert.deepEqual(await queueCounts(server.url, 'busy'), { ...EMPTY, ready: 1 });

    proxy.failNext(2);
    const get = await through(() => queue.get({ timeout: 2 }));
    assert.deepEqual(get.requests, threeTimes('POST /v1/queues/busy/lease'));
    const message = get.result;
    assert.ok(message !== null);
    assert.equal(message.body, 'through the storm');

    proxy.failNext(2);
    const ack = await through(() => message.ack());
    assert.deepEqual(ack.requests, threeTimes('POST /v1/queues/busy/ack'));

    assert.deepEqual(
      retries.map((event) => [event.error.code, event.retry]),
      [1, 2, 1, 2, 1, 2].map((retry) => ['unavailable', retry]),
    );
    assert.deepEqual(await queueCounts(server.url, 'busy'), EMPTY);
  });
});
