/**
 * Every kind of bad input to the native v1 API answers its exact status and catalog code
 * (naming the field where there is one), and the server keeps serving afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError, b64, queueName, v1Server, type Json, type V1Server } from './v1-inject.ts';

let s: V1Server;
let q = '';
before(async () => {
  s = await v1Server();
  q = queueName();
  await s.call('POST', '/v1/queues', { name: q });
});
after(() => s.close());

const MiB = 1024 * 1024;

/** The server still inserts, leases and acks after whatever came before. */
async function assertStillServes(): Promise<void> {
  const name = queueName();
  const inserted = await s.call('POST', `/v1/queues/${name}/tasks`, { tasks: [{ text: 'ok' }] });
  assert.equal(inserted.status, 200);
  const leased = await s.call('POST', `/v1/queues/${name}/lease`, { max: 1, leaseSeconds: 60 });
  const [task] = leased.body['tasks'] as Json[];
  assert.ok(task);
  const acked = await s.call('POST', `/v1/queues/${name}/ack`, {
    leases: [{ id: task['id'], token: task['leaseToken'] }],
  });
  assert.deepEqual(acked.body, { results: [{ ok: true }] });
}

interface BadRequest {
  rule: string;
  method: string;
  /** `{q}` is an existing queue. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}

const lease = (body: Json): Pick<BadRequest, 'method' | 'url' | 'body'> => ({
  method: 'POST',
  url: '/v1/queues/{q}/lease',
  body: { max: 1, leaseSeconds: 60, ...body },
});
const insert = (...tasks: Json[]): Pick<BadRequest, 'method' | 'url' | 'body'> => ({
  method: 'POST',
  url: '/v1/queues/{q}/tasks',
  body: { tasks },
});

const BAD_REQUESTS: BadRequest[] = [
  {
    rule: 'a body that is not JSON fails with 400 malformed_request',
    method: 'POST',
    url: '/v1/queues/{q}/lease',
    body: '{"max": 1,',
    status: 400,
    code: 'malformed_request',
  },
  {
    rule: 'an empty JSON body where one is needed fails with 400 malformed_request',
    method: 'POST',
    url: '/v1/queues/{q}/lease',
    body: '',
    headers: { 'content-type': 'application/json' },
    status: 400,
    code: 'malformed_request',
  },
  {
    rule: 'a body that is not JSON at all (text/plain) fails with 415 unsupported_media_type',
    method: 'POST',
    url: '/v1/queues/{q}/lease',
    body: 'max=1',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    rule: 'a body that is not an object fails with 400 invalid_argument',
    method: 'POST',
    url: '/v1/queues/{q}/lease',
    body: '[1]',
    status: 400,
    code: 'invalid_argument',
    field: 'body',
  },
  {
    rule: 'a field of the wrong type fails with 400 invalid_argument naming it',
    ...lease({ max: '10' }),
    status: 400,
    code: 'invalid_argument',
    field: 'max',
  },
  {
    rule: 'a missing field fails with 400 invalid_argument naming it',
    method: 'POST',
    url: '/v1/queues/{q}/lease',
    body: { max: 1 },
    status: 400,
    code: 'invalid_argument',
    field: 'leaseSeconds',
  },
  {
    rule: 'an unknown field fails with 400 invalid_argument naming it',
    ...lease({ waitSecond: 5 }),
    status: 400,
    code: 'invalid_argument',
    field: 'waitSecond',
  },
  {
    rule: 'lease max 0 fails with 400 invalid_argument',
    ...lease({ max: 0 }),
    status: 400,
    code: 'invalid_argument',
    field: 'max',
  },
  {
    rule: 'lease max 1001 fails with 400 invalid_argument',
    ...lease({ max: 1001 }),
    status: 400,
    code: 'invalid_argument',
    field: 'max',
  },
  {
    rule: 'a fractional lease max fails with 400 invalid_argument',
    ...lease({ max: 1.5 }),
    status: 400,
    code: 'invalid_argument',
    field: 'max',
  },
  {
    rule: 'leaseSeconds below 0 fails with 400 invalid_argument',
    ...lease({ leaseSeconds: -1 }),
    status: 400,
    code: 'invalid_argument',
    field: 'leaseSeconds',
  },
  {
    rule: 'leaseSeconds over 604800 fails with 400 invalid_argument',
    ...lease({ leaseSeconds: 604801 }),
    status: 400,
    code: 'invalid_argument',
    field: 'leaseSeconds',
  },
  {
    rule: 'extend with leaseSeconds over 604800 fails with 400 invalid_argument',
    method: 'POST',
    url: '/v1/queues/{q}/extend',
    body: { leases: [{ id: 'a', token: 't' }], leaseSeconds: 604801 },
    status: 400,
    code: 'invalid_argument',
    field: 'leaseSeconds',
  },
  {
    rule: 'waitSeconds over 60 fails with 400 invalid_argument',
    ...lease({ waitSeconds: 61 }),
    status: 400,
    code: 'invalid_argument',
    field: 'waitSeconds',
  },
  {
    rule: 'a lease tag over 500 bytes fails with 400 invalid_argument',
    ...lease({ tag: 'x'.repeat(501) }),
    status: 400,
    code: 'invalid_argument',
    field: 'tag',
  },
  {
    rule: 'an insert tag of 251 two-byte characters (502 bytes) fails with 400 invalid_argument',
    ...insert({ text: 'a', tag: 'é'.repeat(251) }),
    status: 400,
    code: 'invalid_argument',
  },
  {
    rule: 'a list tag over 500 bytes fails with 400 invalid_argument',
    method: 'GET',
    url: `/v1/queues/{q}/tasks?tag=${'x'.repeat(501)}`,
    status: 400,
    code: 'invalid_argument',
    field: 'tag',
  },
  {
    rule: 'an ETA more than 30 days ahead fails with 400 invalid_argument',
    ...insert({ text: 'a', eta: Date.now() + 31 * 24 * 3600 * 1000 }),
    status: 400,
    code: 'invalid_argument',
  },
  {
    rule: 'delaySeconds over 30 days fails with 400 invalid_argument',
    ...insert({ text: 'a', delaySeconds: 30 * 24 * 3600 + 1 }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[0].delaySeconds',
  },
  {
    rule: 'both eta and delaySeconds fail with 400 invalid_argument',
    ...insert({ text: 'a', eta: Date.now(), delaySeconds: 5 }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[0].eta',
  },
  {
    rule: 'a task with neither payload nor text fails with 400 invalid_argument',
    ...insert({ text: 'ok' }, { id: 'no-payload' }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[1].payload',
  },
  {
    rule: 'a task with both payload and text fails with 400 invalid_argument',
    ...insert({ text: 'a', payload: b64('a') }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[0].payload',
  },
  {
    rule: 'a payload over 1 MiB fails with 413 payload_too_large',
    ...insert({ payload: Buffer.alloc(MiB + 1).toString('base64') }),
    status: 413,
    code: 'payload_too_large',
    field: 'tasks[0].payload',
  },
  {
    rule: 'a text over 1 MiB of UTF-8 fails with 413 payload_too_large',
    ...insert({ text: 'é'.repeat(MiB / 2 + 1) }),
    status: 413,
    code: 'payload_too_large',
    field: 'tasks[0].text',
  },
  ...[
    ['a character outside both alphabets', 'aGVs*G8='],
    ['a space', 'aGVs bG8='],
    ['the standard and URL-safe alphabets mixed', 'ab+_'],
    ['padding in the middle', 'aG==bG8='],
    ['three padding characters', 'aG==='],
    ['a length of 4n+1', 'aGVsb'],
    ['padding that does not reach a multiple of 4', 'aGVsbG8=='],
  ].map(([what, payload]): BadRequest => ({
    rule: `a payload with ${what} is not base64: 400 invalid_argument`,
    ...insert({ text: 'fine' }, { payload }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[1].payload',
  })),
  {
    rule: 'an empty task batch fails with 400 invalid_argument',
    ...insert(),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks',
  },
  {
    rule: 'a task batch over 1000 fails with 400 invalid_argument',
    ...insert(...Array.from({ length: 1001 }, () => ({ text: 'a' }))),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks',
  },
  {
    rule: 'a queue name with a character outside a-z, A-Z, 0-9 and - fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/bad_name!/stats',
    status: 400,
    code: 'invalid_argument',
    field: 'queue',
  },
  {
    rule: 'a queue name over 100 characters fails with 400 invalid_argument',
    method: 'POST',
    url: '/v1/queues',
    body: { name: 'q'.repeat(101) },
    status: 400,
    code: 'invalid_argument',
    field: 'name',
  },
  {
    rule: 'a task id with a character outside a-z, A-Z, 0-9, _ and - fails with 400 invalid_argument',
    ...insert({ text: 'a', id: 'has.dot' }),
    status: 400,
    code: 'invalid_argument',
    field: 'tasks[0].id',
  },
  {
    rule: 'a task id in the path outside the pattern fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/{q}/tasks/has.dot',
    status: 400,
    code: 'invalid_argument',
    field: 'id',
  },
  {
    rule: 'a lease ref with neither token nor leaseExpiresAt fails with 400 invalid_argument',
    method: 'POST',
    url: '/v1/queues/{q}/ack',
    body: { leases: [{ id: 'a' }] },
    status: 400,
    code: 'invalid_argument',
    field: 'leases[0].token',
  },
  {
    rule: 'list limit 0 fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/{q}/tasks?limit=0',
    status: 400,
    code: 'invalid_argument',
    field: 'limit',
  },
  {
    rule: 'list limit 1001 fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/{q}/tasks?limit=1001',
    status: 400,
    code: 'invalid_argument',
    field: 'limit',
  },
  {
    rule: 'an unknown list state fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/{q}/tasks?state=done',
    status: 400,
    code: 'invalid_argument',
    field: 'state',
  },
  {
    rule: 'a list cursor this server did not hand out fails with 400 invalid_argument',
    method: 'GET',
    url: '/v1/queues/{q}/tasks?cursor=bm9wZQ',
    status: 400,
    code: 'invalid_argument',
    field: 'cursor',
  },
  {
    rule: 'maxLeases 0 fails with 400 invalid_argument',
    method: 'PATCH',
    url: '/v1/queues/{q}',
    body: { maxLeases: 0 },
    status: 400,
    code: 'invalid_argument',
    field: 'maxLeases',
  },
  {
    rule: 'a lease on an unknown queue fails with 404 queue_not_found',
    method: 'POST',
    url: '/v1/queues/no-such-queue/lease',
    body: { max: 1, leaseSeconds: 60 },
    status: 404,
    code: 'queue_not_found',
  },
  {
    rule: 'stats of an unknown queue fail with 404 queue_not_found',
    method: 'GET',
    url: '/v1/queues/no-such-queue/stats',
    status: 404,
    code: 'queue_not_found',
  },
  {
    rule: 'an unknown task fails with 404 task_not_found',
    method: 'GET',
    url: '/v1/queues/{q}/tasks/no-such-task',
    status: 404,
    code: 'task_not_found',
  },
  {
    rule: 'an unknown route fails with 404 route_not_found',
    method: 'GET',
    url: '/v1/nothing-here',
    status: 404,
    code: 'route_not_found',
  },
  {
    rule: 'GET on a POST-only route fails with 405 method_not_allowed',
    method: 'GET',
    url: '/v1/queues/{q}/lease',
    status: 405,
    code: 'method_not_allowed',
  },
  {
    rule: 'PUT on a queue fails with 405 method_not_allowed, before its body is read',
    method: 'PUT',
    url: '/v1/queues/{q}',
    body: '{not json',
    status: 405,
    code: 'method_not_allowed',
  },
];

describe('bad input', () => {
  for (const bad of BAD_REQUESTS) {
    it(bad.rule, async () => {
      const answer = await s.call(bad.method, bad.url.replace('{q}', q), bad.body, bad.headers);
      assertError(answer, bad.status, bad.code, bad.field);
      await assertStillServes();
    });
  }

  it('405 answers say which methods the route allows', async () => {
    const answer = await s.call('DELETE', `/v1/queues/${q}/tasks`);
    assertError(answer, 405, 'method_not_allowed');
    assert.equal(answer.headers['allow'], 'POST, GET');
  });

  it('a bad insert inserts nothing, not even its good tasks', async () => {
    const name = queueName();
    await s.call('POST', '/v1/queues', { name });
    const answer = await s.call('POST', `/v1/queues/${name}/tasks`, {
      tasks: [{ text: 'good' }, { payload: '*' }],
    });
    assertError(answer, 400, 'invalid_argument', 'tasks[1].payload');
    const stats = await s.call('GET', `/v1/queues/${name}/stats`);
    assert.equal(stats.body['ready'], 0);
  });
});

describe('per-item failures', () => {
  it('an id that exists, or was repeated in the batch, fails that item with already_exists', async () => {
    const name = queueName();
    await s.call('POST', `/v1/queues/${name}/tasks`, { tasks: [{ text: 'a', id: 'taken' }] });
    const answer = await s.call('POST', `/v1/queues/${name}/tasks`, {
      tasks: [
        { text: 'b', id: 'taken' },
        { text: 'c', id: 'fresh' },
        { text: 'd', id: 'fresh' },
      ],
    });
    assert.equal(answer.status, 200);
    const results = answer.body['results'] as Json[];
    assert.deepEqual(
      results.map((result) => result['ok']),
      [false, true, false],
    );
    for (const failed of [results[0], results[2]]) {
      const error = failed?.['error'] as Json;
      assert.equal(error['code'], 'already_exists');
      assert.equal(error['retryable'], false);
      assert.equal(typeof error['message'], 'string');
    }
  });

  it('an id acked within the dedup window (a tombstone) fails with already_exists', async () => {
    const name = queueName();
    await s.call('POST', `/v1/queues/${name}/tasks`, { tasks: [{ text: 'a', id: 'once' }] });
    const leased = await s.call('POST', `/v1/queues/${name}/lease`, { max: 1, leaseSeconds: 60 });
    const [task] = leased.body['tasks'] as Json[];
    await s.call('POST', `/v1/queues/${name}/ack`, {
      leases: [{ id: task?.['id'], token: task?.['leaseToken'] }],
    });
    const again = await s.call('POST', `/v1/queues/${name}/tasks`, {
      tasks: [{ text: 'b', id: 'once' }],
    });
    const [result] = again.body['results'] as Json[];
    const error = result?.['error'] as Json;
    assert.equal(error['code'], 'already_exists');
    assert.equal((error['details'] as Json)['tombstoned'], true);
  });

  it('ack, extend and release with a stale lease token fail that item with lease_lost', async () => {
    const name = queueName();
    await s.call('POST', `/v1/queues/${name}/tasks`, { tasks: [{ text: 'a' }] });
    const first = await s.call('POST', `/v1/queues/${name}/lease`, { max: 1, leaseSeconds: 0 });
    const [stale] = first.body['tasks'] as Json[];
    const second = await s.call('POST', `/v1/queues/${name}/lease`, { max: 1, leaseSeconds: 60 });
    const [current] = second.body['tasks'] as Json[];
    assert.equal(current?.['id'], stale?.['id']);
    const ref = { id: stale?.['id'], token: stale?.['leaseToken'] };
    for (const [verb, body] of [
      ['ack', { leases: [ref] }],
      ['extend', { leases: [ref], leaseSeconds: 60 }],
      ['release', { leases: [ref] }],
    ] as const) {
      const answer = await s.call('POST', `/v1/queues/${name}/${verb}`, body);
      assert.equal(answer.status, 200, verb);
      const [result] = answer.body['results'] as Json[];
      assert.equal(result?.['ok'], false, verb);
      assert.equal((result?.['error'] as Json)['code'], 'lease_lost', verb);
    }
    await assertStillServes();
  });
});
