/**
 * GET /v1/stats/history (docs/protocol.md, "Stats history"): the shape the dashboard draws
 * from, the sums over the queues a token may read, permissions, and bad input. A manual clock
 * places every operation in a known second; backlog rounds run when the test calls them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { newTokenRecord, type Role } from '../../src/auth/tokens.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import {
  COUNT_SERIES,
  History as HistoryRings,
  type CountSeries,
} from '../../src/server/observability/history.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';

type Json = Record<string, unknown>;

interface History {
  step: number;
  start: number;
  series: Record<'inserted' | 'leased' | 'acked' | 'failed' | 'deadLettered', number[]> & {
    backlog: (number | null)[];
  };
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Json;
}

/** 2025-11-21T04:40:00.250Z: a quarter of a second into a second. */
const START = 1_763_700_000_250;

interface TestServer {
  server: PullqServer;
  clock: ManualClock;
  token(roles: Role[], pattern?: string): Promise<string>;
  call(method: string, url: string, body?: unknown, token?: string | null): Promise<Answer>;
  history(query: string, token?: string): Promise<History>;
  insert(queue: string, count: number): Promise<void>;
}

const servers: { server: PullqServer; backend: MemoryBackend }[] = [];
after(async () => {
  for (const { server, backend } of servers) {
    server.beginShutdown();
    await server.app.close();
    await backend.close();
  }
});

let tokenNames = 0;

async function testServer(): Promise<TestServer> {
  const clock = new ManualClock(START);
  const backend = new MemoryBackend({ clock });
  const server = await buildServer({
    backend,
    clock,
    auth: { tokens: backend },
    observability: { sampleSeconds: 0 },
  });
  servers.push({ server, backend });
  const token = async (roles: Role[], pattern = '*'): Promise<string> => {
    const made = newTokenRecord(
      { name: `h${++tokenNames}`, roles, queuePattern: pattern, expiresAt: null },
      clock.now(),
    );
    await backend.createToken(made.record);
    return made.token;
  };
  const admin = await token(['admin']);
  const call: TestServer['call'] = async (method, url, body, as) => {
    const response = await server.app.inject({
      method: method as 'GET',
      url,
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(as === null ? {} : { authorization: `Bearer ${as ?? admin}` }),
      },
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body === '' ? {} : response.json<Json>(),
    };
  };
  return {
    server,
    clock,
    token,
    call,
    async history(query, as) {
      const answer = await call('GET', `/v1/stats/history${query}`, undefined, as);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body as unknown as History;
    },
    async insert(queue, count) {
      const tasks = Array.from({ length: count }, (_, index) => ({ text: `task ${index}` }));
      const answer = await call('POST', `/v1/queues/${queue}/tasks`, { tasks });
      assert.equal(answer.status, 200);
    },
  };
}

function assertError(answer: Answer, status: number, code: string, field?: string): void {
  const error = answer.body['error'] as Json | undefined;
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(error?.['code'], code, JSON.stringify(answer.body));
  if (field !== undefined) assert.equal((error['details'] as Json)['field'], field);
}

const run = `h${process.pid}`;
let queues = 0;
function queueName(prefix = run): string {
  return `${prefix}-${++queues}`;
}

