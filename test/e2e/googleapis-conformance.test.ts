/**
 * Conformance with a client nobody here wrote: Google's generated Node.js client
 * (googleapis@29, `google.taskqueue('v1beta2')`) against a real server process. Every field
 * the client hands back is checked for its wire type and unit. The client authenticates as
 * Google clients do, with an OAuth2 client holding an access token: here a pullq token with
 * the producer and consumer roles, made by the admin through `POST /v1/tokens`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { google } from 'googleapis';
import type { Taskqueue } from 'googleapis/build/src/apis/taskqueue/v1beta2.js';
import { bearer, startServe } from './serve-process.ts';

const PROJECT = 's~conformance';
const LONG_PREFIX = `projects/${PROJECT}/taskqueues/`;

type Json = Record<string, unknown>;

/** The parsed body a client call answered, as plain JSON to check field by field. */
async function body(call: Promise<{ data: unknown }>): Promise<Json> {
  return (await call).data as Json;
}

interface Served {
  port: number;
  /** A token with the producer and consumer roles on every queue. */
  token: string;
  stop(): Promise<void>;
}

/** A real `pullq serve` process on port 0, on SQLite in a fresh data folder. */
async function startServer(): Promise<Served> {
  const data = await mkdtemp(join(tmpdir(), 'pullq-conformance-'));
  const served = await startServe(['--data', data]);
  const created = await fetch(`${served.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ name: 'conformance', roles: ['producer', 'consumer'], queue: '*' }),
  });
  assert.equal(created.status, 201);
  const { token } = (await created.json()) as { token: string };
  return {
    port: Number(new URL(served.url).port),
    token,
    async stop() {
      await served.stop();
      await rm(data, { recursive: true, force: true });
    },
  };
}

/** An int64 JSON string of microseconds, within `slackMs` of `expectedMs`. */
function assertMicros(value: unknown, expectedMs: number, slackMs: number, what: string): void {
  assert.equal(typeof value, 'string', `${what} is an int64 string`);
  assert.match(value as string, /^\d+$/, `${what} is digits`);
  const ms = Number(value) / 1000;
  assert.ok(
    Math.abs(ms - expectedMs) <= slackMs,
    `${what} = ${String(value)} µs is within ${slackMs} ms of ${expectedMs} ms`,
  );
}

interface ClientError {
  code: number;
  errors: { reason: string; message: string }[];
}

async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    return error as ClientError;
  }
  assert.fail('the call succeeded');
}

describe('googleapis@29 taskqueue v1beta2 against a pullq server', () => {
  let served: Served;
  let opts: { rootUrl: string };
  // How a Google client carries an access token: an OAuth2 client, here given to the service.
  const auth = new google.auth.OAuth2();
  const tq = google.taskqueue<Taskqueue>({ version: 'v1beta2', auth });
  const payload = (text: string): string => Buffer.from(text).toString('base64url');

  before(async () => {
    served = await startServer();
    auth.setCredentials({ access_token: served.token });
    // googleapis@29 builds each URL from the per-call options' rootUrl (the service-level
    // rootUrl only reaches the transport), so every call passes it.
    opts = { rootUrl: `http://127.0.0.1:${served.port}/` };
  });
  after(() => served.stop());

  const insert = (queue: string, resource: object): Promise<Json> =>
    body(tq.tasks.insert({ project: PROJECT, taskqueue: queue, resource }, opts));

  const lease = async (queue: string, params: Json): Promise<Json[]> => {
    const answer = await body(
      tq.tasks.lease({ project: PROJECT, taskqueue: queue, ...params }, opts),
    );
    return (answer['items'] ?? []) as Json[];
  };

  it('tasks.insert answers the task with µs int64 strings, int32 retry_count and a web-safe padded payload', async () => {
    const before = Date.now();
    // 0xfb 0xff is "+/8=" in the standard alphabet: the answer must use "-" and "_".
    const task = await insert('inserts', { id: 'first', tag: 'red', payloadBase64: '-_8' });
    assert.equal(task['kind'], 'taskqueues#task');
    assert.equal(task['id'], 'first');
    assert.equal(task['queueName'], 'inserts');
    assert.equal(task['payloadBase64'], '-_8=');
    assert.equal(task['tag'], 'red');
    assert.equal(task['retry_count'], 0);
    assertMicros(task['enqueueTimestamp'], before, 5000, 'enqueueTimestamp');
    // Never leased: leaseTimestamp is the ETA (now).
    assert.equal(task['leaseTimestamp'], task['enqueueTimestamp']);
  });

  it('tasks.insert with leaseTimestamp delays the task until then', async () => {
    const eta = Date.now() + 3_600_000;
    const task = await insert('delayed', {
      payloadBase64: payload('later'),
      leaseTimestamp: String(eta * 1000),
    });
    assert.equal(task['leaseTimestamp'], String(eta * 1000));
    assert.deepEqual(await lease('delayed', { numTasks: 10, leaseSecs: 60 }), []);
  });

  it('tasks.get returns the task with its payload and does not lease it', async () => {
    await insert('gets', { id: 'g1', payloadBase64: payload('hello') });
    const task = await body(
      tq.tasks.get({ project: PROJECT, taskqueue: 'gets', task: 'g1' }, opts),
    );
    assert.equal(Buffer.from(task['payloadBase64'] as string, 'base64url').toString(), 'hello');
    assert.equal(task['retry_count'], 0);
    assert.equal(task['queueName'], 'gets');
  });

  it('tasks.list answers tasks in insertion order without payloads, and no items when empty', async () => {
    for (const id of ['c', 'a', 'b']) await insert('lists', { id, payloadBase64: payload(id) });
    const list = await body(tq.tasks.list({ project: PROJECT, taskqueue: 'lists' }, opts));
    const items = list['items'] as Json[];
    assert.equal(list['kind'], 'taskqueues#tasks');
    assert.deepEqual(
      items.map((task) => task['id']),
      ['c', 'a', 'b'],
    );
    for (const task of items) {
      assert.equal(task['payloadBase64'], undefined);
      assert.equal(typeof task['retry_count'], 'number');
      assert.match(task['leaseTimestamp'] as string, /^\d+$/);
    }
    await insert('emptied', { id: 'gone', payloadBase64: payload('x') });
    await tq.tasks.delete({ project: PROJECT, taskqueue: 'emptied', task: 'gone' }, opts);
    const empty = await body(tq.tasks.list({ project: PROJECT, taskqueue: 'emptied' }, opts));
    assert.deepEqual(empty, { kind: 'taskqueues#tasks' });
  });

  it('tasks.lease counts an attempt and answers the long queue name and the lease end in µs', async () => {
    await insert('leases', { id: 'l1', payloadBase64: payload('one') });
    await insert('leases', { id: 'l2', payloadBase64: payload('two') });
    const before = Date.now();
    const leased = await lease('leases', { numTasks: 1, leaseSecs: 60 });
    assert.equal(leased.length, 1);
    const [task] = leased;
    assert.equal(task?.['id'], 'l1');
    assert.equal(task?.['queueName'], `${LONG_PREFIX}leases`);
    assert.equal(task?.['retry_count'], 1);
    assert.equal(Buffer.from(task?.['payloadBase64'] as string, 'base64url').toString(), 'one');
    assertMicros(task?.['leaseTimestamp'], before + 60_000, 5000, 'leaseTimestamp');
    const rest = await lease('leases', { numTasks: 10, leaseSecs: 60 });
    assert.deepEqual(
      rest.map((t) => t['id']),
      ['l2'],
    );
    assert.deepEqual(await lease('leases', { numTasks: 10, leaseSecs: 60 }), []);
  });

  it('tasks.lease with groupByTag and a tag leases that tag only; without a tag, the oldest task’s tag', async () => {
    await insert('tags', { id: 't1', tag: 'old', payloadBase64: payload('1') });
    await insert('tags', { id: 't2', tag: 'new', payloadBase64: payload('2') });
    await insert('tags', { id: 't3', tag: 'old', payloadBase64: payload('3') });
    await insert('tags', { id: 't4', tag: 'new', payloadBase64: payload('4') });
    const byTag = await lease('tags', {
      numTasks: 10,
      leaseSecs: 60,
      groupByTag: true,
      tag: 'new',
    });
    assert.deepEqual(
      byTag.map((t) => [t['id'], t['tag']]),
      [
        ['t2', 'new'],
        ['t4', 'new'],
      ],
    );
    const oldest = await lease('tags', { numTasks: 10, leaseSecs: 60, groupByTag: true });
    assert.deepEqual(
      oldest.map((t) => t['id']),
      ['t1', 't3'],
    );
  });

  it('tasks.update moves the lease, fenced by leaseTimestamp; a stale leaseTimestamp is a 400', async () => {
    await insert('updates', { id: 'u1', payloadBase64: payload('u') });
    const [leased] = await lease('updates', { numTasks: 1, leaseSecs: 30 });
    const before = Date.now();
    const updated = await body(
      tq.tasks.update(
        {
          project: PROJECT,
          taskqueue: 'updates',
          task: 'u1',
          newLeaseSeconds: 600,
          resource: { id: 'u1', leaseTimestamp: leased?.['leaseTimestamp'] },
        },
        opts,
      ),
    );
    assertMicros(updated['leaseTimestamp'], before + 600_000, 5000, 'new leaseTimestamp');
    assert.equal(updated['retry_count'], 1, 'changing a lease is not an attempt');
    const stale = await rejection(
      tq.tasks.update(
        {
          project: PROJECT,
          taskqueue: 'updates',
          task: 'u1',
          newLeaseSeconds: 60,
          resource: { id: 'u1', leaseTimestamp: leased?.['leaseTimestamp'] },
        },
        opts,
      ),
    );
    assert.equal(stale.code, 400);
    assert.equal(stale.errors[0]?.reason, 'invalid');
  });

  it('tasks.update with newLeaseSeconds=0 releases the task for the next lease', async () => {
    await insert('releases', { id: 'r1', payloadBase64: payload('r') });
    const [leased] = await lease('releases', { numTasks: 1, leaseSecs: 600 });
    await tq.tasks.update(
      {
        project: PROJECT,
        taskqueue: 'releases',
        task: 'r1',
        newLeaseSeconds: 0,
        resource: { id: 'r1', leaseTimestamp: leased?.['leaseTimestamp'] },
      },
      opts,
    );
    const [again] = await lease('releases', { numTasks: 1, leaseSecs: 600 });
    assert.equal(again?.['id'], 'r1');
    assert.equal(again?.['retry_count'], 2);
  });

  it('tasks.patch moves the lease, with PATCH and with POST + X-HTTP-Method-Override: PATCH', async () => {
    await insert('patches', { id: 'p1', payloadBase64: payload('p') });
    const [leased] = await lease('patches', { numTasks: 1, leaseSecs: 30 });
    const patched = await body(
      tq.tasks.patch(
        {
          project: PROJECT,
          taskqueue: 'patches',
          task: 'p1',
          newLeaseSeconds: 300,
          resource: {
            id: 'p1',
            queueName: leased?.['queueName'],
            leaseTimestamp: leased?.['leaseTimestamp'],
          },
        },
        opts,
      ),
    );
    assert.notEqual(patched['leaseTimestamp'], leased?.['leaseTimestamp']);

    const before = Date.now();
    const url = `${opts.rootUrl}taskqueue/v1beta2/projects/${PROJECT}/taskqueues/patches/tasks/p1?newLeaseSeconds=900`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-http-method-override': 'PATCH',
        ...bearer(served.token),
      },
      body: JSON.stringify({ queueName: 'patches', leaseTimestamp: patched['leaseTimestamp'] }),
    });
    assert.equal(response.status, 200);
    const overridden = (await response.json()) as Json;
    assertMicros(overridden['leaseTimestamp'], before + 900_000, 5000, 'leaseTimestamp');

    const missingQueueName = await rejection(
      tq.tasks.patch(
        {
          project: PROJECT,
          taskqueue: 'patches',
          task: 'p1',
          newLeaseSeconds: 60,
          resource: { leaseTimestamp: overridden['leaseTimestamp'] },
        },
        opts,
      ),
    );
    assert.equal(missingQueueName.code, 400);
    assert.equal(missingQueueName.errors[0]?.reason, 'required');
  });

  it('tasks.delete answers 204 No Content and the task is then a 404 notFound', async () => {
    await insert('deletes', { id: 'd1', payloadBase64: payload('d') });
    const res = await tq.tasks.delete({ project: PROJECT, taskqueue: 'deletes', task: 'd1' }, opts);
    assert.equal(res.status, 204);
    const gone = await rejection(
      tq.tasks.get({ project: PROJECT, taskqueue: 'deletes', task: 'd1' }, opts),
    );
    assert.equal(gone.code, 404);
    assert.equal(gone.errors[0]?.reason, 'notFound');
  });

  it('taskqueues.get with getStats answers int32 numbers, int64 strings and oldestTask in seconds', async () => {
    const before = Date.now();
    await insert('stats', { payloadBase64: payload('a') });
    await insert('stats', { payloadBase64: payload('b') });
    await insert('stats', { payloadBase64: payload('c') });
    await lease('stats', { numTasks: 1, leaseSecs: 60 });
    const queue = await body(
      tq.taskqueues.get({ project: PROJECT, taskqueue: 'stats', getStats: true }, opts),
    );
    const stats = queue['stats'] as Json;
    assert.equal(queue['kind'], 'taskqueues#taskqueue');
    assert.equal(queue['id'], 'stats');
    assert.equal(queue['maxLeases'], undefined, 'unlimited: maxLeases is left out');
    // The names of the tokens holding each role on the queue: the bootstrap admin and ours.
    assert.deepEqual(queue['acl'], {
      adminEmails: ['admin'],
      consumerEmails: ['conformance'],
      producerEmails: ['conformance'],
    });
    assert.equal(stats['totalTasks'], 3);
    assert.equal(stats['leasedLastMinute'], '1');
    assert.equal(stats['leasedLastHour'], '1');
    assert.match(stats['oldestTask'] as string, /^\d+$/);
    const oldestSeconds = Number(stats['oldestTask']);
    assert.ok(
      Math.abs(oldestSeconds - before / 1000) < 5,
      `oldestTask ${oldestSeconds} is in seconds`,
    );

    const plain = await body(tq.taskqueues.get({ project: PROJECT, taskqueue: 'stats' }, opts));
    assert.equal(plain['stats'], undefined);
  });

  it('a large answer is gzip-encoded for a client that accepts it, and the client decodes it', async () => {
    const bytes = Buffer.alloc(200_000, 'pullq');
    await insert('gzip', { id: 'big', payloadBase64: bytes.toString('base64url') });
    const url = `${opts.rootUrl}taskqueue/v1beta2/projects/${PROJECT}/taskqueues/gzip/tasks/big`;
    const raw = await fetch(url, {
      headers: { 'accept-encoding': 'gzip', ...bearer(served.token) },
    });
    assert.equal(raw.headers.get('content-encoding'), 'gzip');
    await raw.arrayBuffer();
    // The client sends Accept-Encoding: gzip itself (and drops the header once it decoded).
    const task = await body(
      tq.tasks.get({ project: PROJECT, taskqueue: 'gzip', task: 'big' }, opts),
    );
    const answer = task['payloadBase64'] as string;
    assert.ok(answer.endsWith('='), 'padded');
    assert.ok(Buffer.from(answer, 'base64url').equals(bytes), 'the payload round-trips');
  });

  it('a call without a token is a 401 authError, and a token without the role a 403 forbidden', async () => {
    const anonymous = google.taskqueue<Taskqueue>({ version: 'v1beta2' });
    const unauthenticated = await rejection(
      anonymous.tasks.list({ project: PROJECT, taskqueue: 'lists' }, opts),
    );
    assert.equal(unauthenticated.code, 401);
    assert.equal(unauthenticated.errors[0]?.reason, 'authError');

    const created = await fetch(`${opts.rootUrl}v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer() },
      body: JSON.stringify({ name: 'producer-only', roles: ['producer'], queue: 'forbidden-*' }),
    });
    const producer = new google.auth.OAuth2();
    producer.setCredentials({ access_token: ((await created.json()) as { token: string }).token });
    const forbidden = await rejection(
      tq.tasks.lease(
        { project: PROJECT, taskqueue: 'forbidden-q', numTasks: 1, leaseSecs: 60, auth: producer },
        opts,
      ),
    );
    assert.equal(forbidden.code, 403);
    assert.equal(forbidden.errors[0]?.reason, 'forbidden');
  });

  it('a client built from the served discovery document drives the same API', async () => {
    const api = (await google.discoverAPI(
      `${opts.rootUrl}discovery/v1/apis/taskqueue/v1beta2/rest`,
      { auth },
    )) as unknown as DiscoveredTaskqueue;
    const base = { project: PROJECT, taskqueue: 'discovered' };
    const inserted = await body(
      api.tasks.insert({
        ...base,
        resource: { id: 'x1', payloadBase64: payload('via discovery') },
      }),
    );
    assert.equal(inserted['id'], 'x1');
    const leased = await body(api.tasks.lease({ ...base, numTasks: 5, leaseSecs: 60 }));
    const [task] = leased['items'] as Json[];
    assert.equal(task?.['queueName'], `${LONG_PREFIX}discovered`);
    const patched = await body(
      api.tasks.patch({
        ...base,
        task: 'x1',
        newLeaseSeconds: 120,
        resource: { queueName: 'discovered', leaseTimestamp: task?.['leaseTimestamp'] },
      }),
    );
    await body(
      api.tasks.update({
        ...base,
        task: 'x1',
        newLeaseSeconds: 0,
        resource: { id: 'x1', leaseTimestamp: patched['leaseTimestamp'] },
      }),
    );
    assert.equal((await body(api.tasks.get({ ...base, task: 'x1' })))['retry_count'], 1);
    assert.equal(((await body(api.tasks.list(base)))['items'] as unknown[]).length, 1);
    const queue = await body(api.taskqueues.get({ ...base, getStats: true }));
    assert.equal((queue['stats'] as Json)['totalTasks'], 1);
    await api.tasks.delete({ ...base, task: 'x1' });
    assert.deepEqual(await body(api.tasks.list(base)), { kind: 'taskqueues#tasks' });
  });
});

type Method = (params: Record<string, unknown>) => Promise<{ data: unknown }>;
interface DiscoveredTaskqueue {
  taskqueues: { get: Method };
  tasks: Record<'insert' | 'get' | 'list' | 'lease' | 'update' | 'patch' | 'delete', Method>;
}
