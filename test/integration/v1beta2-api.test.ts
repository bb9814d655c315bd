/**
 * The v1beta2 surface through `app.inject()`: App Engine's quirks, every bad input with its
 * exact status and Google envelope, and the discovery document against the routes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer } from '../../src/server/app.ts';

type Json = Record<string, unknown>;

const START = Date.UTC(2030, 0, 1);
const ROOT = '/taskqueue/v1beta2/projects/s~app/taskqueues';
const MiB = 1024 * 1024;

let app: FastifyInstance;
let backend: MemoryBackend;
let now = START;

async function start(options: { autoCreateQueues?: boolean } = {}): Promise<void> {
  now = START;
  backend = new MemoryBackend({ clock: { now: () => now } });
  ({ app } = await buildServer({ backend, ...options }));
}

async function stop(): Promise<void> {
  await app.close();
  await backend.close();
}

interface Request {
  query?: Record<string, string | number | boolean>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A request under /taskqueue/v1beta2/projects/s~app/taskqueues (or an absolute path). */
function call(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  request: Request = {},
): Promise<LightMyRequestResponse> {
  const pairs = Object.entries(request.query ?? {}).map(([k, v]): [string, string] => [
    k,
    String(v),
  ]);
  const query =
    pairs.length === 0
      ? ''
      : `${path.includes('?') ? '&' : '?'}${new URLSearchParams(pairs).toString()}`;
  const payload =
    request.body === undefined || typeof request.body === 'string'
      ? request.body
      : JSON.stringify(request.body);
  return app.inject({
    method,
    url: `${path.startsWith('/') ? '' : `${ROOT}/`}${path}${query}`,
    payload,
    headers: {
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    },
  });
}

function ok(res: LightMyRequestResponse, status = 200): Json {
  assert.equal(res.statusCode, status, res.body);
  return status === 204 ? {} : res.json<Json>();
}

