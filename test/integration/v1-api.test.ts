/**
 * The native v1 API, endpoint by endpoint, through `app.inject()` on a memory backend; and the
 * long-poll over a real socket. Bad inputs are in v1-api-bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, fetch, type Response } from 'undici';
import type { LeaseRequest } from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { V1_ROUTES } from '../../src/server/routes/v1.ts';
import {
  assertError,
  b64,
  fromB64,
  queueName,
  v1Server,
  type Json,
  type V1Server,
} from './v1-inject.ts';

let s: V1Server;
before(async () => {
  s = await v1Server();
});
after(() => s.close());

type Tasks = { tasks: Json[] };
type Results = { results: Json[] };

async function insert(queue: string, tasks: Json[]): Promise<Json[]> {
  const answer = await s.call('POST', `/v1/queues/${queue}/tasks`, { tasks });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body as Results).results;
}

async function lease(queue: string, body: Json = {}): Promise<Json[]> {
  const answer = await s.call('POST', `/v1/queues/${queue}/lease`, {
    max: 10,
    leaseSeconds: 60,
    ...body,
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body as Tasks).tasks;
}

function refOf(task: Json | undefined): Json {
  assert.ok(task);
  return { id: task['id'], token: task['leaseToken'] };
}

describe('queues', () => {
  it('POST /v1/queues creates a queue (201) and a second time fails with 409 already_exists', async () => {
    const name = queueName();
    const created = await s.call('POST', '/v1/queues', { name, maxLeases: 3 });
    assert.equal(created.status, 201);
    assert.equal(created.body['name'], name);
    assert.equal(created.body['maxLeases'], 3);
    assert.equal(created.body['deadLetterQueue'], null);
    assert.equal(created.body['paused'], false);
    assert.equal(typeof created.body['createdAt'], 'number');
    assertError(await s.call('POST', '/v1/queues', { name }), 409, 'already_exists');
  });

  it('GET /v1/queues lists the queues by name', async () => {
    const [b, a] = [`b${queueName()}`, `a${queueName()}`];
    await s.call('POST', '/v1/queues', { name: b });
    await s.call('POST', '/v1/queues', { name: a });
    const answer = await s.call('GET', '/v1/queues');
    assert.equal(answer.status, 200);
    const names = (answer.body['queues'] as Json[]).map((queue) => queue['name']);
    assert.ok(names.indexOf(a) < names.indexOf(b) && names.includes(a));
  });

  it('GET /v1/queues/{queue} answers the queue, or 404 queue_not_found', async () => {
    const name = queueName();
    await s.call('POST', '/v1/queues', { name });
    const answer = await s.call('GET', `/v1/queues/${name}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body['dedupWindowSeconds'], 604800);
    assertError(await s.call('GET', `/v1/queues/${queueName()}`), 404, 'queue_not_found');
  });

  it('PATCH /v1/queues/{queue} changes only the fields given; null clears maxLeases', async () => {
    const name = queueName();
    const dead = queueName();
    await s.call('POST', '/v1/queues', { name, maxLeases: 5 });
    const patched = await s.call('PATCH', `/v1/queues/${name}`, { deadLetterQueue: dead });
    assert.equal(patched.status, 200);
    assert.equal(patched.body['maxLeases'], 5);
    assert.equal(patched.body['deadLetterQueue'], dead);
    const cleared = await s.call('PATCH', `/v1/queues/${name}`, { maxLeases: null });
    assert.equal(cleared.body['maxLeases'], null);
    assert.equal(cleared.body['deadLetterQueue'], dead);
  });

  it('pause makes a queue lease nothing while it accepts inserts; resume lets it lease again', async () => {
    const name = queueName();
    await s.call('POST', '/v1/queues', { name });
    const paused = await s.call('POST', `/v1/queues/${name}/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body['paused'], true);
    await insert(name, [{ text: 'a' }]);
    assert.deepEqual(await lease(name), []);
    const resumed = await s.call('POST', `/v1/queues/${name}/resume`);
    assert.equal(resumed.body['paused'], false);
    assert.equal((await lease(name)).length, 1);
  });

  it('DELETE /v1/queues/{queue} answers 204 and the queue is gone', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }]);
    const answer = await s.call('DELETE', `/v1/queues/${name}`);
    assert.equal(answer.status, 204);
    assert.equal(answer.body, undefined);
    assertError(await s.call('GET', `/v1/queues/${name}`), 404, 'queue_not_found');
  });

  it('purge deletes every task and answers how many', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }, { text: 'b' }]);
    await lease(name, { max: 1 });
    const answer = await s.call('POST', `/v1/queues/${name}/purge`);
    assert.deepEqual(answer.body, { purged: 2 });
    assert.deepEqual(await lease(name), []);
  });

  it('stats counts tasks by state', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }, { text: 'b' }, { text: 'c', delaySeconds: 600 }]);
    await lease(name, { max: 1 });
    const answer = await s.call('GET', `/v1/queues/${name}/stats`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body['ready'], 1);
    assert.equal(answer.body['leased'], 1);
    assert.equal(answer.body['delayed'], 1);
    assert.equal(answer.body['dead'], 0);
    assert.equal(answer.body['leasedLastMinute'], 1);
    assert.equal(typeof answer.body['oldestReadyAgeSeconds'], 'number');
  });
});

describe('tasks', () => {
  it('insert answers one result per task, in order, without the payloads', async () => {
    const name = queueName();
    const results = await insert(name, [
      { text: 'héllo', id: 'first', tag: 't' },
      { payload: b64('bytes') },
    ]);
    assert.equal(results.length, 2);
    const [first, second] = results.map((result) => result['task'] as Json);
    assert.equal(results[0]?.['ok'], true);
    assert.equal(first?.['id'], 'first');
    assert.equal(first?.['tag'], 't');
    assert.equal(first?.['state'], 'ready');
    assert.equal(first?.['attempts'], 0);
    assert.equal('payload' in (first ?? {}), false);
    assert.match(String(second?.['id']), /^[a-zA-Z0-9_-]+$/);
  });

  it('insert creates a missing queue, unless the body says createQueue: false', async () => {
    assertError(
      await s.call('POST', `/v1/queues/${queueName()}/tasks`, {
        tasks: [{ text: 'a' }],
        createQueue: false,
      }),
      404,
      'queue_not_found',
    );
    const name = queueName();
    await insert(name, [{ text: 'a' }]);
    assert.equal((await s.call('GET', `/v1/queues/${name}`)).status, 200);
  });

  it('a server without auto-create answers 404 queue_not_found on insert into a missing queue', async () => {
    const strict = await v1Server({ autoCreateQueues: false });
    try {
      const answer = await strict.call('POST', '/v1/queues/nope/tasks', { tasks: [{ text: 'a' }] });
      assertError(answer, 404, 'queue_not_found');
    } finally {
      await strict.close();
    }
  });

  it('a payload in standard or URL-safe base64, padded or not, reads back as the same bytes', async () => {
    const name = queueName();
    const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x3e]);
    const forms = [
      bytes.toString('base64'), // +//w== style, padded
      bytes.toString('base64').replace(/=+$/, ''),
      bytes.toString('base64url'),
      `${bytes.toString('base64url')}=`,
    ];
    await insert(
      name,
      forms.map((payload, index) => ({ payload, id: `form-${index}` })),
    );
    for (let index = 0; index < forms.length; index++) {
      const answer = await s.call('GET', `/v1/queues/${name}/tasks/form-${index}`);
      assert.equal(answer.body['payload'], bytes.toString('base64'), forms[index]);
    }
  });

  it('delaySeconds and eta make a task delayed until then', async () => {
    const name = queueName();
    const results = await insert(name, [
      { text: 'later', delaySeconds: 60 },
      { text: 'at', eta: Date.now() + 120_000 },
    ]);
    for (const result of results) assert.equal((result['task'] as Json)['state'], 'delayed');
    assert.deepEqual(await lease(name), []);
  });

  it('lease answers tasks with payload, leaseToken and the lease end as eta', async () => {
    const name = queueName();
    await insert(name, [{ text: 'one' }, { text: 'two' }, { text: 'three' }]);
    const before = Date.now();
    const tasks = await lease(name, { max: 2, leaseSeconds: 30 });
    assert.deepEqual(
      tasks.map((task) => fromB64(task['payload'])),
      ['one', 'two'],
    );
    for (const task of tasks) {
      assert.equal(task['state'], 'leased');
      assert.equal(task['attempts'], 1);
      assert.equal(typeof task['leaseToken'], 'string');
      assert.ok((task['eta'] as number) >= before + 30_000);
    }
  });

  it('lease with a tag, or groupByTag, leases only that group', async () => {
    const name = queueName();
    await insert(name, [
      { text: 'a1', tag: 'a' },
      { text: 'b1', tag: 'b' },
      { text: 'a2', tag: 'a' },
    ]);
    assert.deepEqual(
      (await lease(name, { tag: 'b' })).map((task) => fromB64(task['payload'])),
      ['b1'],
    );
    assert.deepEqual(
      (await lease(name, { groupByTag: true })).map((task) => fromB64(task['payload'])),
      ['a1', 'a2'],
    );
  });

  it('ack deletes leased tasks; a stale token fails that item with lease_lost', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }, { text: 'b' }]);
    const [a, b] = await lease(name);
    const answer = await s.call('POST', `/v1/queues/${name}/ack`, {
      leases: [refOf(a), { ...refOf(b), token: 'stale' }],
    });
    assert.equal(answer.status, 200);
    const [okItem, lost] = (answer.body as Results).results;
    assert.deepEqual(okItem, { ok: true });
    assert.equal(lost?.['ok'], false);
    assert.equal((lost?.['error'] as Json)['code'], 'lease_lost');
    assert.equal((lost?.['error'] as Json)['retryable'], false);
    assertError(
      await s.call('GET', `/v1/queues/${name}/tasks/${String(a?.['id'])}`),
      404,
      'task_not_found',
    );
  });

  it('extend moves the end of a lease and keeps the token', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }]);
    const [task] = await lease(name, { leaseSeconds: 10 });
    const answer = await s.call('POST', `/v1/queues/${name}/extend`, {
      leases: [refOf(task)],
      leaseSeconds: 600,
    });
    const [result] = (answer.body as Results).results;
    assert.equal(result?.['ok'], true);
    assert.ok(((result?.['task'] as Json)['eta'] as number) >= Date.now() + 590_000);
    const acked = await s.call('POST', `/v1/queues/${name}/ack`, { leases: [refOf(task)] });
    assert.deepEqual(acked.body, { results: [{ ok: true }] });
  });

  it('release gives a task back with its error note, after a delay, or dead-lettered', async () => {
    const name = queueName();
    await insert(name, [{ text: 'now' }, { text: 'later' }, { text: 'dead' }]);
    const [now, later, dead] = await lease(name);
    const answer = await s.call('POST', `/v1/queues/${name}/release`, {
      leases: [
        { ...refOf(now), error: 'boom' },
        { ...refOf(later), delaySeconds: 600 },
        { ...refOf(dead), deadLetter: true },
      ],
    });
    const states = (answer.body as Results).results.map((result) => result['task'] as Json);
    assert.equal(states[0]?.['state'], 'ready');
    assert.equal(states[0]?.['lastError'], 'boom');
    assert.equal(states[1]?.['state'], 'delayed');
    assert.equal(states[2]?.['state'], 'dead');
    assert.deepEqual(
      (await lease(name)).map((task) => task['id']),
      [now?.['id']],
    );
  });

  it('list pages in insertion order, leaves payloads out unless payload=true, and filters', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a', tag: 'x' }, { text: 'b' }, { text: 'c', tag: 'x' }]);
    const first = await s.call('GET', `/v1/queues/${name}/tasks?limit=2`);
    assert.equal(first.status, 200);
    const page = first.body['tasks'] as Json[];
    assert.equal(page.length, 2);
    assert.equal('payload' in (page[0] ?? {}), false);
    const cursor = first.body['nextCursor'];
    assert.equal(typeof cursor, 'string');
    const second = await s.call(
      'GET',
      `/v1/queues/${name}/tasks?limit=2&payload=true&cursor=${String(cursor)}`,
    );
    assert.deepEqual(
      (second.body['tasks'] as Json[]).map((task) => fromB64(task['payload'])),
      ['c'],
    );
    assert.equal(second.body['nextCursor'], null);
    const tagged = await s.call('GET', `/v1/queues/${name}/tasks?tag=x&state=ready`);
    assert.equal((tagged.body['tasks'] as Json[]).length, 2);
  });

  it('GET a task answers it with its payload; DELETE answers 204 and it is gone', async () => {
    const name = queueName();
    await insert(name, [{ text: 'hello', id: 'named' }]);
    const got = await s.call('GET', `/v1/queues/${name}/tasks/named`);
    assert.equal(got.status, 200);
    assert.equal(fromB64(got.body['payload']), 'hello');
    assert.equal(got.body['queue'], name);
    assert.equal((await s.call('DELETE', `/v1/queues/${name}/tasks/named`)).status, 204);
    assertError(await s.call('GET', `/v1/queues/${name}/tasks/named`), 404, 'task_not_found');
    assertError(await s.call('DELETE', `/v1/queues/${name}/tasks/never`), 404, 'task_not_found');
  });

  it('POST delete removes tasks by id, one result per id', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a', id: 'a' }]);
    const answer = await s.call('POST', `/v1/queues/${name}/delete`, { ids: ['a', 'missing'] });
    const [deleted, missing] = (answer.body as Results).results;
    assert.deepEqual(deleted, { ok: true });
    assert.equal((missing?.['error'] as Json)['code'], 'task_not_found');
  });

  it('dead lists the dead letters; redrive makes them leasable again', async () => {
    const name = queueName();
    await insert(name, [{ text: 'a' }, { text: 'b' }]);
    const tasks = await lease(name);
    await s.call('POST', `/v1/queues/${name}/release`, {
      leases: tasks.map((task) => ({ ...refOf(task), deadLetter: true })),
    });
    const dead = await s.call('GET', `/v1/queues/${name}/dead?payload=true`);
    assert.deepEqual(
      (dead.body['tasks'] as Json[]).map((task) => [task['state'], fromB64(task['payload'])]),
      [
        ['dead', 'a'],
        ['dead', 'b'],
      ],
    );
    const one = await s.call('POST', `/v1/queues/${name}/redrive`, { ids: [tasks[0]?.['id']] });
    assert.deepEqual(one.body, { redriven: 1 });
    const rest = await s.call('POST', `/v1/queues/${name}/redrive`);
    assert.deepEqual(rest.body, { redriven: 1 });
    assert.equal((await lease(name)).length, 2);
  });
});

describe('OpenAPI', () => {
  it('GET /openapi.json documents every /v1 route with its schemas', async () => {
    const answer = await s.call('GET', '/openapi.json');
    assert.equal(answer.status, 200);
    assert.equal(answer.body['openapi'], '3.1.0');
    const paths = answer.body['paths'] as Record<string, Record<string, Json>>;
    for (const route of V1_ROUTES) {
      const path = `/v1${route.url.replace(/:(\w+)/g, '{$1}')}`;
      const operation = paths[path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${path} is not documented`);
      assert.equal(operation['operationId'], route.operationId);
    }
    const lease = paths['/v1/queues/{queue}/lease']?.['post'] as Json;
    const body = JSON.stringify(lease['requestBody']);
    assert.match(body, /"maximum":1000/);
    const schemas = (answer.body['components'] as Json)['schemas'] as Json;
    assert.ok(schemas['Task'] && schemas['Queue'] && schemas['Error']);
    assert.match(JSON.stringify(lease['responses']), /#\/components\/schemas\/Task/);
  });
});

describe('long-poll over a real socket', () => {
  let url = '';
  // Its own agent, destroyed at the end: undici may open a spare connection after an abort,
  // and a server waits for a connection that has not sent a request yet.
  const agent = new Agent();
  before(async () => {
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  after(() => agent.destroy());

  function post(path: string, body: Json, signal?: AbortSignal, base = url): Promise<Response> {
    return fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher: agent,
      ...(signal ? { signal } : {}),
    });
  }

  it('a waiting lease returns within 100 ms of an insert made while it waits', async () => {
    const name = queueName();
    await s.call('POST', '/v1/queues', { name });
    const waiting = post(`/v1/queues/${name}/lease`, { max: 1, leaseSeconds: 60, waitSeconds: 10 });
    await sleep(100);
    const inserted = await post(`/v1/queues/${name}/tasks`, { tasks: [{ text: 'wake' }] });
    assert.equal(inserted.status, 200);
    await inserted.arrayBuffer();
    const insertedAt = performance.now();
    const answer = await waiting;
    const elapsed = performance.now() - insertedAt;
    const { tasks } = (await answer.json()) as Tasks;
    assert.equal(fromB64(tasks[0]?.['payload']), 'wake');
    assert.ok(elapsed < 100, `the lease returned ${Math.round(elapsed)} ms after the insert`);
  });

  it('a waiting lease whose client goes away stops waiting and leases nothing', async () => {
    const name = queueName();
    await s.call('POST', '/v1/queues', { name });
    const gone = new AbortController();
    const waiting = post(
      `/v1/queues/${name}/lease`,
      { max: 1, leaseSeconds: 60, waitSeconds: 10 },
      gone.signal,
    );
    await sleep(50);
    gone.abort();
    await assert.rejects(waiting);
    await sleep(50);
    await insert(name, [{ text: 'kept', id: 'kept' }]);
    await sleep(20);
    const task = await s.call('GET', `/v1/queues/${name}/tasks/kept`);
    assert.equal(task.body['state'], 'ready');
    assert.equal(task.body['attempts'], 0);
  });

  it('tasks leased just as the client went away are given back at once', async () => {
    // A backend slower than the client: its lease finishes after the client has left.
    const memory = new MemoryBackend();
    const slow = new Proxy(memory, {
      get(target, key) {
        if (key === 'lease') {
          return async (queue: string, request: LeaseRequest) => {
            await sleep(150);
            return target.lease(queue, { max: request.max, leaseSeconds: request.leaseSeconds });
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const own = await v1Server({ backend: slow });
    try {
      await own.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (own.app.server.address() as AddressInfo).port;
      await own.call('POST', '/v1/queues/slow/tasks', { tasks: [{ text: 'x', id: 'x' }] });
      const gone = new AbortController();
      const waiting = post(
        '/v1/queues/slow/lease',
        { max: 1, leaseSeconds: 600, waitSeconds: 10 },
        gone.signal,
        `http://127.0.0.1:${port}`,
      );
      await sleep(50);
      gone.abort();
      await assert.rejects(waiting);
      await sleep(250);
      const task = await own.call('GET', '/v1/queues/slow/tasks/x');
      assert.equal(task.body['attempts'], 1, 'the slow lease did lease it');
      assert.equal(task.body['state'], 'ready');
    } finally {
      await own.close();
      await memory.close();
    }
  });

  it('shutdown ends a waiting lease at once with no tasks', async () => {
    const own = await v1Server();
    try {
      await own.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (own.app.server.address() as AddressInfo).port;
      await own.call('POST', '/v1/queues', { name: 'idle' });
      const started = performance.now();
      const waiting = post(
        '/v1/queues/idle/lease',
        { max: 1, leaseSeconds: 60, waitSeconds: 30 },
        undefined,
        `http://127.0.0.1:${port}`,
      );
      await sleep(50);
      own.server.beginShutdown();
      const answer = await waiting;
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), { tasks: [] });
      assert.ok(performance.now() - started < 1000);
    } finally {
      await own.close();
    }
  });
});
