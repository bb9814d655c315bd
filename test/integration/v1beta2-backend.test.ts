/**
 * V1beta2Backend against real listening servers: a pullq server on memory (its v1beta2
 * routes) sharing a manual clock with the test, and bare node:http servers that record paths
 * or answer as Google did, for what a pullq server would not show.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { newTokenRecord } from '../../src/auth/tokens.ts';
import type { ItemResult, LeasedTask, Task } from '../../src/backends/backend.ts';
import { MemoryTokenStore } from '../../src/backends/memory-token-store.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { V1beta2Backend } from '../../src/backends/v1beta2-http.ts';
import { PullqError } from '../../src/protocol/errors.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

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

function itemError<T>(result: ItemResult<T> | undefined, code: string): PullqError {
  assert.ok(result && !result.ok, `expected a ${code} item, got ${JSON.stringify(result)}`);
  assert.equal(result.error.code, code, result.error.message);
  return result.error;
}

function itemValue<T>(result: ItemResult<T> | undefined): T {
  if (!result?.ok) {
    assert.fail(`expected an ok item, got ${result ? result.error.message : 'nothing'}`);
  }
  return result.value;
}

async function startPullq(options: { auth?: boolean } = {}): Promise<{
  memory: MemoryBackend;
  clock: ManualClock;
  tokens: MemoryTokenStore;
  url: string;
  close(): Promise<void>;
}> {
  const clock = new ManualClock();
  const memory = new MemoryBackend({ clock });
  const tokens = new MemoryTokenStore();
  const server: PullqServer = await buildServer({
    backend: memory,
    clock,
    autoCreateQueues: false,
    ...(options.auth ? { auth: { tokens } } : {}),
  });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as AddressInfo;
  return {
    memory,
    clock,
    tokens,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.beginShutdown();
      await server.app.close();
      await memory.close();
    },
  };
}

interface Recorded {
  method: string;
  url: string;
  body: string;
}

/** A bare server that records each request and answers with `answer`. */
async function startBare(
  answer: (request: Recorded, response: ServerResponse) => void,
): Promise<{ url: string; seen: Recorded[]; close(): Promise<void> }> {
  const seen: Recorded[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const recorded = { method: request.method ?? '', url: request.url ?? '', body };
      seen.push(recorded);
      answer(recorded, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const WIRE_TASK = {
  kind: 'taskqueues#task',
  id: 't1',
  queueName: 'q',
  payloadBase64: 'aGk=',
  enqueueTimestamp: '1763700000000000',
  leaseTimestamp: '1763700060000000',
  retry_count: 1,
};

describe('V1beta2Backend against a pullq server', () => {
  let pullq: Awaited<ReturnType<typeof startPullq>>;
  let backend: V1beta2Backend;
  let q: string;
  let queues = 0;
  before(async () => {
    pullq = await startPullq();
    backend = new V1beta2Backend({ url: `${pullq.url}/`, project: 'app', clock: pullq.clock });
  });
  after(async () => {
    await backend.close();
    await pullq.close();
  });
  beforeEach(async () => {
    q = `q${++queues}`;
    await pullq.memory.createQueue(q);
  });

  async function leaseOne(leaseSeconds = 30): Promise<LeasedTask> {
    const [task] = await backend.lease(q, { max: 1, leaseSeconds });
    assert.ok(task, 'a task was leased');
    return task;
  }

  it('insert, lease and ack round-trip the payload, id and tag', async () => {
    const payload = Uint8Array.from({ length: 256 }, (_, index) => index);
    const [inserted] = await backend.insert(q, [{ payload, id: 'all-bytes', tag: 'x' }]);
    assert.equal(itemValue(inserted).id, 'all-bytes');
    assert.equal(itemValue(inserted).state, 'ready');
    const task = await leaseOne();
    assert.deepEqual(task.payload, payload);
    assert.equal(task.tag, 'x');
    assert.equal(task.attempts, 1);
    assert.equal(task.eta, pullq.clock.now() + 30_000);
    // The lease is fenced by leaseTimestamp: the token is that value in µs.
    assert.equal(task.leaseToken, `${task.eta}000`);
    assert.deepEqual(await backend.ack(q, [{ id: task.id, token: task.leaseToken }]), [
      { ok: true, value: null },
    ]);
    assert.equal(await pullq.memory.get(q, 'all-bytes'), null);
  });

  it('ack after the lease ran out and the task was leased again fails with lease_lost and keeps the task', async () => {
    await backend.insert(q, [{ payload: bytes('once'), id: 'contested' }]);
    const first = await leaseOne(1);
    pullq.clock.advance(1100);
    const second = await leaseOne(30);
    assert.equal(second.id, 'contested');
    itemError((await backend.ack(q, [{ id: first.id, token: first.leaseToken }]))[0], 'lease_lost');
    const kept = await pullq.memory.get(q, 'contested');
    assert.equal(kept?.state, 'leased');
    assert.equal(kept.eta, second.eta, 'the second lease is untouched');
    itemValue((await backend.ack(q, [{ id: second.id, token: second.leaseToken }]))[0]);
  });

  it('ack after the lease ran out, with nobody else holding it, fails with lease_lost', async () => {
    await backend.insert(q, [{ payload: bytes('late'), id: 'late' }]);
    const task = await leaseOne(1);
    pullq.clock.advance(1100);
    itemError((await backend.ack(q, [{ id: task.id, token: task.leaseToken }]))[0], 'lease_lost');
    assert.notEqual(await pullq.memory.get(q, 'late'), null);
  });

  it('extend moves the lease and hands out a new token: the new one acks, the old one gets lease_lost', async () => {
    await backend.insert(q, [{ payload: bytes('long job') }]);
    const task = await leaseOne(30);
    pullq.clock.advance(5000);
    const [extended] = await backend.extend(q, [{ id: task.id, token: task.leaseToken }], 120);
    const renewed = itemValue(extended) as LeasedTask;
    assert.equal(renewed.state, 'leased');
    assert.equal(renewed.eta, pullq.clock.now() + 120_000);
    assert.equal(renewed.leaseToken, `${renewed.eta}000`);
    assert.notEqual(renewed.leaseToken, task.leaseToken);
    itemError((await backend.ack(q, [{ id: task.id, token: task.leaseToken }]))[0], 'lease_lost');
    itemValue((await backend.ack(q, [{ id: task.id, token: renewed.leaseToken }]))[0]);
    assert.equal(await pullq.memory.get(q, task.id), null);
  });

  it('extend accepts the lease end in ms as the fence', async () => {
    await backend.insert(q, [{ payload: bytes('by time') }]);
    const task = await leaseOne(30);
    const [extended] = await backend.extend(q, [{ id: task.id, leaseExpiresAt: task.eta }], 60);
    assert.equal(itemValue(extended).eta, pullq.clock.now() + 60_000);
  });

  it('a token this backend never handed out fails with lease_lost', async () => {
    await backend.insert(q, [{ payload: bytes('x') }]);
    const task = await leaseOne();
    itemError((await backend.ack(q, [{ id: task.id, token: 'not-a-time' }]))[0], 'lease_lost');
    itemError((await backend.extend(q, [{ id: task.id, token: '' }], 10))[0], 'lease_lost');
  });

  it('release makes the task leasable at once', async () => {
    await backend.insert(q, [{ payload: bytes('retry me') }]);
    const task = await leaseOne();
    const [released] = await backend.release(q, [{ ref: { id: task.id, token: task.leaseToken } }]);
    assert.equal(itemValue(released).state, 'ready');
    const again = await leaseOne();
    assert.equal(again.id, task.id);
    assert.equal(again.attempts, 2);
  });

  it('release with a delay keeps the task until the delay has passed', async () => {
    await backend.insert(q, [{ payload: bytes('later') }]);
    const task = await leaseOne();
    const ref = { id: task.id, token: task.leaseToken };
    itemValue((await backend.release(q, [{ ref, delaySeconds: 10 }]))[0]);
    assert.deepEqual(await backend.lease(q, { max: 1, leaseSeconds: 30 }), []);
    pullq.clock.advance(10_000);
    assert.equal((await leaseOne()).id, task.id);
  });

  it('release with deadLetter is an unsupported item and leaves the lease as it was', async () => {
    await backend.insert(q, [{ payload: bytes('poison') }]);
    const task = await leaseOne();
    const ref = { id: task.id, token: task.leaseToken };
    itemError((await backend.release(q, [{ ref, deadLetter: true }]))[0], 'unsupported');
    itemValue((await backend.ack(q, [ref]))[0]);
  });

  it('lease with a tag leases only tasks with that tag; groupByTag takes the oldest tag', async () => {
    await backend.insert(q, [
      { payload: bytes('1'), tag: 'a' },
      { payload: bytes('2'), tag: 'b' },
      { payload: bytes('3'), tag: 'a' },
      { payload: bytes('4'), tag: 'b' },
    ]);
    const tagged = await backend.lease(q, { max: 10, leaseSeconds: 30, tag: 'b' });
    assert.deepEqual(
      tagged.map((task) => task.tag),
      ['b', 'b'],
    );
    const grouped = await backend.lease(q, { max: 10, leaseSeconds: 30, groupByTag: true });
    assert.deepEqual(
      grouped.map((task) => new TextDecoder().decode(task.payload)),
      ['1', '3'],
    );
  });

  it('insert with a taken id is an already_exists item; the others go in, in order', async () => {
    await backend.insert(q, [{ payload: bytes('first'), id: 'taken' }]);
    const results = await backend.insert(q, [
      { payload: bytes('a'), id: 'fresh-1' },
      { payload: bytes('b'), id: 'taken' },
      { payload: bytes('c'), id: 'fresh-2' },
    ]);
    assert.equal(itemValue(results[0]).id, 'fresh-1');
    itemError(results[1], 'already_exists');
    assert.equal(itemValue(results[2]).id, 'fresh-2');
  });

  it('a queue that does not exist is queue_not_found, on queue and on task paths', async () => {
    await rejectsWithCode(backend.lease('nowhere', { max: 1, leaseSeconds: 1 }), 'queue_not_found');
    await rejectsWithCode(backend.insert('nowhere', [{ payload: bytes('x') }]), 'queue_not_found');
    await rejectsWithCode(backend.delete('nowhere', ['t1']), 'queue_not_found');
    await rejectsWithCode(backend.get('nowhere', 't1'), 'queue_not_found');
    await rejectsWithCode(backend.stats('nowhere'), 'queue_not_found');
    assert.equal(await backend.getQueue('nowhere'), null);
  });

  it('get answers the task, or null for a task that does not exist', async () => {
    await backend.insert(q, [{ payload: bytes('look'), id: 'seen', tag: 't' }]);
    const task = await backend.get(q, 'seen');
    assert.deepEqual(task?.payload, bytes('look'));
    assert.equal(task.tag, 't');
    assert.equal(await backend.get(q, 'unseen'), null);
    itemError((await backend.delete(q, ['unseen']))[0], 'task_not_found');
  });

  it('list filters by state and tag on the client and fetches payloads when asked', async () => {
    await backend.insert(q, [
      { payload: bytes('1'), id: 'first', tag: 'x' },
      { payload: bytes('2'), id: 'later', eta: pullq.clock.now() + 60_000 },
      { payload: bytes('3'), id: 'second', tag: 'x' },
    ]);
    assert.equal((await leaseOne()).id, 'first');
    const ids = async (request: Parameters<V1beta2Backend['list']>[1]): Promise<string[]> =>
      (await backend.list(q, request)).tasks.map((task: Task) => task.id);
    assert.deepEqual(await ids({ limit: 10, state: 'leased' }), ['first']);
    assert.deepEqual(await ids({ limit: 10, state: 'delayed' }), ['later']);
    assert.deepEqual(await ids({ limit: 10, state: 'ready' }), ['second']);
    assert.deepEqual(await ids({ limit: 10, tag: 'x' }), ['first', 'second']);
    assert.deepEqual(await ids({ limit: 1 }), ['first']);
    const plain = await backend.list(q, { limit: 10 });
    assert.equal(plain.nextCursor, null);
    assert.ok(plain.tasks.every((task) => task.payload.byteLength === 0));
    const full = await backend.list(q, { limit: 10, includePayload: true });
    assert.deepEqual(
      full.tasks.map((task) => new TextDecoder().decode(task.payload)),
      ['1', '2', '3'],
    );
  });

  it('stats counts every task as ready (approximate) and getQueue reads maxLeases', async () => {
    await pullq.memory.updateQueue(q, { maxLeases: 5 });
    await backend.insert(q, [{ payload: bytes('1') }, { payload: bytes('2') }]);
    await backend.lease(q, { max: 1, leaseSeconds: 30 });
    const stats = await backend.stats(q);
    assert.equal(stats.ready, 2);
    assert.equal(stats.leased, 0);
    assert.equal(stats.leasedLastMinute, 1);
    assert.equal(stats.oldestEta, Math.floor(pullq.clock.now() / 1000) * 1000);
    const info = await backend.getQueue(q);
    assert.equal(info?.name, q);
    assert.equal(info.maxLeases, 5);
  });

  it('purgeQueue deletes every task, leased ones too, over several list rounds', async () => {
    // tasks.list answers at most 100 tasks: 250 need three rounds.
    for (let start = 0; start < 250; start += 50) {
      await pullq.memory.insert(
        q,
        Array.from({ length: 50 }, (_, index) => ({ payload: bytes(String(start + index)) })),
      );
    }
    await backend.lease(q, { max: 20, leaseSeconds: 300 });
    assert.equal(await backend.purgeQueue(q), 250);
    const stats = await pullq.memory.stats(q);
    assert.equal(stats.ready + stats.leased + stats.delayed, 0);
  });

  it('lease with an aborted signal returns nothing and leases nothing', async () => {
    await backend.insert(q, [{ payload: bytes('x') }]);
    const aborted = AbortSignal.abort();
    assert.deepEqual(await backend.lease(q, { max: 1, leaseSeconds: 30, signal: aborted }), []);
    assert.equal((await pullq.memory.stats(q)).leased, 0);
  });

  it('the queue administration verbs throw unsupported', async () => {
    await rejectsWithCode(backend.createQueue('x'), 'unsupported');
    await rejectsWithCode(backend.updateQueue(q, { paused: true }), 'unsupported');
    await rejectsWithCode(backend.deleteQueue(q), 'unsupported');
    await rejectsWithCode(backend.listQueues(), 'unsupported');
    await rejectsWithCode(backend.redrive(q), 'unsupported');
  });
});

describe('V1beta2Backend failures', () => {
  it('an unreachable server is unavailable, and retryable', async () => {
    const bare = await startBare(() => {});
    await bare.close();
    const backend = new V1beta2Backend({ url: bare.url, project: 'app' });
    try {
      const error = await rejectsWithCode(
        backend.lease('q', { max: 1, leaseSeconds: 1 }),
        'unavailable',
      );
      assert.equal(error.retryable, true);
    } finally {
      await backend.close();
    }
  });

  it('a server that does not answer within timeoutMs is timeout, and retryable', async () => {
    const bare = await startBare(() => {});
    const backend = new V1beta2Backend({ url: bare.url, project: 'app', timeoutMs: 100 });
    try {
      const error = await rejectsWithCode(backend.stats('q'), 'timeout');
      assert.equal(error.retryable, true);
    } finally {
      await backend.close();
      await bare.close();
    }
  });

  it('without a token the server answers unauthenticated; a producer token may not lease', async () => {
    const pullq = await startPullq({ auth: true });
    await pullq.memory.createQueue('q');
    const { token, record } = newTokenRecord(
      { name: 'producer', roles: ['producer'] },
      pullq.clock.now(),
    );
    await pullq.tokens.createToken(record);
    const anonymous = new V1beta2Backend({ url: pullq.url, project: 'app' });
    const producer = new V1beta2Backend({ url: pullq.url, project: 'app', token });
    try {
      await rejectsWithCode(anonymous.lease('q', { max: 1, leaseSeconds: 1 }), 'unauthenticated');
      itemValue((await producer.insert('q', [{ payload: bytes('x') }]))[0]);
      const error = await rejectsWithCode(
        producer.lease('q', { max: 1, leaseSeconds: 1 }),
        'permission_denied',
      );
      assert.equal(error.details?.['status'], 403);
    } finally {
      await anonymous.close();
      await producer.close();
      await pullq.close();
    }
  });

  it('hrdProject sends s~project on insert and delete, and the plain project elsewhere', async () => {
    const bare = await startBare((request, response) => {
      if (request.method === 'DELETE') response.writeHead(204).end();
      else if (request.url.includes('/tasks/lease')) {
        sendJson(response, 200, { kind: 'taskqueues#tasks', items: [WIRE_TASK] });
      } else sendJson(response, 200, WIRE_TASK);
    });
    const hrd = new V1beta2Backend({ url: bare.url, project: 'app', hrdProject: true });
    const plain = new V1beta2Backend({ url: bare.url, project: 'app' });
    try {
      itemValue((await hrd.insert('q', [{ payload: bytes('hi') }]))[0]);
      const [task] = await hrd.lease('q', { max: 1, leaseSeconds: 60 });
      assert.equal(task?.leaseToken, WIRE_TASK.leaseTimestamp);
      itemValue((await hrd.ack('q', [{ id: task.id, token: task.leaseToken }]))[0]);
      itemValue((await plain.delete('q', ['t1']))[0]);
      const root = '/taskqueue/v1beta2/projects';
      assert.deepEqual(
        bare.seen.map((request) => `${request.method} ${request.url}`),
        [
          `POST ${root}/s~app/taskqueues/q/tasks`,
          `POST ${root}/app/taskqueues/q/tasks/lease?numTasks=1&leaseSecs=60`,
          `POST ${root}/app/taskqueues/q/tasks/t1?newLeaseSeconds=60`,
          `DELETE ${root}/s~app/taskqueues/q/tasks/t1`,
          `DELETE ${root}/app/taskqueues/q/tasks/t1`,
        ],
      );
      // ack's fence names the lease it holds.
      assert.deepEqual(JSON.parse(bare.seen[2]?.body ?? ''), {
        id: 't1',
        queueName: 'q',
        leaseTimestamp: WIRE_TASK.leaseTimestamp,
      });
    } finally {
      await hrd.close();
      await plain.close();
      await bare.close();
    }
  });

  it("Google's error envelope maps to catalog codes by status and reason", async () => {
    const google = (status: number, reason: string, message: string): unknown => ({
      error: { errors: [{ domain: 'global', reason, message }], code: status, message },
    });
    const bare = await startBare((request, response) => {
      if (request.url.includes('/tasks/lease')) {
        sendJson(response, 403, google(403, 'rateLimitExceeded', 'Rate Limit Exceeded'));
      } else if (request.method === 'POST' && request.url.endsWith('/tasks')) {
        sendJson(response, 409, google(409, 'conflict', 'Task already exists'));
      } else if (request.method === 'POST') {
        sendJson(response, 400, google(400, 'invalid', 'The task lease has expired'));
      } else if (request.method === 'DELETE') {
        sendJson(response, 404, google(404, 'notFound', 'Task not found'));
      } else sendJson(response, 404, google(404, 'notFound', 'Queue not found.'));
    });
    const backend = new V1beta2Backend({ url: bare.url, project: 'app' });
    try {
      const taken = itemError(
        (await backend.insert('q', [{ payload: bytes('x'), id: 't1' }]))[0],
        'already_exists',
      );
      assert.equal(taken.message, 'Task already exists');
      assert.deepEqual(taken.details, { status: 409, reason: 'conflict' });
      await rejectsWithCode(backend.lease('q', { max: 1, leaseSeconds: 1 }), 'rate_limited');
      itemError((await backend.extend('q', [{ id: 't1', token: '1000' }], 10))[0], 'lease_lost');
      itemError((await backend.delete('q', ['t1']))[0], 'task_not_found');
      await rejectsWithCode(backend.get('q', 't1'), 'queue_not_found');
    } finally {
      await backend.close();
      await bare.close();
    }
  });

  it('close is idempotent, and a closed backend is unavailable', async () => {
    const backend = new V1beta2Backend({ url: 'http://127.0.0.1:9', project: 'app' });
    await backend.close();
    await backend.close();
    await rejectsWithCode(backend.stats('q'), 'unavailable');
  });
});
