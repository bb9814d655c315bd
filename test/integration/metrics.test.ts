/**
 * The server's Prometheus metrics and request logs (docs/operations-metrics.md): what /metrics
 * says after a scripted sequence of operations through the API, who may read it, the
 * --metrics-port listener, and request ids in headers and log lines.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { newTokenRecord, type Role } from '../../src/auth/tokens.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { logDestination, resolveServeOptions, startServe } from '../../src/server/serve.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';

type Json = Record<string, unknown>;

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  body: Json;
}

interface TestServer {
  server: PullqServer;
  backend: MemoryBackend;
  clock: ManualClock;
  /** An admin token on `*`. */
  admin: string;
  token(roles: Role[], pattern?: string): Promise<string>;
  call(
    method: string,
    url: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Answer>;
  /** GET /metrics with the admin token, parsed. */
  metrics(): Promise<Sample[]>;
  close(): Promise<void>;
}

const open: TestServer[] = [];
after(async () => {
  for (const server of open) await server.close();
});

let tokens = 0;

/** A server with authentication on a memory backend, on a manual clock, sampler off. */
async function testServer(options: { logger?: Logger } = {}): Promise<TestServer> {
  const clock = new ManualClock();
  const backend = new MemoryBackend({ clock });
  const server = await buildServer({
    backend,
    clock,
    auth: { tokens: backend },
    observability: { sampleSeconds: 0 },
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const token = async (roles: Role[], pattern = '*'): Promise<string> => {
    const made = newTokenRecord(
      { name: `t${++tokens}`, roles, queuePattern: pattern, expiresAt: null },
      clock.now(),
    );
    await backend.createToken(made.record);
    return made.token;
  };
  const admin = await token(['admin']);
  const call: TestServer['call'] = async (method, url, { token, body, headers = {} } = {}) => {
    const response = await server.app.inject({
      method: method as 'GET',
      url,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === null ? {} : { authorization: `Bearer ${token ?? admin}` }),
        ...headers,
      },
    });
    const text = response.body;
    let parsed: Json = {};
    if (String(response.headers['content-type']).startsWith('application/json')) {
      parsed = JSON.parse(text) as Json;
    }
    return { status: response.statusCode, headers: response.headers, text, body: parsed };
  };
  const testServer: TestServer = {
    server,
    backend,
    clock,
    admin,
    token,
    call,
    async metrics() {
      const answer = await call('GET', '/metrics');
      assert.equal(answer.status, 200, answer.text);
      assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      return parseMetrics(answer.text);
    },
    async close() {
      server.beginShutdown();
      await server.app.close();
      await backend.close();
    },
  };
  open.push(testServer);
  return testServer;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match?.[1] && match[3], `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` with these labels (others may be present). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
  );
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

let queues = 0;
function queueName(): string {
  return `metrics-${process.pid}-${++queues}`;
}