describe('GET /v1/stats/history', () => {
  it('answers one point per second for N seconds, oldest first, start being the first point', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.insert(queue, 2);
    t.clock.advance(1000);
    await t.insert(queue, 1);
    const leased = await t.call('POST', `/v1/queues/${queue}/lease`, { max: 2, leaseSeconds: 60 });
    const [first] = leased.body['tasks'] as { id: string; leaseToken: string }[];
    t.clock.advance(1000);
    await t.call('POST', `/v1/queues/${queue}/ack`, {
      leases: [{ id: first?.id, token: first?.leaseToken }],
    });

    const history = await t.history(`?queue=${queue}&seconds=60`);
    const now = Math.floor(t.clock.now() / 1000);
    assert.equal(history.step, 1);
    assert.equal(history.start, (now - 59) * 1000);
    assert.deepEqual(Object.keys(history.series).sort(), [
      'acked',
      'backlog',
      'deadLettered',
      'failed',
      'inserted',
      'leased',
    ]);
    for (const series of Object.values(history.series)) assert.equal(series.length, 60);
    assert.deepEqual(history.series.inserted.slice(-3), [2, 1, 0]);
    assert.deepEqual(history.series.leased.slice(-3), [0, 2, 0]);
    assert.deepEqual(history.series.acked.slice(-3), [0, 0, 1]);
    assert.equal(
      history.series.inserted.slice(0, -3).every((count) => count === 0),
      true,
    );
    assert.deepEqual(history.series.backlog, new Array(60).fill(null), 'no round ran yet');
  });

  it('defaults to 3600 seconds, and forgets what is older than the hour', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.insert(queue, 5);
    const full = await t.history(`?queue=${queue}`);
    assert.equal(full.series.inserted.length, 3600);
    assert.equal(full.series.inserted.at(-1), 5);
    t.clock.advance(3599_000);
    assert.equal((await t.history(`?queue=${queue}`)).series.inserted[0], 5);
    t.clock.advance(1000);
    const later = await t.history(`?queue=${queue}`);
    assert.equal(
      later.series.inserted.reduce((sum, count) => sum + count, 0),
      0,
    );
  });

  it('counts failed (releases with an error note) and deadLettered (releases with deadLetter)', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.insert(queue, 3);
    const leased = await t.call('POST', `/v1/queues/${queue}/lease`, { max: 3, leaseSeconds: 60 });
    const [a, b, c] = leased.body['tasks'] as { id: string; leaseToken: string }[];
    await t.call('POST', `/v1/queues/${queue}/release`, {
      leases: [
        { id: a?.id, token: a?.leaseToken, error: 'timeout' },
        { id: b?.id, token: b?.leaseToken },
        { id: c?.id, token: c?.leaseToken, deadLetter: true },
      ],
    });
    const history = await t.history(`?queue=${queue}&seconds=60`);
    assert.equal(history.series.failed.at(-1), 1);
    assert.equal(history.series.deadLettered.at(-1), 1);
  });

  it('backlog is ready + delayed at each sampling round, null between rounds', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.insert(queue, 3);
    await t.call('POST', `/v1/queues/${queue}/tasks`, {
      tasks: [{ text: 'later', delaySeconds: 600 }],
    });
    await t.call('POST', `/v1/queues/${queue}/lease`, { max: 1, leaseSeconds: 60 });
    await t.server.observability.sample();
    t.clock.advance(5000);
    await t.insert(queue, 2);
    await t.server.observability.sample();
    const history = await t.history(`?queue=${queue}&seconds=60`);
    assert.deepEqual(history.series.backlog.slice(-6), [3, null, null, null, null, 5]);
    assert.equal(
      history.series.backlog.slice(0, -6).every((point) => point === null),
      true,
    );
  });

  it('without a queue, sums every queue for a token on *, and only the covered ones for a pattern', async () => {
    const t = await testServer();
    const [a1, a2] = [queueName(`${run}a`), queueName(`${run}a`)];
    const b1 = queueName(`${run}b`);
    await t.insert(a1, 1);
    await t.insert(a2, 2);
    await t.insert(b1, 4);
    await t.server.observability.sample();
    const all = await t.history('?seconds=60');
    assert.equal(all.series.inserted.at(-1), 7);
    assert.equal(all.series.backlog.at(-1), 7);
    const reader = await t.token(['consumer'], `${run}a-*`);
    const mine = await t.history('?seconds=60', reader);
    assert.equal(mine.series.inserted.at(-1), 3);
    assert.equal(mine.series.backlog.at(-1), 3);
  });

  it("the sums carry a queue's last backlog sample to later rounds", async () => {
    const t = await testServer();
    const [idle, busy] = [queueName(), queueName()];
    await t.insert(idle, 10);
    await t.insert(busy, 1);
    await t.server.observability.sample();
    // Past the sampler's watch window: the idle queue is no longer sampled, the busy one is.
    t.clock.advance(11 * 60_000);
    await t.insert(busy, 1);
    await t.server.observability.sample();
    const history = await t.history('?seconds=60');
    assert.equal(history.series.backlog.at(-1), 12);
    const alone = await t.history(`?queue=${idle}&seconds=60`);
    assert.equal(alone.series.backlog.at(-1), 10);
  });

  it('a deleted queue is dropped: its counts leave the sums', async () => {
    const t = await testServer();
    const [kept, gone] = [queueName(), queueName()];
    await t.insert(kept, 1);
    await t.insert(gone, 5);
    assert.equal((await t.history('?seconds=60')).series.inserted.at(-1), 6);
    assert.equal((await t.call('DELETE', `/v1/queues/${gone}`)).status, 204);
    assert.equal((await t.history('?seconds=60')).series.inserted.at(-1), 1);
    assertError(await t.call('GET', `/v1/stats/history?queue=${gone}`), 404, 'queue_not_found');
  });

  it('needs the stats permission: 401 without a token, 403 for a producer or a queue outside the pattern', async () => {
    const t = await testServer();
    const queue = queueName(`${run}a`);
    await t.insert(queue, 1);
    assertError(await t.call('GET', '/v1/stats/history', undefined, null), 401, 'unauthenticated');
    const producer = await t.token(['producer']);
    assertError(
      await t.call('GET', '/v1/stats/history', undefined, producer),
      403,
      'permission_denied',
    );
    assertError(
      await t.call('GET', `/v1/stats/history?queue=${queue}`, undefined, producer),
      403,
      'permission_denied',
    );
    const other = await t.token(['consumer'], `${run}b-*`);
    assertError(
      await t.call('GET', `/v1/stats/history?queue=${queue}`, undefined, other),
      403,
      'permission_denied',
    );
    const reader = await t.token(['consumer'], `${run}a-*`);
    assert.equal((await t.history(`?queue=${queue}&seconds=60`, reader)).series.inserted.at(-1), 1);
  });

  it('refuses bad input with 400 invalid_argument naming the field, and an unknown queue with 404', async () => {
    const t = await testServer();
    const queue = queueName();
    await t.insert(queue, 1);
    for (const seconds of ['59', '3601', '0', 'abc', '1.5', '-60', '']) {
      assertError(
        await t.call('GET', `/v1/stats/history?queue=${queue}&seconds=${seconds}`),
        400,
        'invalid_argument',
        'seconds',
      );
    }
    assertError(
      await t.call('GET', '/v1/stats/history?queue=bad_name!'),
      400,
      'invalid_argument',
      'queue',
    );
    assertError(
      await t.call('GET', '/v1/stats/history?queues=x'),
      400,
      'invalid_argument',
      'queues',
    );
    assertError(
      await t.call('GET', `/v1/stats/history?queue=${queueName()}`),
      404,
      'queue_not_found',
    );
    const post = await t.call('POST', '/v1/stats/history', {});
    assertError(post, 405, 'method_not_allowed');
    assert.equal(post.headers['allow'], 'GET');
  });
});

