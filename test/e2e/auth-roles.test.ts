/**
 * Access control against a real `pullq serve` process on SQLite: every route needs a token
 * but the probes, and each role reaches exactly what it should.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from './serve-process.ts';

const V1BETA2 = '/taskqueue/v1beta2/projects/s~app/taskqueues';

describe('access control on a running pullq serve', () => {
  let dir: string;
  let server: ServeProcess;

  const call = async (
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> | null }> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : bearer(token)),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : null,
    };
  };

  const createToken = async (
    name: string,
    roles: string[],
    queue: string,
    expiresInSeconds?: number,
  ) => {
    const created = await call('POST', '/v1/tokens', TEST_ADMIN_TOKEN, {
      name,
      roles,
      queue,
      ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return created.json?.['token'] as string;
  };

  const insert = (queue: string, token: string) =>
    call('POST', `/v1/queues/${queue}/tasks`, token, { tasks: [{ text: 'x' }] });
  const lease = (queue: string, token: string) =>
    call('POST', `/v1/queues/${queue}/lease`, token, { max: 1, leaseSeconds: 30 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullq-auth-roles-'));
    server = await startServe(['--data', dir]);
    for (const queue of ['emails-eu', 'billing'])
      assert.equal((await insert(queue, TEST_ADMIN_TOKEN)).status, 200);
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('without a token every route of the OpenAPI document and of v1beta2 answers 401; the probes answer 200', async () => {
    const openapi = await call('GET', '/openapi.json');
    assert.equal(openapi.status, 200);
    const paths = openapi.json?.['paths'] as Record<string, Record<string, unknown>>;
    const routes: [string, string][] = [];
    for (const [path, methods] of Object.entries(paths)) {
      const concrete = path
        .replace('{queue}', 'emails-eu')
        .replace('{id}', 'task1')
        .replace('{name}', 'someone');
      for (const method of Object.keys(methods)) routes.push([method.toUpperCase(), concrete]);
    }
    routes.push(
      ['GET', `${V1BETA2}/emails-eu`],
      ['POST', `${V1BETA2}/emails-eu/tasks`],
      ['GET', `${V1BETA2}/emails-eu/tasks`],
      ['POST', `${V1BETA2}/emails-eu/tasks/lease?numTasks=1&leaseSecs=10`],
      ['GET', `${V1BETA2}/emails-eu/tasks/t1`],
      ['DELETE', `${V1BETA2}/emails-eu/tasks/t1`],
    );
    assert.ok(routes.length > 20, `only ${routes.length} routes found`);
    for (const [method, path] of routes) {
      const answer = await call(
        method,
        path,
        undefined,
        method === 'GET' || method === 'DELETE' ? undefined : {},
      );
      assert.equal(answer.status, 401, `${method} ${path}`);
    }
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/readyz')).status, 200);
  });

  it('a producer token can insert but not lease', async () => {
    const token = await createToken('producer-1', ['producer'], '*');
    assert.equal((await insert('emails-eu', token)).status, 200);
    const refused = await lease('emails-eu', token);
    assert.equal(refused.status, 403);
    assert.equal((refused.json?.['error'] as { code: string }).code, 'permission_denied');
  });

  it('a consumer token for emails-* leases from emails-eu, not from billing, and cannot insert', async () => {
    const token = await createToken('consumer-1', ['consumer'], 'emails-*');
    assert.equal((await lease('emails-eu', token)).status, 200);
    assert.equal((await lease('billing', token)).status, 403);
    assert.equal((await insert('emails-eu', token)).status, 403);
  });

  it('an admin token controls queues and tokens', async () => {
    assert.equal(
      (await call('POST', '/v1/queues', TEST_ADMIN_TOKEN, { name: 'admin-made' })).status,
      201,
    );
    assert.equal((await call('POST', '/v1/queues/billing/purge', TEST_ADMIN_TOKEN)).status, 200);
    assert.equal((await lease('emails-eu', TEST_ADMIN_TOKEN)).status, 200);
    assert.equal((await call('GET', '/v1/tokens', TEST_ADMIN_TOKEN)).status, 200);
  });

  it('a revoked token gets 401', async () => {
    const token = await createToken('to-revoke', ['consumer'], '*');
    assert.equal((await lease('emails-eu', token)).status, 200);
    assert.equal((await call('DELETE', '/v1/tokens/to-revoke', TEST_ADMIN_TOKEN)).status, 204);
    assert.equal((await lease('emails-eu', token)).status, 401);
  });

  it('an expired token gets 401', async () => {
    const token = await createToken('short-lived', ['consumer'], '*', 1);
    assert.equal((await lease('emails-eu', token)).status, 200);
    await sleep(1_200);
    const expired = await lease('emails-eu', token);
    assert.equal(expired.status, 401);
    assert.equal((expired.json?.['error'] as { code: string }).code, 'unauthenticated');
  });
});
