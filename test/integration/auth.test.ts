/**
 * Authentication and access control (issue 3; docs/protocol.md, "Authentication"), through
 * `app.inject()` on a server whose tokens and queues live in a SQLite file. Malformed headers
 * over a real socket are in auth-fuzz.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { generateToken } from '../../src/auth/tokens.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer } from '../../src/server/app.ts';
import {
  V1BETA2_ROOT,
  assertGoogleError,
  assertNativeError,
  authServer,
  bodyFor,
  everyRoute,
  fillPath,
  type AuthServer,
  type Json,
} from './auth-harness.ts';

const task = { text: 'hello' };
const v1beta2Task = { payloadBase64: Buffer.from('hello').toString('base64url') };
const lease = { max: 10, leaseSeconds: 60 };
const v1beta2Lease = 'tasks/lease?numTasks=10&leaseSecs=60';

let s: AuthServer;
let admin: string;
beforeEach(async () => {
  s = await authServer();
  admin = await s.token(['admin']);
  for (const queue of ['emails-eu', 'billing']) {
    assert.equal(
      (await s.call('POST', '/v1/queues', { token: admin, body: { name: queue } })).status,
      201,
    );
  }
});
afterEach(() => s.close());

describe('authentication', () => {
  it('every route of both APIs answers 401 without a token, and with an unknown one', async () => {
    const unknown = generateToken();
    for (const route of everyRoute()) {
      const url = fillPath(route.route);
      for (const token of [undefined, unknown]) {
        const answer = await s.call(route.method, url, { token, body: bodyFor(route.method) });
        const what = `${route.method} ${route.route} (${route.name}) ${token ? 'unknown token' : 'no token'}`;
        assert.equal(answer.status, 401, `${what}: ${answer.text}`);
        assert.equal(answer.headers['www-authenticate'], 'Bearer', what);
        if (route.method === 'HEAD') continue;
        if (route.api === 'v1') assertNativeError(answer, 401, 'unauthenticated', unknown);
        else assertGoogleError(answer, 401, 'authError', unknown);
      }
    }
  });

  it('unknown paths and wrong methods answer 401 without a token, 404 and 405 with one', async () => {
    assertNativeError(await s.call('GET', '/v1/nothing-here'), 401, 'unauthenticated');
    assertNativeError(await s.call('PUT', '/v1/queues'), 401, 'unauthenticated');
    const consumer = await s.token(['consumer'], 'emails-*');
    assertNativeError(
      await s.call('GET', '/v1/nothing-here', { token: consumer }),
      404,
      'route_not_found',
    );
    assertNativeError(
      await s.call('PUT', '/v1/queues', { token: consumer }),
      405,
      'method_not_allowed',
    );
  });

  it('the probes and the API documents need no token', async () => {
    for (const url of [
      '/healthz',
      '/readyz',
      '/openapi.json',
      '/discovery/v1/apis',
      '/discovery/v1/apis/taskqueue/v1beta2/rest',
    ]) {
      assert.equal((await s.call('GET', url)).status, 200, url);
    }
  });

  it('a revoked token gets 401 at once on the server that revoked it', async () => {
    const consumer = await s.token(['consumer'], '*', { name: 'leaver' });
    assert.equal(
      (await s.call('GET', '/v1/queues/billing/stats', { token: consumer })).status,
      200,
    );
    assert.equal((await s.call('DELETE', '/v1/tokens/leaver', { token: admin })).status, 204);
    assertNativeError(
      await s.call('GET', '/v1/queues/billing/stats', { token: consumer }),
      401,
      'unauthenticated',
      consumer,
    );
  });

  it('a token revoked in the store by another server gets 401 within about a second', async () => {
    const consumer = await s.token(['consumer'], '*', { name: 'elsewhere' });
    assert.equal(
      (await s.call('GET', '/v1/queues/billing/stats', { token: consumer })).status,
      200,
    );
    assert.equal(await s.backend.revokeToken('elsewhere'), true);
    await sleep(1100);
    assertNativeError(
      await s.call('GET', '/v1/queues/billing/stats', { token: consumer }),
      401,
      'unauthenticated',
    );
  });

  it('an expired token gets 401, by the server clock, even when it was just verified', async () => {
    const consumer = await s.token(['consumer'], '*', { expiresAt: s.clock.now() + 60_000 });
    assert.equal(
      (await s.call('GET', '/v1/queues/billing/stats', { token: consumer })).status,
      200,
    );
    s.clock.advance(60_000);
    const answer = await s.call('GET', '/v1/queues/billing/stats', { token: consumer });
    assertNativeError(answer, 401, 'unauthenticated', consumer);
    assert.match(String((answer.body['error'] as Json)['message']), /expired/);
  });

  it('v1beta2 takes the token as Bearer, ?oauth_token= or ?key=; v1 only as Bearer', async () => {
    const consumer = await s.token(['consumer'], 'emails-*');
    const url = `${V1BETA2_ROOT}/emails-eu`;
    assert.equal((await s.call('GET', url, { token: consumer })).status, 200);
    assert.equal((await s.call('GET', `${url}?oauth_token=${consumer}`)).status, 200);
    assert.equal((await s.call('GET', `${url}?key=${consumer}`)).status, 200);
    assert.equal((await s.call('GET', `${url}?getStats=true&key=${consumer}`)).status, 200);
    assertGoogleError(
      await s.call('GET', `${url}?oauth_token=${consumer}x`),
      401,
      'authError',
      consumer,
    );
    assertGoogleError(
      await s.call('GET', `${url}?oauth_token=${consumer}&oauth_token=${consumer}`),
      401,
      'authError',
    );
    assertNativeError(
      await s.call('GET', `/v1/queues/emails-eu?oauth_token=${consumer}`),
      401,
      'unauthenticated',
      consumer,
    );
  });
});

describe('roles', () => {
  it('a producer token can insert but not lease (403), in both APIs', async () => {
    const producer = await s.token(['producer'], '*');
    assert.equal(
      (
        await s.call('POST', '/v1/queues/emails-eu/tasks', {
          token: producer,
          body: { tasks: [task] },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await s.call('POST', `${V1BETA2_ROOT}/emails-eu/tasks`, {
          token: producer,
          body: v1beta2Task,
        })
      ).status,
      200,
    );
    assertNativeError(
      await s.call('POST', '/v1/queues/emails-eu/lease', { token: producer, body: lease }),
      403,
      'permission_denied',
      producer,
    );
    assertGoogleError(
      await s.call('POST', `${V1BETA2_ROOT}/emails-eu/${v1beta2Lease}`, { token: producer }),
      403,
      'forbidden',
      producer,
    );
    // Nothing was leased by the refused calls.
    assert.equal(
      (await s.call('GET', '/v1/queues/emails-eu/stats', { token: admin })).body['ready'],
      2,
    );
  });

  it('a consumer token for emails-* can lease from emails-eu but not from billing (403), and cannot insert', async () => {
    const consumer = await s.token(['consumer'], 'emails-*');
    await s.call('POST', '/v1/queues/emails-eu/tasks', { token: admin, body: { tasks: [task] } });
    await s.call('POST', '/v1/queues/billing/tasks', { token: admin, body: { tasks: [task] } });
    const leased = await s.call('POST', '/v1/queues/emails-eu/lease', {
      token: consumer,
      body: lease,
    });
    assert.equal(leased.status, 200, leased.text);
    const [one] = leased.body['tasks'] as Json[];
    assert.ok(one);
    assert.equal(
      (
        await s.call('POST', '/v1/queues/emails-eu/ack', {
          token: consumer,
          body: { leases: [{ id: one['id'], token: one['leaseToken'] }] },
        })
      ).status,
      200,
    );
    assertNativeError(
      await s.call('POST', '/v1/queues/billing/lease', { token: consumer, body: lease }),
      403,
      'permission_denied',
    );
    assertGoogleError(
      await s.call('POST', `${V1BETA2_ROOT}/billing/${v1beta2Lease}`, { token: consumer }),
      403,
      'forbidden',
    );
    assert.equal(
      (await s.call('POST', `${V1BETA2_ROOT}/emails-eu/${v1beta2Lease}`, { token: consumer }))
        .status,
      200,
    );
    assertNativeError(
      await s.call('POST', '/v1/queues/emails-eu/tasks', {
        token: consumer,
        body: { tasks: [task] },
      }),
      403,
      'permission_denied',
    );
    assertGoogleError(
      await s.call('POST', `${V1BETA2_ROOT}/emails-eu/tasks`, {
        token: consumer,
        body: v1beta2Task,
      }),
      403,
      'forbidden',
    );
    assertNativeError(
      await s.call('POST', '/v1/queues/emails-eu/purge', { token: consumer }),
      403,
      'permission_denied',
    );
    assert.equal(
      (await s.call('GET', '/v1/queues/billing/stats', { token: admin })).body['ready'],
      1,
    );
  });

  it('an admin token is refused nowhere', async () => {
    for (const route of everyRoute()) {
      const answer = await s.call(route.method, fillPath(route.route), {
        token: admin,
        body: bodyFor(route.method),
      });
      assert.ok(
        ![401, 403].includes(answer.status),
        `${route.method} ${route.route}: ${answer.text}`,
      );
    }
  });

  it('an admin token does everything, queue control, redrive and tokens included', async () => {
    const calls: [string, string, unknown, number][] = [
      ['POST', '/v1/queues', { name: 'jobs', maxLeases: 1 }, 201],
      ['PATCH', '/v1/queues/jobs', { dedupWindowSeconds: 60 }, 200],
      ['POST', '/v1/queues/jobs/pause', undefined, 200],
      ['POST', '/v1/queues/jobs/resume', undefined, 200],
      [
        'POST',
        '/v1/queues/jobs/tasks',
        {
          tasks: [
            { ...task, id: 'a' },
            { ...task, id: 'b' },
          ],
        },
        200,
      ],
      ['POST', '/v1/queues/jobs/lease', { ...lease, max: 1, leaseSeconds: 0 }, 200],
      ['POST', '/v1/queues/jobs/lease', { ...lease, max: 2 }, 200],
      ['GET', '/v1/queues/jobs/dead', undefined, 200],
      ['POST', '/v1/queues/jobs/redrive', undefined, 200],
      ['GET', '/v1/queues/jobs/tasks/a', undefined, 200],
      ['GET', '/v1/queues/jobs/tasks', undefined, 200],
      ['DELETE', '/v1/queues/jobs/tasks/a', undefined, 204],
      ['POST', '/v1/queues/jobs/delete', { ids: ['b'] }, 200],
      ['POST', '/v1/queues/jobs/purge', undefined, 200],
      ['GET', `${V1BETA2_ROOT}/jobs?getStats=true`, undefined, 200],
      ['POST', '/v1/tokens', { name: 'new-one', roles: ['consumer'] }, 201],
      ['GET', '/v1/tokens', undefined, 200],
      ['DELETE', '/v1/tokens/new-one', undefined, 204],
      ['DELETE', '/v1/queues/jobs', undefined, 204],
    ];
    for (const [method, url, body, status] of calls) {
      const answer = await s.call(method, url, { token: admin, body });
      assert.equal(answer.status, status, `${method} ${url}: ${answer.text}`);
    }
  });

  it('an admin of emails-* controls those queues only, and not the tokens', async () => {
    const emailsAdmin = await s.token(['admin'], 'emails-*');
    assert.equal(
      (await s.call('POST', '/v1/queues', { token: emailsAdmin, body: { name: 'emails-us' } }))
        .status,
      201,
    );
    assert.equal(
      (await s.call('POST', '/v1/queues/emails-us/purge', { token: emailsAdmin })).status,
      200,
    );
    assertNativeError(
      await s.call('POST', '/v1/queues', { token: emailsAdmin, body: { name: 'payroll' } }),
      403,
      'permission_denied',
    );
    // Dead letters may only flow into queues it covers.
    assertNativeError(
      await s.call('POST', '/v1/queues', {
        token: emailsAdmin,
        body: { name: 'emails-x', deadLetterQueue: 'billing' },
      }),
      403,
      'permission_denied',
    );
    assertNativeError(
      await s.call('PATCH', '/v1/queues/emails-eu', {
        token: emailsAdmin,
        body: { deadLetterQueue: 'billing' },
      }),
      403,
      'permission_denied',
    );
    assert.equal(
      (
        await s.call('PATCH', '/v1/queues/emails-eu', {
          token: emailsAdmin,
          body: { deadLetterQueue: 'emails-dead' },
        })
      ).status,
      200,
    );
    assertNativeError(
      await s.call('DELETE', '/v1/queues/billing', { token: emailsAdmin }),
      403,
      'permission_denied',
    );
    for (const [method, url] of [
      ['GET', '/v1/tokens'],
      ['POST', '/v1/tokens'],
      ['DELETE', '/v1/tokens/x'],
    ]) {
      const body = method === 'POST' ? { name: 'sneaky', roles: ['admin'] } : undefined;
      assertNativeError(
        await s.call(method as string, url as string, { token: emailsAdmin, body }),
        403,
        'permission_denied',
      );
    }
    assert.equal((await s.call('GET', '/v1/queues/payroll', { token: admin })).status, 404);
  });

  it('listing queues shows any token the queues its pattern covers', async () => {
    const producer = await s.token(['producer'], 'emails-*');
    const names = async (token: string) =>
      ((await s.call('GET', '/v1/queues', { token })).body['queues'] as Json[]).map(
        (queue) => queue['name'],
      );
    assert.deepEqual(await names(producer), ['emails-eu']);
    assert.deepEqual(await names(admin), ['billing', 'emails-eu']);
  });

  it('v1beta2 taskqueues.get fills the ACL with the names of the tokens holding each role on the queue', async () => {
    await s.token(['producer'], 'emails-*', { name: 'mailer' });
    await s.token(['producer', 'consumer'], 'emails-eu', { name: 'worker' });
    await s.token(['consumer'], 'billing', { name: 'accountant' });
    await s.token(['consumer'], '*', { name: 'expired', expiresAt: s.clock.now() + 1 });
    s.clock.advance(1);
    const answer = await s.call('GET', `${V1BETA2_ROOT}/emails-eu`, { token: admin });
    const adminName = (await s.backend.listTokens()).find((token) =>
      token.roles.includes('admin'),
    )?.name;
    assert.deepEqual(answer.body['acl'], {
      adminEmails: [adminName],
      consumerEmails: ['worker'],
      producerEmails: ['mailer', 'worker'],
    });
  });
});

describe('token endpoints', () => {
  it('POST /v1/tokens shows the token once; it works at once; GET lists it without it; DELETE revokes it', async () => {
    const created = await s.call('POST', '/v1/tokens', {
      token: admin,
      body: {
        name: 'ci',
        roles: ['consumer', 'producer'],
        queue: 'emails-*',
        expiresInSeconds: 3600,
      },
    });
    assert.equal(created.status, 201, created.text);
    const token = String(created.body['token']);
    assert.match(token, /^pq_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(
      { ...created.body, token: undefined },
      {
        token: undefined,
        name: 'ci',
        roles: ['producer', 'consumer'],
        queue: 'emails-*',
        createdAt: s.clock.now(),
        expiresAt: s.clock.now() + 3_600_000,
      },
    );
    assert.equal(
      (await s.call('POST', '/v1/queues/emails-eu/tasks', { token, body: { tasks: [task] } }))
        .status,
      200,
    );
    const listed = await s.call('GET', '/v1/tokens', { token: admin });
    assert.equal(listed.text.includes(token.slice(3)), false);
    const entry = (listed.body['tokens'] as Json[]).find((item) => item['name'] === 'ci');
    assert.deepEqual(Object.keys(entry ?? {}).sort(), [
      'createdAt',
      'expiresAt',
      'name',
      'queue',
      'roles',
    ]);
    assert.equal((await s.call('DELETE', '/v1/tokens/ci', { token: admin })).status, 204);
    assertNativeError(
      await s.call('DELETE', '/v1/tokens/ci', { token: admin }),
      404,
      'token_not_found',
    );
    assertNativeError(await s.call('GET', '/v1/queues', { token }), 401, 'unauthenticated', token);
    // The store holds the hash and nothing else of it.
    const bytes = Buffer.concat([readFileSync(s.dbPath), readFileSync(`${s.dbPath}-wal`)]);
    assert.equal(bytes.includes(token), false);
    assert.equal(bytes.includes(token.slice(3)), false);
    assert.equal(bytes.includes(Buffer.from(token.slice(3), 'base64url')), false);
  });

  it('a taken name answers 409; a bad name, role or pattern 400', async () => {
    await s.call('POST', '/v1/tokens', {
      token: admin,
      body: { name: 'dup', roles: ['producer'] },
    });
    assertNativeError(
      await s.call('POST', '/v1/tokens', {
        token: admin,
        body: { name: 'dup', roles: ['producer'] },
      }),
      409,
      'already_exists',
    );
    for (const body of [
      { name: 'has space', roles: ['producer'] },
      { name: 'ok', roles: [] },
      { name: 'ok', roles: ['root'] },
      { name: 'ok', roles: ['producer', 'producer'] },
      { name: 'ok', roles: ['producer'], queue: 'emails_*' },
      { name: 'ok', roles: ['producer'], expiresInSeconds: 0 },
    ]) {
      assertNativeError(
        await s.call('POST', '/v1/tokens', { token: admin, body }),
        400,
        'invalid_argument',
      );
    }
  });

  it('a server without auth keeps no tokens: the token endpoints answer 501 unsupported', async () => {
    const backend = new MemoryBackend();
    const { app } = await buildServer({ backend });
    try {
      const answer = await app.inject({ method: 'GET', url: '/v1/tokens' });
      assert.equal(answer.statusCode, 501, answer.body);
      assert.equal(answer.json<{ error: Json }>().error['code'], 'unsupported');
    } finally {
      await app.close();
      await backend.close();
    }
  });
});

describe('rate limit', () => {
  let limited: AuthServer;
  before(async () => {
    limited = await authServer({ rateLimitPerSecond: 3 });
  });
  after(() => limited.close());

  it('past rateLimitPerSecond a token gets 429 rate_limited with Retry-After; other tokens do not; a second later it may go on', async () => {
    const greedy = await limited.token(['consumer']);
    const other = await limited.token(['consumer']);
    for (let call = 0; call < 3; call++) {
      assert.equal((await limited.call('GET', '/v1/queues', { token: greedy })).status, 200);
    }
    const refused = await limited.call('GET', '/v1/queues', { token: greedy });
    assertNativeError(refused, 429, 'rate_limited', greedy);
    assert.equal(refused.headers['retry-after'], '1');
    const google = await limited.call('GET', `${V1BETA2_ROOT}/q?oauth_token=${greedy}`);
    assertGoogleError(google, 429, 'rateLimitExceeded', greedy);
    assert.match(String(google.headers['retry-after']), /^[1-9][0-9]*$/);
    assert.equal((await limited.call('GET', '/v1/queues', { token: other })).status, 200);
    limited.clock.advance(1000);
    assert.equal((await limited.call('GET', '/v1/queues', { token: greedy })).status, 200);
  });
});

describe('logs', () => {
  it('the log of a failed request carries no token, not from the query string either', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    class FailingBackend extends MemoryBackend {
      override stats(): never {
        throw new Error('the disk is on fire');
      }
    }
    const logged = await authServer({
      logger: pino({ level: 'trace' }, sink),
      queues: new FailingBackend(),
    });
    try {
      const token = await logged.token(['consumer']);
      await logged.call('POST', '/v1/queues', {
        token: await logged.token(['admin']),
        body: { name: 'q' },
      });
      const failed = [
        await logged.call('GET', '/v1/queues/q/stats', { token }),
        await logged.call('GET', `${V1BETA2_ROOT}/q?getStats=true&oauth_token=${token}`),
        await logged.call('GET', `${V1BETA2_ROOT}/q?getStats=true&oauth%5Ftoken=${token}`),
        await logged.call('GET', `${V1BETA2_ROOT}/q?key=${token}&getStats=1`),
      ];
      for (const answer of failed) assert.equal(answer.status, 500, answer.text);
      const log = lines.join('');
      assert.match(log, /request failed/);
      assert.match(log, /oauth_token=\[redacted\]/);
      assert.equal(log.includes(token.slice(3, 20)), false, log);
    } finally {
      await logged.close();
    }
  });
});