/** Asserts the Apiary error envelope Google's clients parse. */
function googleError(res: LightMyRequestResponse, status: number, reason: string): string {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json<{
    error: {
      code: unknown;
      message: unknown;
      errors: { domain: unknown; reason: unknown; message: unknown }[];
    };
  }>();
  assert.equal(body.error.code, status);
  assert.equal(typeof body.error.message, 'string');
  assert.ok((body.error.message as string).length > 0);
  assert.equal(body.error.errors.length, 1);
  assert.equal(body.error.errors[0]?.domain, 'global');
  assert.equal(body.error.errors[0]?.reason, reason, res.body);
  assert.equal(body.error.errors[0]?.message, body.error.message);
  return body.error.message as string;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

async function insert(queue: string, task: Json): Promise<Json> {
  return ok(await call('POST', `${queue}/tasks`, { body: { payloadBase64: b64('x'), ...task } }));
}

async function lease(queue: string, query: Request['query']): Promise<Json[]> {
  const answer = ok(await call('POST', `${queue}/tasks/lease`, { query }));
  return (answer['items'] ?? []) as Json[];
}

void describe('v1beta2 paths', () => {
  beforeEach(() => start());
  afterEach(stop);

  void it('accepts partition-prefixed, percent-encoded and domain-scoped project ids for the same queue', async () => {
    await insert('q', { id: 'one' });
    for (const project of [
      'app',
      's~app',
      'e~app',
      'dev~app',
      's%7Eapp',
      'example.com:app',
      'example.com%3Aapp',
    ]) {
      const task = ok(
        await call('GET', `/taskqueue/v1beta2/projects/${project}/taskqueues/q/tasks/one`),
      );
      assert.equal(task['id'], 'one', project);
    }
  });

  void it('refuses a project id that is not an app id with 400 invalid', async () => {
    googleError(
      await call('GET', '/taskqueue/v1beta2/projects/bad%20app/taskqueues/q'),
      400,
      'invalid',
    );
    googleError(await call('GET', '/taskqueue/v1beta2/projects/s~/taskqueues/q'), 400, 'invalid');
  });

  void it('POST .../tasks/lease is the lease even when a task is named "lease"; GET and DELETE reach the task', async () => {
    await insert('q', { id: 'lease', payloadBase64: b64('named lease') });
    googleError(await call('POST', 'q/tasks/lease'), 400, 'required');
    const task = ok(await call('GET', 'q/tasks/lease'));
    assert.equal(
      Buffer.from(task['payloadBase64'] as string, 'base64url').toString(),
      'named lease',
    );
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(leased?.['id'], 'lease');
    ok(await call('DELETE', 'q/tasks/lease'), 204);
    googleError(await call('GET', 'q/tasks/lease'), 404, 'notFound');
  });

  void it('ignores the standard parameters alt, prettyPrint, prettyprint, key, quotaUser, userIp and oauth_token', async () => {
    await insert('q', { id: 'a' });
    const standard = {
      alt: 'json',
      prettyPrint: 'false',
      prettyprint: 'true',
      key: 'k',
      quotaUser: 'u',
      userIp: '10.0.0.1',
      oauth_token: 't',
    };
    assert.equal(ok(await call('GET', 'q/tasks/a', { query: standard }))['id'], 'a');
    const leased = await lease('q', { numTasks: 1, leaseSecs: 5, ...standard });
    assert.equal(leased.length, 1);
  });

  void it('honours fields partial responses, and refuses a malformed selector before leasing', async () => {
    await insert('q', { id: 'a', tag: 't' });
    const list = ok(await call('GET', 'q/tasks', { query: { fields: 'items(id,tag)' } }));
    assert.deepEqual(list, { items: [{ id: 'a', tag: 't' }] });
    const queue = ok(
      await call('GET', 'q', { query: { getStats: true, fields: 'id,stats/totalTasks' } }),
    );
    assert.deepEqual(queue, { id: 'q', stats: { totalTasks: 1 } });
    googleError(
      await call('POST', 'q/tasks/lease', {
        query: { numTasks: 1, leaseSecs: 60, fields: 'items(id' },
      }),
      400,
      'invalidParameter',
    );
    assert.equal(
      (await lease('q', { numTasks: 1, leaseSecs: 60 })).length,
      1,
      'the bad lease leased nothing',
    );
  });
});

void describe('v1beta2 tasks', () => {
  beforeEach(() => start());
  afterEach(stop);

  void it('insert normalises a payload without padding and answers web-safe base64 with padding', async () => {
    assert.equal((await insert('q', { payloadBase64: 'asdf123' }))['payloadBase64'], 'asdf120=');
    assert.equal(
      (await insert('q', { payloadBase64: '_NDQaWRvMm_1UQ==' }))['payloadBase64'],
      '_NDQaWRvMm_1UQ==',
    );
    const bytes = Buffer.from([0xfb, 0xef, 0xff]);
    const task = await insert('q', { payloadBase64: bytes.toString('base64url') });
    assert.equal(task['payloadBase64'], '--__');
  });

  void it('insert answers microsecond int64 strings and the ETA as leaseTimestamp; numbers are accepted on input', async () => {
    const task = await insert('q', { id: 'a' });
    assert.equal(task['enqueueTimestamp'], String(START * 1000));
    assert.equal(task['leaseTimestamp'], String(START * 1000));
    assert.equal(task['retry_count'], 0);
    const later = await insert('q', { id: 'b', leaseTimestamp: (START + 5000) * 1000 });
    assert.equal(later['leaseTimestamp'], String((START + 5000) * 1000));
    assert.deepEqual(
      (await lease('q', { numTasks: 10, leaseSecs: 60 })).map((t) => t['id']),
      ['a'],
    );
    now += 5000;
    assert.deepEqual(
      (await lease('q', { numTasks: 10, leaseSecs: 1 })).map((t) => t['id']),
      ['b'],
    );
  });

  void it('insert treats an empty id and an empty tag as none, and accepts its own queue name short or long', async () => {
    const task = await insert('q', { id: '', tag: '', queueName: 'q' });
    assert.match(task['id'] as string, /^[A-Za-z0-9_-]+$/);
    assert.equal(task['tag'], undefined);
    await insert('q', { queueName: 'projects/s~app/taskqueues/q' });
    googleError(
      await call('POST', 'q/tasks', { body: { payloadBase64: 'eA', queueName: 'other' } }),
      400,
      'invalid',
    );
  });

  void it('insert into an unknown queue creates it, unless auto-creation is off (404)', async () => {
    await insert('fresh', {});
    ok(await call('GET', 'fresh'));
    await stop();
    await start({ autoCreateQueues: false });
    googleError(
      await call('POST', 'fresh/tasks', { body: { payloadBase64: 'eA' } }),
      404,
      'notFound',
    );
  });

  void it('list answers at most 100 tasks in insertion order, without payloads; an empty queue has no items', async () => {
    await backend.createQueue('empty');
    assert.deepEqual(ok(await call('GET', 'empty/tasks')), { kind: 'taskqueues#tasks' });
    for (let i = 0; i < 105; i += 1) await insert('q', { id: `t${i}` });
    const items = ok(await call('GET', 'q/tasks'))['items'] as Json[];
    assert.equal(items.length, 100);
    assert.deepEqual(
      items.slice(0, 3).map((t) => t['id']),
      ['t0', 't1', 't2'],
    );
    assert.ok(items.every((t) => t['payloadBase64'] === undefined));
  });

  void it('lease takes numTasks and leaseSecs from a form or JSON body too, the query string first', async () => {
    for (let i = 0; i < 5; i += 1) await insert('q', {});
    const form = ok(
      await call('POST', 'q/tasks/lease', {
        body: 'numTasks=2&leaseSecs=60',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    assert.equal((form['items'] as Json[]).length, 2);
    const json = ok(await call('POST', 'q/tasks/lease', { body: { numTasks: 1, leaseSecs: 60 } }));
    assert.equal((json['items'] as Json[]).length, 1);
    const both = ok(
      await call('POST', 'q/tasks/lease', {
        query: { numTasks: 1, leaseSecs: 60 },
        body: { numTasks: 5 },
      }),
    );
    assert.equal((both['items'] as Json[]).length, 1);
  });

  void it('lease ignores an empty JSON body and a JSON-C body', async () => {
    await insert('q', {});
    await insert('q', {});
    assert.equal((await lease('q', { numTasks: 1, leaseSecs: 60 })).length, 1);
    const res = await call('POST', 'q/tasks/lease', {
      query: { numTasks: 1, leaseSecs: 60 },
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal((ok(res)['items'] as Json[]).length, 1);
    const jsonC = await call('POST', 'q/tasks/lease', {
      body: { data: { numTasks: 1, leaseSecs: 60 } },
    });
    assert.deepEqual(ok(jsonC), { kind: 'taskqueues#tasks' });
  });

  void it('lease answers the long queue name with the project as the path gave it', async () => {
    await insert('q', {});
    const [task] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(task?.['queueName'], 'projects/s~app/taskqueues/q');
    assert.equal(task?.['leaseTimestamp'], String((START + 60_000) * 1000));
    assert.equal(task?.['retry_count'], 1);
  });

  void it('lease with an empty tag and no groupByTag leases any task; groupByTag groups untagged tasks too', async () => {
    await insert('q', { id: 'plain1' });
    await insert('q', { id: 'tagged', tag: 'x' });
    await insert('q', { id: 'plain2' });
    const grouped = await lease('q', { numTasks: 10, leaseSecs: 60, groupByTag: true });
    assert.deepEqual(
      grouped.map((t) => t['id']),
      ['plain1', 'plain2'],
    );
    const rest = await lease('q', { numTasks: 10, leaseSecs: 60, tag: '' });
    assert.deepEqual(
      rest.map((t) => t['id']),
      ['tagged'],
    );
  });

  void it('update takes the task id from the body, as App Engine did, and does not count an attempt', async () => {
    await insert('q', { id: 'real' });
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    now += 1000;
    const updated = ok(
      await call('POST', 'q/tasks/ignored', {
        query: { newLeaseSeconds: 300 },
        body: { id: 'real', leaseTimestamp: leased?.['leaseTimestamp'] },
      }),
    );
    assert.equal(updated['id'], 'real');
    assert.equal(updated['leaseTimestamp'], String((START + 1000 + 300_000) * 1000));
    assert.equal(updated['retry_count'], 1);
  });

  void it('update accepts leaseTimestamp as a JSON number and the new one is the next fence', async () => {
    await insert('q', { id: 'a' });
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    const first = ok(
      await call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 120 },
        body: { leaseTimestamp: Number(leased?.['leaseTimestamp']) },
      }),
    );
    const again = await call('POST', 'q/tasks/a', {
      query: { newLeaseSeconds: 120 },
      body: { leaseTimestamp: leased?.['leaseTimestamp'] },
    });
    googleError(again, 400, 'invalid');
    ok(
      await call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 10 },
        body: { leaseTimestamp: first['leaseTimestamp'] },
      }),
    );
  });

  void it('update with newLeaseSeconds=0 releases the task: leasable at once', async () => {
    await insert('q', { id: 'a' });
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 600 });
    const released = ok(
      await call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 0 },
        body: { leaseTimestamp: leased?.['leaseTimestamp'] },
      }),
    );
    assert.equal(released['leaseTimestamp'], String(START * 1000));
    const [again] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(again?.['retry_count'], 2);
  });

  void it('update and patch on an expired lease fail with 400 invalid even with the right leaseTimestamp', async () => {
    await insert('q', { id: 'a' });
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    now += 61_000;
    const fence = { leaseTimestamp: leased?.['leaseTimestamp'] };
    googleError(
      await call('POST', 'q/tasks/a', { query: { newLeaseSeconds: 60 }, body: fence }),
      400,
      'invalid',
    );
    googleError(
      await call('PATCH', 'q/tasks/a', {
        query: { newLeaseSeconds: 60 },
        body: { ...fence, queueName: 'q' },
      }),
      400,
      'invalid',
    );
  });

  void it('patch needs queueName and refuses a changed queueName or id', async () => {
    await insert('q', { id: 'a' });
    const [leased] = await lease('q', { numTasks: 1, leaseSecs: 60 });
    const fence = { leaseTimestamp: leased?.['leaseTimestamp'] };
    const query = { newLeaseSeconds: 30 };
    googleError(await call('PATCH', 'q/tasks/a', { query, body: fence }), 400, 'required');
    googleError(
      await call('PATCH', 'q/tasks/a', { query, body: { ...fence, queueName: 'other' } }),
      400,
      'invalid',
    );
    googleError(
      await call('PATCH', 'q/tasks/a', { query, body: { ...fence, queueName: 'q', id: 'b' } }),
      400,
      'invalid',
    );
    const patched = ok(
      await call('PATCH', 'q/tasks/a', {
        query,
        body: { ...fence, id: 'a', queueName: leased?.['queueName'] },
      }),
    );
    assert.equal(patched['leaseTimestamp'], String((START + 30_000) * 1000));
  });

  void it('delete needs no lease, answers 204, 204 again while tombstoned, and 404 for a name never used', async () => {
    await insert('q', { id: 'a' });
    await lease('q', { numTasks: 1, leaseSecs: 60 });
    const res = await call('DELETE', 'q/tasks/a');
    ok(res, 204);
    assert.equal(res.body, '');
    ok(await call('DELETE', 'q/tasks/a'), 204);
    googleError(await call('DELETE', 'q/tasks/never'), 404, 'notFound');
  });

  void it('taskqueues.get answers maxLeases when set and stats only with getStats', async () => {
    await backend.createQueue('limited', { maxLeases: 3 });
    await insert('limited', { id: 'a' });
    await insert('limited', { id: 'b', leaseTimestamp: (START + 60_000) * 1000 });
    await lease('limited', { numTasks: 1, leaseSecs: 60 });
    const queue = ok(await call('GET', 'limited', { query: { getStats: 'true' } }));
    assert.equal(queue['kind'], 'taskqueues#taskqueue');
    assert.equal(queue['maxLeases'], 3);
    assert.deepEqual(queue['stats'], {
      totalTasks: 2,
      oldestTask: String(START / 1000 + 60),
      leasedLastMinute: '1',
      leasedLastHour: '1',
    });
    assert.equal(
      ok(await call('GET', 'limited', { query: { getStats: false } }))['stats'],
      undefined,
    );
    await backend.createQueue('idle');
    const idle = ok(await call('GET', 'idle', { query: { getStats: true } }));
    assert.deepEqual(idle['stats'], {
      totalTasks: 0,
      oldestTask: '0',
      leasedLastMinute: '0',
      leasedLastHour: '0',
    });
  });
});