describe('the history rings', () => {
  type Op =
    | { kind: 'add'; queue: number; series: number; count: number; ms: number }
    | { kind: 'round'; ms: number; backlog: number; repeat: number }
    | { kind: 'drop'; queue: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('add' as const),
        queue: fc.integer({ min: 0, max: 3 }),
        series: fc.integer({ min: 0, max: COUNT_SERIES.length - 1 }),
        count: fc.integer({ min: 1, max: 1000 }),
        ms: fc.integer({ min: 0, max: 40_000 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('round' as const),
        ms: fc.integer({ min: 0, max: 20_000 }),
        backlog: fc.integer({ min: 0, max: 1_000_000 }),
        // Bursts of rounds 5 s apart, so that the rings of 720 wrap in every run.
        repeat: fc.integer({ min: 1, max: 40 }),
      }),
    },
    {
      weight: 1,
      // Only q3 is dropped: the others live long enough for their rings to wrap.
      arbitrary: fc.record({ kind: fc.constant('drop' as const), queue: fc.constant(3) }),
    },
  );

  it('answer the same as a list of every event, over hours of random adds, rounds and drops', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1000, maxLength: 2000 }),
        fc.integer({ min: 60, max: 3600 }),
        (ops, seconds) => {
          const rings = new HistoryRings();
          let now = START;
          const events: { queue: string; series: CountSeries; count: number; second: number }[] =
            [];
          const samples = new Map<string, { second: number; value: number }[]>();
          const rounds: number[] = [];
          for (const step of ops) {
            if (step.kind === 'drop') {
              const queue = `q${step.queue}`;
              rings.drop(queue);
              samples.delete(queue);
              events.splice(0, events.length, ...events.filter((event) => event.queue !== queue));
              continue;
            }
            now += step.ms;
            const second = Math.floor(now / 1000);
            if (step.kind === 'add') {
              const event = {
                queue: `q${step.queue}`,
                series: COUNT_SERIES[step.series]!,
                count: step.count,
                second,
              };
              rings.add(event.queue, event.series, event.count, now);
              events.push(event);
              samples.set(event.queue, samples.get(event.queue) ?? []);
              continue;
            }
            for (let round = 0; round < step.repeat; round++) {
              if (round > 0) now += 5000;
              const at = Math.floor(now / 1000);
              rings.round(now);
              if (rounds.at(-1) !== at) rounds.push(at);
              for (const [queue, list] of samples) {
                const value = (step.backlog + round + queue.length) % 1_000_000;
                rings.sample(queue, value, now);
                const last = list.at(-1);
                if (last?.second === at) last.value = value;
                else list.push({ second: at, value });
              }
            }
          }
          const last = Math.floor(now / 1000);
          const from = last - seconds + 1;
          // The rings keep 720 rounds and 720 samples per queue: an hour at one every 5 s.
          const kept = rounds.slice(-720);
          for (const queues of [['q0'], ['q1', 'q3'], 'all'] as const) {
            const covers = (queue: string): boolean =>
              queues === 'all' || (queues as readonly string[]).includes(queue);
            const answer = rings.answer(queues === 'all' ? 'all' : [...queues], seconds, now);
            for (const series of COUNT_SERIES) {
              const expected = new Array<number>(seconds).fill(0);
              for (const event of events) {
                if (event.series === series && covers(event.queue) && event.second >= from) {
                  expected[event.second - from]! += event.count;
                }
              }
              assert.deepEqual(answer.series[series], expected, series);
            }
            const backlog = new Array<number | null>(seconds).fill(null);
            for (const round of kept.filter((second) => second >= from)) {
              for (const [queue, list] of samples) {
                const latest = list.slice(-720).findLast((sample) => sample.second <= round);
                if (covers(queue) && latest)
                  backlog[round - from] = (backlog[round - from] ?? 0) + latest.value;
              }
            }
            assert.deepEqual(answer.series.backlog, backlog, 'backlog');
          }
        },
      ),
      // Shrinking runs of thousands of steps takes minutes: report the first failure as found.
      { numRuns: 40, endOnFailure: true },
    );
  });
});