describe('/metrics', () => {
  it("/metrics values match the API's stats for a scripted sequence, and count what was done", async () => {
    const t = await testServer();
    const queue = queueName();
    const path = `/v1/queues/${queue}`;
    assert.equal((await t.call('POST', '/v1/queues', { body: { name: queue } })).status, 201);
    const inserted = await t.call('POST', `${path}/tasks`, {
      body: {
        tasks: [
          ...['t1', 't2', 't3', 't4', 't5', 't6'].map((id) => ({ id, text: id })),
          { id: 'later', text: 'later', delaySeconds: 60 },
        ],
      },
    });
    assert.equal(inserted.status, 200);
    const leased = await t.call('POST', `${path}/lease`, { body: { max: 4, leaseSeconds: 30 } });
    const lease = Object.fromEntries(
      (leased.body['tasks'] as { id: string; leaseToken: string }[]).map((task) => [
        task.id,
        task.leaseToken,
      ]),
    );
    assert.deepEqual(Object.keys(lease).sort(), ['t1', 't2', 't3', 't4']);
    const ok = async (verb: string, body: unknown): Promise<void> => {
      const answer = await t.call('POST', `${path}/${verb}`, { body });
      assert.equal(answer.status, 200, answer.text);
      for (const result of answer.body['results'] as { ok: boolean }[]) {
        assert.equal(result.ok, true, answer.text);
      }
    };
    await ok('ack', { leases: [{ id: 't1', token: lease['t1'] }] });
    await ok('extend', { leases: [{ id: 't2', token: lease['t2'] }], leaseSeconds: 60 });
    await ok('release', { leases: [{ id: 't3', token: lease['t3'], error: 'boom' }] });
    await ok('release', {
      leases: [{ id: 't4', token: lease['t4'], error: 'poison', deadLetter: true }],
    });
    await ok('delete', { ids: ['t5'] });
    // A stale token fails its item: not counted.
    const stale = await t.call('POST', `${path}/ack`, {
      body: { leases: [{ id: 't1', token: lease['t1'] }] },
    });
    assert.equal((stale.body['results'] as { ok: boolean }[])[0]?.ok, false);
    t.clock.advance(5000);

    const stats = (await t.call('GET', `${path}/stats`)).body;
    assert.deepEqual(
      [stats['ready'], stats['delayed'], stats['leased'], stats['dead']],
      [2, 1, 1, 1],
      'ready t3 and t6, delayed later, leased t2, dead t4',
    );
    const samples = await t.metrics();
    for (const state of ['ready', 'delayed', 'leased', 'dead']) {
      assert.equal(value(samples, 'pullq_queue_tasks', { queue, state }), stats[state], state);
    }
    assert.equal(
      value(samples, 'pullq_queue_oldest_ready_age_seconds', { queue }),
      stats['oldestReadyAgeSeconds'],
    );
    const operations = {
      inserted: 7,
      leased: 4,
      acked: 1,
      extended: 1,
      released: 1,
      failed: 2,
      dead_lettered: 1,
      deleted: 1,
    };
    for (const [operation, count] of Object.entries(operations)) {
      assert.equal(
        value(samples, 'pullq_operations_total', { queue, operation }),
        count,
        operation,
      );
    }
    assert.equal(value(samples, 'pullq_dead_letters_total', { queue }), 1);
    assert.equal(value(samples, 'pullq_lease_expiries_total', { queue }), 0);
    assert.equal(value(samples, 'pullq_long_poll_waiters'), 0);
    for (const [operation, calls] of Object.entries({ insert: 1, lease: 1, ack: 2, release: 2 })) {
      assert.equal(
        value(samples, 'pullq_operation_duration_seconds_count', { operation }),
        calls,
        operation,
      );
    }
    // Buckets are cumulative and end with +Inf, the count.
    const buckets = samples
      .filter(
        (sample) =>
          sample.name === 'pullq_operation_duration_seconds_bucket' &&
          sample.labels['operation'] === 'ack',
      )
      .map((sample) => sample.value);
    assert.deepEqual(
      buckets,
      [...buckets].sort((a, b) => a - b),
    );
    assert.equal(
      value(samples, 'pullq_operation_duration_seconds_bucket', { operation: 'ack', le: '+Inf' }),
      2,
    );
    assert.equal(
      value(samples, 'pullq_http_responses_total', {
        route: '/v1/queues/:queue/release',
        method: 'POST',
        status: '200',
      }),
      2,
    );
  });

  it('a lease past maxLeases that dead-letters a task counts a dead letter and the expired lease before it', async () => {
    const t = await testServer();
    const queue = queueName();
    const path = `/v1/queues/${queue}`;
    await t.call('POST', '/v1/queues', { body: { name: queue, maxLeases: 1 } });
    await t.call('POST', `${path}/tasks`, { body: { tasks: [{ text: 'flaky' }] } });
    const first = await t.call('POST', `${path}/lease`, { body: { max: 1, leaseSeconds: 10 } });
    assert.equal((first.body['tasks'] as unknown[]).length, 1);
    t.clock.advance(11_000);
    const second = await t.call('POST', `${path}/lease`, { body: { max: 1, leaseSeconds: 10 } });
    assert.deepEqual(second.body['tasks'], [], 'the lease dead-lettered the task instead');
    await t.server.observability.sample();
    const samples = await t.metrics();
    assert.equal(value(samples, 'pullq_queue_tasks', { queue, state: 'dead' }), 1);
    assert.equal(value(samples, 'pullq_dead_letters_total', { queue }), 1);
    assert.equal(value(samples, 'pullq_lease_expiries_total', { queue }), 1);
    // Found once: another round counts nothing more.
    await t.server.observability.sample();
    assert.equal(value(await t.metrics(), 'pullq_dead_letters_total', { queue }), 1);
  });

  it('a task leased again after its lease ran out counts one expiry; one released first counts none', async () => {
    const t = await testServer();
    const queue = queueName();
    const path = `/v1/queues/${queue}`;
    await t.call('POST', `${path}/tasks`, {
      body: {
        tasks: [
          { id: 'a', text: 'a' },
          { id: 'b', text: 'b' },
        ],
      },
    });
    const leased = await t.call('POST', `${path}/lease`, { body: { max: 2, leaseSeconds: 10 } });
    const b = (leased.body['tasks'] as { id: string; leaseToken: string }[]).find(
      (task) => task.id === 'b',
    );
    await t.call('POST', `${path}/release`, {
      body: { leases: [{ id: 'b', token: b?.leaseToken }] },
    });
    t.clock.advance(11_000);
    const again = await t.call('POST', `${path}/lease`, { body: { max: 2, leaseSeconds: 10 } });
    assert.equal((again.body['tasks'] as unknown[]).length, 2);
    assert.equal(value(await t.metrics(), 'pullq_lease_expiries_total', { queue }), 1);
  });

  it('a lease waiting for tasks is a long-poll waiter until it returns', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.call('POST', '/v1/queues', { body: { name: queue } });
    const waiting = t.call('POST', `/v1/queues/${queue}/lease`, {
      body: { max: 1, leaseSeconds: 30, waitSeconds: 10 },
    });
    // The lease is inside the backend once the waiter gauge says so.
    let waiters = 0;
    for (let tries = 0; tries < 100 && waiters === 0; tries++) {
      waiters = value(await t.metrics(), 'pullq_long_poll_waiters');
      if (waiters === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(waiters, 1);
    await t.call('POST', `/v1/queues/${queue}/tasks`, { body: { tasks: [{ text: 'now' }] } });
    assert.equal(((await waiting).body['tasks'] as unknown[]).length, 1);
    const samples = await t.metrics();
    assert.equal(value(samples, 'pullq_long_poll_waiters'), 0);
    assert.equal(
      value(samples, 'pullq_operation_duration_seconds_count', { operation: 'lease_wait' }),
      1,
    );
  });

  it('responses are counted by route pattern, never by raw URL', async () => {
    const t = await testServer();
    for (const queue of [queueName(), queueName(), queueName()]) {
      await t.call('GET', `/v1/queues/${queue}/stats`);
    }
    await t.call('GET', '/no/such/path?x=1');
    const samples = (await t.metrics()).filter((s) => s.name === 'pullq_http_responses_total');
    assert.equal(
      value(samples, 'pullq_http_responses_total', {
        route: '/v1/queues/:queue/stats',
        method: 'GET',
        status: '404',
      }),
      3,
    );
    assert.equal(
      value(samples, 'pullq_http_responses_total', { route: 'unmatched', status: '404' }),
      1,
    );
    for (const sample of samples) assert.doesNotMatch(sample.labels['route'] ?? '', /metrics-\d/);
  });

  it('stats of a queue nothing changed through the server are cached; a change through it refreshes them', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.call('POST', `/v1/queues/${queue}/tasks`, { body: { tasks: [{ text: 'one' }] } });
    assert.equal(value(await t.metrics(), 'pullq_queue_tasks', { queue, state: 'ready' }), 1);
    // Behind the server's back (as another server sharing the store would): not seen yet.
    await t.backend.insert(queue, [{ payload: new Uint8Array(1) }]);
    assert.equal(value(await t.metrics(), 'pullq_queue_tasks', { queue, state: 'ready' }), 1);
    await t.call('POST', `/v1/queues/${queue}/tasks`, { body: { tasks: [{ text: 'three' }] } });
    assert.equal(value(await t.metrics(), 'pullq_queue_tasks', { queue, state: 'ready' }), 3);
  });

  it('process metrics are included, prefixed pullq_', async () => {
    const t = await testServer();
    const samples = await t.metrics();
    assert.ok(samples.some((sample) => sample.name === 'pullq_process_cpu_user_seconds_total'));
    assert.ok(samples.some((sample) => sample.name.startsWith('pullq_nodejs_')));
  });

  it('/metrics needs the admin role on *: 401 without a token, 403 for others, in the native envelope', async () => {
    const t = await testServer();
    const refusals: [string | null, number, string][] = [
      [null, 401, 'unauthenticated'],
      [await t.token(['consumer', 'producer']), 403, 'permission_denied'],
      [await t.token(['admin'], 'emails-*'), 403, 'permission_denied'],
    ];
    for (const [token, status, code] of refusals) {
      const answer = await t.call('GET', '/metrics', { token });
      assert.equal(answer.status, status, answer.text);
      assert.equal((answer.body['error'] as Json | undefined)?.['code'], code);
    }
  });

  it('with --metrics-port, /metrics is served without a token on its own listener and not on the server port', async () => {
    const admin = 'pq_metrics-port-test-admin-token';
    const options = resolveServeOptions(
      { backend: 'memory://', port: '0', metricsPort: '0', logLevel: 'silent' },
      { PULLQ_ADMIN_TOKEN: admin, XDG_CONFIG_HOME: '/nonexistent-pullq-test' },
    );
    const said: string[] = [];
    const running = await startServe(options, { say: (line) => said.push(line), emit: () => {} });
    try {
      assert.equal(running.metrics.needsToken, false);
      assert.notEqual(new URL(running.metrics.url).port, new URL(running.url).port);
      const scraped = await fetch(running.metrics.url);
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /^# HELP pullq_queue_tasks /m);
      const main = await fetch(`${running.url}/metrics`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      assert.equal(main.status, 404);
      assert.equal(((await main.json()) as { error: Json }).error['code'], 'route_not_found');
      const elsewhere = await fetch(running.metrics.url.replace('/metrics', '/v1/queues'));
      assert.equal(elsewhere.status, 404, 'the metrics listener serves nothing else');
    } finally {
      await running.stop();
    }
  });
});

describe('request ids and request logs', () => {
  /** A server whose pino lines (at `level`) are collected, parsed. */
  async function logged(level: string): Promise<{ t: TestServer; lines: Json[] }> {
    const lines: Json[] = [];
    const logger = pino(
      { level },
      { write: (line: string) => lines.push(JSON.parse(line) as Json) },
    );
    return { t: await testServer({ logger }), lines };
  }

  it('a well-formed X-Request-Id is echoed and carried by every log line of its request', async () => {
    const { t, lines } = await logged('debug');
    const answer = await t.call('GET', `/v1/queues/${queueName()}/stats`, {
      headers: { 'x-request-id': 'edge-7f3a.42' },
    });
    assert.equal(answer.status, 404);
    assert.equal(answer.headers['x-request-id'], 'edge-7f3a.42');
    const mine = lines.filter((line) => line['requestId'] === 'edge-7f3a.42');
    assert.equal(mine.length, 1, JSON.stringify(lines));
    assert.deepEqual(
      [mine[0]?.['msg'], mine[0]?.['route'], mine[0]?.['status'], mine[0]?.['level']],
      ['request', '/v1/queues/:queue/stats', 404, 20],
    );
  });

  it('an ill-formed or missing X-Request-Id is replaced by a new id, unique per request', async () => {
    const { t } = await logged('info');
    const ids = new Set<unknown>();
    for (const header of ['has space', 'x'.repeat(129), 'quote"d', undefined]) {
      const answer = await t.call('GET', '/healthz', {
        token: null,
        ...(header === undefined ? {} : { headers: { 'x-request-id': header } }),
      });
      assert.match(String(answer.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-z]+$/);
      ids.add(answer.headers['x-request-id']);
    }
    assert.equal(ids.size, 4);
  });

  it('a refused request still carries its id', async () => {
    const { t } = await logged('info');
    const answer = await t.call('GET', '/metrics', {
      token: null,
      headers: { 'x-request-id': 'r-401' },
    });
    assert.equal(answer.status, 401);
    assert.equal(answer.headers['x-request-id'], 'r-401');
  });

  it('the line per request is written at debug, not at info; server errors are logged with their request id at info', async () => {
    const { t, lines } = await logged('info');
    await t.call('GET', '/healthz', { token: null, headers: { 'x-request-id': 'quiet-1' } });
    assert.deepEqual(
      lines.filter((line) => line['requestId'] === 'quiet-1'),
      [],
    );
    // A closed store answers 503 unavailable: a warning, with the request id.
    await t.backend.close();
    const failed = await t.call('GET', `/v1/queues/${queueName()}/stats`, {
      headers: { 'x-request-id': 'down-1' },
    });
    assert.equal(failed.status, 503);
    const warning = lines.find((line) => line['requestId'] === 'down-1');
    assert.equal(warning?.['level'], 40, JSON.stringify(lines));
    assert.equal(warning['code'], 'unavailable');
  });

  it('on a terminal log lines are readable text; off a terminal they stay JSON', async () => {
    const written: string[] = [];
    const terminal = { isTTY: true, write: (text: string) => written.push(text) };
    const logger = pino({ level: 'info' }, await logDestination(terminal));
    logger.child({ requestId: 'tty-1' }).warn({ code: 'unavailable' }, 'request failed');
    assert.equal(written.length, 1);
    assert.match(
      written[0]!,
      /^\d\d:\d\d:\d\d WARN {2}request failed requestId=tty-1 code=unavailable\n$/,
    );
    assert.equal(await logDestination({ isTTY: false, write: () => {} }), undefined);
  });
});