void describe('v1beta2 bad input: exact status and Google envelope, and the server keeps serving', () => {
  beforeEach(async () => {
    await start();
    await insert('q', { id: 'existing' });
  });
  afterEach(stop);

  const leaseQuery = (query: Json): Request => ({ query: query as Request['query'] });
  const bigPayload = Buffer.alloc(MiB + 1).toString('base64url');
  const cases: [
    name: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    request: Request,
    status: number,
    reason: string,
  ][] = [
    [
      'malformed JSON',
      'POST',
      'q/tasks',
      { body: '{"payloadBase64": ', headers: { 'content-type': 'application/json' } },
      400,
      'parseError',
    ],
    ['a JSON array body', 'POST', 'q/tasks', { body: [] }, 400, 'invalid'],
    [
      'a JSON string body',
      'POST',
      'q/tasks',
      { body: '"text"', headers: { 'content-type': 'application/json' } },
      400,
      'invalid',
    ],
    ['no body on insert', 'POST', 'q/tasks', {}, 400, 'required'],
    ['payloadBase64 missing', 'POST', 'q/tasks', { body: { id: 'x' } }, 400, 'required'],
    ['payloadBase64 a number', 'POST', 'q/tasks', { body: { payloadBase64: 12 } }, 400, 'invalid'],
    ['id a number', 'POST', 'q/tasks', { body: { payloadBase64: 'eA', id: 7 } }, 400, 'invalid'],
    [
      'tag an object',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', tag: {} } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp not an integer',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: 'soon' } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp a fraction',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: 1.5 } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp negative',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: '-5' } },
      400,
      'invalid',
    ],
    [
      'payload over 1 MiB decoded',
      'POST',
      'q/tasks',
      { body: { payloadBase64: bigPayload } },
      413,
      'uploadTooLarge',
    ],
    [
      'a body over the route limit',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'A'.repeat(5 * MiB) } },
      413,
      'uploadTooLarge',
    ],
    [
      'base64 with +',
      'POST',
      'q/tasks',
      { body: { payloadBase64: '+NDQaWRvMm+1UQ==' } },
      400,
      'invalid',
    ],
    [
      'base64 with /',
      'POST',
      'q/tasks',
      { body: { payloadBase64: '/NDQaWRvMm/1UQ==' } },
      400,
      'invalid',
    ],
    [
      'base64 with #',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'invalid#payload' } },
      400,
      'invalid',
    ],
    [
      'base64 of impossible length',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'abcde' } },
      400,
      'invalid',
    ],
    [
      'a queue name with _',
      'POST',
      'bad_queue/tasks',
      { body: { payloadBase64: 'eA' } },
      400,
      'invalid',
    ],
    ['a queue name of 101 characters', 'GET', `${'q'.repeat(101)}/tasks`, {}, 400, 'invalid'],
    [
      'a task id with .',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'a.b' } },
      400,
      'invalid',
    ],
    [
      'a task id of 501 characters',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'a'.repeat(501) } },
      400,
      'invalid',
    ],
    ['a task id with . in the path', 'GET', 'q/tasks/a.b', {}, 400, 'invalid'],
    [
      'a tag over 500 bytes',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', tag: 'é'.repeat(251) } },
      400,
      'invalid',
    ],
    [
      'an ETA over 30 days ahead',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: (START + 31 * 86_400_000) * 1000 } },
      400,
      'invalid',
    ],
    [
      'a duplicate name',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'existing' } },
      400,
      'duplicate',
    ],
    ['numTasks missing', 'POST', 'q/tasks/lease', leaseQuery({ leaseSecs: 60 }), 400, 'required'],
    ['leaseSecs missing', 'POST', 'q/tasks/lease', leaseQuery({ numTasks: 1 }), 400, 'required'],
    [
      'numTasks 0',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 0, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks 1001',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1001, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks not a number',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 'many', leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks a fraction',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1.5, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'leaseSecs -1',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: -1 }),
      400,
      'invalid',
    ],
    [
      'leaseSecs 604801',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 604801 }),
      400,
      'invalid',
    ],
    [
      'numTasks given twice',
      'POST',
      'q/tasks/lease?numTasks=1&numTasks=2',
      leaseQuery({ leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'a tag without groupByTag',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, tag: 'x' }),
      400,
      'invalid',
    ],
    [
      'a lease tag over 500 bytes',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, groupByTag: true, tag: 'x'.repeat(501) }),
      400,
      'invalid',
    ],
    [
      'groupByTag not a boolean',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, groupByTag: 'yes' }),
      400,
      'invalid',
    ],
    ['getStats not a boolean', 'GET', 'q', { query: { getStats: 'maybe' } }, 400, 'invalid'],
    [
      'newLeaseSeconds missing on update',
      'POST',
      'q/tasks/existing',
      { body: { leaseTimestamp: '1' } },
      400,
      'required',
    ],
    [
      'newLeaseSeconds missing on patch',
      'PATCH',
      'q/tasks/existing',
      { body: { leaseTimestamp: '1', queueName: 'q' } },
      400,
      'required',
    ],
    [
      'newLeaseSeconds -1',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: -1 }, body: { leaseTimestamp: '1' } },
      400,
      'invalid',
    ],
    [
      'newLeaseSeconds 604801',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 604801 }, body: { leaseTimestamp: '1' } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp missing on update',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 60 }, body: { id: 'existing' } },
      400,
      'required',
    ],
    [
      'a stale leaseTimestamp on update',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: String(START * 1000) } },
      400,
      'invalid',
    ],
    [
      'a stale leaseTimestamp on patch',
      'PATCH',
      'q/tasks/existing',
      {
        query: { newLeaseSeconds: 60 },
        body: { leaseTimestamp: String(START * 1000), queueName: 'q' },
      },
      400,
      'invalid',
    ],
    ['an unknown task on get', 'GET', 'q/tasks/missing', {}, 404, 'notFound'],
    [
      'an unknown task on update',
      'POST',
      'q/tasks/missing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1' } },
      404,
      'notFound',
    ],
    [
      'an unknown task on patch',
      'PATCH',
      'q/tasks/missing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1', queueName: 'q' } },
      404,
      'notFound',
    ],
    ['an unknown queue on taskqueues.get', 'GET', 'nope', {}, 404, 'notFound'],
    ['an unknown queue on get', 'GET', 'nope/tasks/a', {}, 404, 'notFound'],
    ['an unknown queue on list', 'GET', 'nope/tasks', {}, 404, 'notFound'],
    [
      'an unknown queue on lease',
      'POST',
      'nope/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60 }),
      404,
      'notFound',
    ],
    [
      'an unknown queue on update',
      'POST',
      'nope/tasks/a',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1' } },
      404,
      'notFound',
    ],
    [
      'an unknown queue on patch',
      'PATCH',
      'nope/tasks/a',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1', queueName: 'nope' } },
      404,
      'notFound',
    ],
    ['an unknown queue on delete', 'DELETE', 'nope/tasks/a', {}, 404, 'notFound'],
    ['an unknown route', 'GET', 'q/tasks/a/b', {}, 404, 'notFound'],
  ];

  for (const [name, method, path, request, status, reason] of cases) {
    void it(`${name}: ${status} ${reason}`, async () => {
      googleError(await call(method, path, request), status, reason);
      // Still serving, and nothing changed.
      const list = ok(await call('GET', 'q/tasks'));
      assert.deepEqual(
        (list['items'] as Json[]).map((t) => t['id']),
        ['existing'],
      );
    });
  }

  void it('payloadBase64 in the standard alphabet is refused with a message naming the web-safe one', async () => {
    for (const payloadBase64 of ['+NDQaWRvMm+1UQ==', '/NDQaWRvMm/1UQ==']) {
      const message = googleError(
        await call('POST', 'q/tasks', { body: { payloadBase64 } }),
        400,
        'invalid',
      );
      assert.match(message, /web-safe base64 alphabet/);
    }
  });

  void it('a tombstoned name is refused with 400 duplicate', async () => {
    ok(await call('DELETE', 'q/tasks/existing'), 204);
    googleError(
      await call('POST', 'q/tasks', { body: { payloadBase64: 'eA', id: 'existing' } }),
      400,
      'duplicate',
    );
  });
});

void describe('v1beta2 discovery document', () => {
  beforeEach(() => start());
  afterEach(stop);

  /** The v1beta2 methods as Google's discovery document (revision 20130318) lists them. */
  const GOOGLE_METHODS = {
    'taskqueue.taskqueues.get': [
      'GET',
      '{project}/taskqueues/{taskqueue}',
      ['project', 'taskqueue', 'getStats'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.insert': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks',
      ['project', 'taskqueue'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.get': [
      'GET',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task'],
      ['project', 'taskqueue', 'task'],
    ],
    'taskqueue.tasks.list': [
      'GET',
      '{project}/taskqueues/{taskqueue}/tasks',
      ['project', 'taskqueue'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.lease': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks/lease',
      ['project', 'taskqueue', 'numTasks', 'leaseSecs', 'groupByTag', 'tag'],
      ['project', 'taskqueue', 'numTasks', 'leaseSecs'],
    ],
    'taskqueue.tasks.update': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    ],
    'taskqueue.tasks.patch': [
      'PATCH',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    ],
    'taskqueue.tasks.delete': [
      'DELETE',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task'],
      ['project', 'taskqueue', 'task'],
    ],
  } as const;

  interface Method {
    id: string;
    httpMethod: string;
    path: string;
    parameters: Record<string, { location: string; required?: boolean; type: string }>;
    parameterOrder: string[];
    request?: { $ref: string };
    response?: { $ref: string };
  }

  async function document(
    host = 'queues.example:8443',
  ): Promise<Json & { resources: Record<string, { methods: Record<string, Method> }> }> {
    return ok(
      await app.inject({
        method: 'GET',
        url: '/discovery/v1/apis/taskqueue/v1beta2/rest',
        headers: { host },
      }),
    ) as never;
  }

  void it('points rootUrl at the server as the request reached it, with Google’s service path', async () => {
    const doc = await document();
    assert.equal(doc['rootUrl'], 'http://queues.example:8443/');
    assert.equal(doc['servicePath'], 'taskqueue/v1beta2/projects/');
    assert.equal(doc['baseUrl'], 'http://queues.example:8443/taskqueue/v1beta2/projects/');
    assert.equal(doc['id'], 'taskqueue:v1beta2');
    assert.equal(doc['discoveryVersion'], 'v1');
  });

  void it('lists exactly Google’s v1beta2 methods, ids, verbs, paths and parameter names', async () => {
    const doc = await document();
    const methods = Object.values(doc.resources).flatMap((resource) =>
      Object.values(resource.methods),
    );
    assert.deepEqual(methods.map((m) => m.id).sort(), Object.keys(GOOGLE_METHODS).sort());
    for (const method of methods) {
      const [httpMethod, path, parameters, order] =
        GOOGLE_METHODS[method.id as keyof typeof GOOGLE_METHODS];
      assert.equal(method.httpMethod, httpMethod, method.id);
      assert.equal(method.path, path, method.id);
      assert.deepEqual(Object.keys(method.parameters).sort(), [...parameters].sort(), method.id);
      assert.deepEqual(method.parameterOrder, order, method.id);
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const parameter = method.parameters[name.slice(1, -1)];
        assert.equal(parameter?.location, 'path', `${method.id} ${name}`);
        assert.equal(parameter?.required, true, `${method.id} ${name}`);
      }
      for (const ref of [method.request?.$ref, method.response?.$ref]) {
        if (ref) assert.ok((doc['schemas'] as Json)[ref], `${method.id} refers to schema ${ref}`);
      }
    }
  });

  void it('every method it lists is a route the server answers with its verb', async () => {
    const doc = await document();
    await insert('q', { id: 't' });
    for (const resource of Object.values(doc.resources)) {
      for (const method of Object.values(resource.methods)) {
        const url = `/${String(doc['servicePath'])}${method.path}`
          .replace('{project}', 's~app')
          .replace('{taskqueue}', 'q')
          .replace('{task}', 't');
        const res = await app.inject({ method: method.httpMethod as 'GET', url });
        const message = res.statusCode === 404 ? googleError(res, 404, 'notFound') : '';
        assert.doesNotMatch(message, /^no route/, `${method.httpMethod} ${url}`);
      }
    }
  });

  void it('types int64 fields as strings and int32 fields as integers in the schemas', async () => {
    const doc = await document();
    const task = (doc['schemas'] as Record<string, { properties: Record<string, Json> }>)['Task'];
    assert.deepEqual(task?.properties['leaseTimestamp'], {
      ...task?.properties['leaseTimestamp'],
      type: 'string',
      format: 'int64',
    });
    assert.deepEqual(task?.properties['enqueueTimestamp'], {
      ...task?.properties['enqueueTimestamp'],
      type: 'string',
      format: 'int64',
    });
    assert.deepEqual(task?.properties['retry_count'], {
      ...task?.properties['retry_count'],
      type: 'integer',
      format: 'int32',
    });
  });
});
