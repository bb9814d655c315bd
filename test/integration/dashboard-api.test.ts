/**
 * The routes the dashboard added (docs/dashboard.md, docs/protocol.md "Dashboard API"):
 * `GET /v1/whoami`, `GET /v1/stats`, `POST /v1/queues/{queue}/tasks/{id}/release`, and the
 * page's files under /ui (types, caching, no way out of the asset folder).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Task } from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { dashboardAssets } from '../../src/server/dashboard/assets.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';
import { authServer, type AuthServer } from './auth-harness.ts';
import { assertError, queueName, v1Server, type Json, type V1Server } from './v1-inject.ts';

let s: V1Server;
/** Stats carry ages: the clock stands still so two reads agree. */
const clock = new ManualClock();
const backend = new MemoryBackend({ clock });
before(async () => {
  s = await v1Server({ backend, clock });
});
after(async () => {
  await s.close();
  await backend.close();
});

async function insert(queue: string, count: number, extra: Json = {}): Promise<void> {
  const tasks = Array.from({ length: count }, (_, index) => ({ text: `t${index}`, ...extra }));
  const answer = await s.call('POST', `/v1/queues/${queue}/tasks`, { tasks });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

async function leaseOne(server: V1Server, queue: string): Promise<Json> {
  const answer = await server.call('POST', `/v1/queues/${queue}/lease`, {
    max: 1,
    leaseSeconds: 60,
  });
  const task = (answer.body['tasks'] as Json[])[0];
  assert.ok(task, JSON.stringify(answer.body));
  return task;
}

describe('GET /v1/whoami', () => {
  let a: AuthServer;
  before(async () => {
    a = await authServer();
  });
  after(() => a.close());

  it("answers the caller's token name, roles, queue pattern and what they allow, never the token", async () => {
    const token = await a.token(['consumer'], 'emails-*', { name: 'worker-eu' });
    const answer = await a.call('GET', '/v1/whoami', { token });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body, {
      auth: true,
      name: 'worker-eu',
      roles: ['consumer'],
      queue: 'emails-*',
      expiresAt: null,
      actions: [
        'lease',
        'ack',
        'extend',
        'release',
        'update',
        'get',
        'list',
        'delete',
        'stats',
        'getQueue',
        'listDead',
      ],
      serverAdmin: false,
    });
    assert.ok(!answer.text.includes(token.slice(3, 20)));
  });

  it('an admin on * manages the server; an admin on a pattern does not', async () => {
    const root = await a.token(['admin'], '*');
    const scoped = await a.token(['admin'], 'billing');
    assert.equal((await a.call('GET', '/v1/whoami', { token: root })).body['serverAdmin'], true);
    const answer = await a.call('GET', '/v1/whoami', { token: scoped });
    assert.equal(answer.body['serverAdmin'], false);
    assert.ok((answer.body['actions'] as string[]).includes('purge'));
  });

  it('without a token the answer is 401', async () => {
    assert.equal((await a.call('GET', '/v1/whoami')).status, 401);
  });

  it('a server without authentication answers auth false and every action', async () => {
    const answer = await s.call('GET', '/v1/whoami');
    assert.equal(answer.status, 200);
    assert.equal(answer.body['auth'], false);
    assert.equal(answer.body['name'], null);
    assert.equal(answer.body['serverAdmin'], true);
    assert.ok((answer.body['actions'] as string[]).includes('server'));
  });
});

describe('GET /v1/stats', () => {
  it('gives every queue with its settings and the stats its own stats route gives', async () => {
    const [first, second] = [queueName(), queueName()];
    await insert(first, 3);
    await insert(second, 2, { delaySeconds: 600 });
    await leaseOne(s, first);
    const answer = await s.call('GET', '/v1/stats?limit=1000');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const queues = answer.body['queues'] as (Json & { stats: Json })[];
    for (const name of [first, second]) {
      const item = queues.find((queue) => queue['name'] === name);
      assert.ok(item, `${name} is listed`);
      assert.equal(item['paused'], false);
      assert.deepEqual(item.stats, (await s.call('GET', `/v1/queues/${name}/stats`)).body);
    }
    const stats = queues.find((queue) => queue['name'] === first)?.stats;
    assert.deepEqual([stats?.['ready'], stats?.['leased']], [2, 1]);
  });

  it('pages by name, limit at a time, until nextCursor is null', async () => {
    const server = await v1Server();
    try {
      const names = ['a-1', 'a-2', 'b-1', 'c-1', 'c-2'];
      for (const name of [...names].reverse()) await server.call('POST', '/v1/queues', { name });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const answer = await server.call('GET', `/v1/stats?limit=2${query}`);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const queues = answer.body['queues'] as Json[];
        assert.ok(queues.length <= 2);
        seen.push(...queues.map((queue) => String(queue['name'])));
        cursor = answer.body['nextCursor'] as string | null;
        pages++;
      } while (cursor !== null);
      assert.deepEqual(seen, names);
      assert.equal(pages, 3);
    } finally {
      await server.close();
    }
  });

  it('a limit out of 1..1000 or a cursor the server did not hand out is invalid_argument', async () => {
    assertError(await s.call('GET', '/v1/stats?limit=0'), 400, 'invalid_argument', 'limit');
    assertError(await s.call('GET', '/v1/stats?limit=1001'), 400, 'invalid_argument', 'limit');
    assertError(await s.call('GET', '/v1/stats?cursor=bm9wZQ'), 400, 'invalid_argument', 'cursor');
  });

  describe('with tokens', () => {
    let a: AuthServer;
    let admin: string;
    before(async () => {
      a = await authServer();
      admin = await a.token(['admin']);
      for (const name of ['emails-eu', 'emails-us', 'billing']) {
        await a.call('POST', '/v1/queues', { token: admin, body: { name } });
      }
    });
    after(() => a.close());

    it('a token sees only the queues its pattern covers', async () => {
      const consumer = await a.token(['consumer'], 'emails-*');
      const answer = await a.call('GET', '/v1/stats', { token: consumer });
      assert.equal(answer.status, 200, answer.text);
      const names = (answer.body['queues'] as Json[]).map((queue) => queue['name']);
      assert.deepEqual(names, ['emails-eu', 'emails-us']);
    });

    it('a producer-only token may not read stats: permission_denied', async () => {
      const producer = await a.token(['producer'], '*');
      const answer = await a.call('GET', '/v1/stats', { token: producer });
      assert.equal(answer.status, 403, answer.text);
      assert.equal((answer.body['error'] as Json)['code'], 'permission_denied');
    });
  });
});

describe('POST /v1/queues/{queue}/tasks/{id}/release', () => {
  it("ends a running lease: the task is ready again and the worker's ack gets lease_lost", async () => {
    const queue = queueName();
    await insert(queue, 1);
    const leased = await leaseOne(s, queue);
    const answer = await s.call(
      'POST',
      `/v1/queues/${queue}/tasks/${String(leased['id'])}/release`,
      {},
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body['state'], 'ready');
    assert.equal(answer.body['attempts'], 1);
    const ack = await s.call('POST', `/v1/queues/${queue}/ack`, {
      leases: [{ id: leased['id'], token: leased['leaseToken'] }],
    });
    assert.equal(((ack.body['results'] as Json[])[0]?.['error'] as Json)['code'], 'lease_lost');
    assert.equal((await leaseOne(s, queue))['id'], leased['id']);
  });

  it('with delaySeconds the task comes back delayed', async () => {
    const queue = queueName();
    await insert(queue, 1);
    const leased = await leaseOne(s, queue);
    const url = `/v1/queues/${queue}/tasks/${String(leased['id'])}/release`;
    const answer = await s.call('POST', url, { delaySeconds: 300 });
    assert.equal(answer.body['state'], 'delayed', JSON.stringify(answer.body));
  });

  it('a task that is not leased answers lease_lost and stays as it was', async () => {
    const queue = queueName();
    await insert(queue, 1);
    const id = String(
      ((await s.call('GET', `/v1/queues/${queue}/tasks`)).body['tasks'] as Json[])[0]?.['id'],
    );
    const answer = await s.call('POST', `/v1/queues/${queue}/tasks/${id}/release`);
    assertError(answer, 409, 'lease_lost');
    assert.match(String((answer.body['error'] as Json)['message']), /ready, not leased/);
    assert.equal((await s.call('GET', `/v1/queues/${queue}/tasks/${id}`)).body['attempts'], 0);
  });

  it('an unknown task answers task_not_found, an unknown queue queue_not_found', async () => {
    const queue = queueName();
    await insert(queue, 1);
    assertError(
      await s.call('POST', `/v1/queues/${queue}/tasks/nope/release`),
      404,
      'task_not_found',
    );
    assertError(
      await s.call('POST', `/v1/queues/${queueName()}/tasks/nope/release`),
      404,
      'queue_not_found',
    );
  });

  it('a lease extended after the route read it is not ended: lease_lost', async () => {
    const clock = new ManualClock();
    /** A worker extends its lease between the route's read and its release. */
    class RacingBackend extends MemoryBackend {
      token = '';
      override async get(queue: string, id: string): Promise<Task | null> {
        const task = await super.get(queue, id);
        clock.advance(5000);
        await this.extend(queue, [{ id, token: this.token }], 60);
        return task;
      }
    }
    const backend = new RacingBackend({ clock });
    const server = await v1Server({ backend, clock });
    try {
      await server.call('POST', '/v1/queues/q/tasks', { tasks: [{ text: 'x' }] });
      const leased = await leaseOne(server, 'q');
      backend.token = String(leased['leaseToken']);
      const answer = await server.call(
        'POST',
        `/v1/queues/q/tasks/${String(leased['id'])}/release`,
      );
      assertError(answer, 409, 'lease_lost');
      assert.equal((await backend.get('q', String(leased['id'])))?.state, 'leased');
    } finally {
      await server.close();
      await backend.close();
    }
  });

  it('needs the admin role on the queue: a consumer is refused', async () => {
    const a = await authServer();
    try {
      const admin = await a.token(['admin'], 'jobs');
      const consumer = await a.token(['consumer'], 'jobs');
      await a.call('POST', '/v1/queues/jobs/tasks', {
        token: admin,
        body: { tasks: [{ text: 'x' }] },
      });
      const leased = await a.call('POST', '/v1/queues/jobs/lease', {
        token: consumer,
        body: { max: 1, leaseSeconds: 60 },
      });
      const id = String((leased.body['tasks'] as Json[])[0]?.['id']);
      const url = `/v1/queues/jobs/tasks/${id}/release`;
      assert.equal((await a.call('POST', url, { token: consumer, body: {} })).status, 403);
      assert.equal((await a.call('POST', url, { token: admin, body: {} })).status, 200);
    } finally {
      await a.close();
    }
  });
});

describe('the dashboard files under /ui', () => {
  let base = '';
  let build = '';
  before(async () => {
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
    build = (await dashboardAssets()).build;
  });

  /** A GET with the path sent exactly as written (fetch would resolve `..` first). */
  function rawGet(
    path: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${base}/`, { path, method: 'GET' }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      });
      req.on('error', reject).end();
    });
  }

  it('/ui is the page, never cached, with a CSP that admits its import map by hash only', async () => {
    const page = await rawGet('/ui');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? '';
    const hash = createHash('sha256').update(importMap).digest('base64');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.ok(csp.includes(`script-src 'self' 'sha256-${hash}'`), csp);
    assert.ok(!csp.includes('unsafe-inline'));
  });

  it('every file the page and its modules name is served with its type and cached for good', async () => {
    const page = await rawGet('/ui');
    const pending = [...page.body.matchAll(/"(\/ui\/assets\/[^"]+)"/g)].map(
      (match) => match[1] ?? '',
    );
    assert.ok(
      pending.some((url) => url.endsWith('/main.js')) &&
        pending.some((url) => url.endsWith('/vendor/uplot.js')),
    );
    const seen = new Set<string>();
    while (pending.length > 0) {
      const url = pending.pop() ?? '';
      if (seen.has(url)) continue;
      seen.add(url);
      const file = await rawGet(url);
      assert.equal(file.status, 200, url);
      assert.equal(file.headers['cache-control'], 'public, max-age=31536000, immutable', url);
      const type = String(file.headers['content-type']);
      const expected = url.endsWith('.js')
        ? 'text/javascript'
        : url.endsWith('.css')
          ? 'text/css'
          : 'image/svg+xml';
      assert.ok(type.startsWith(expected), `${url}: ${type}`);
      if (!url.endsWith('.js')) continue;
      assert.doesNotMatch(
        file.body,
        /\binterface \w+ \{|: string\)/,
        `${url} is JavaScript, not TypeScript`,
      );
      // Relative imports of a module must resolve to files that exist too.
      for (const [, specifier] of file.body.matchAll(/\bfrom ["'](\.\/[^"']+)["']/g)) {
        pending.push(new URL(specifier ?? '', `${base}${url}`).pathname);
      }
    }
    assert.ok(seen.size >= 10, `${seen.size} files`);
  });

  it('a file under another build id is served but not cached (a page from before an upgrade)', async () => {
    const file = await rawGet('/ui/assets/000000000000/main.js');
    assert.equal(file.status, 200);
    assert.equal(file.headers['cache-control'], 'no-cache');
  });

  it('no path leads out of the assets: .., encoded dots, backslashes, sources and absolute paths are 404', async () => {
    for (const path of [
      `/ui/assets/${build}/../../../package.json`,
      `/ui/assets/${build}/%2e%2e/%2e%2e/%2e%2e/package.json`,
      `/ui/assets/${build}/..%2f..%2f..%2fpackage.json`,
      `/ui/assets/${build}/vendor/../../../../package.json`,
      `/ui/assets/${build}/..%5c..%5c..%5cpackage.json`,
      `/ui/assets/${build}//etc/passwd`,
      `/ui/assets/${build}/%2fetc%2fpasswd`,
      `/ui/assets/${build}/main.ts`,
      `/ui/assets/${build}/index.html`,
      `/ui/assets/${build}/vendor/uPlot.cjs.js`,
      `/ui/assets/${build}/main.js%00.css`,
      '/ui/../package.json',
      '/ui/package.json',
    ]) {
      const answer = await rawGet(path);
      assert.equal(answer.status, 404, `${path}: ${answer.status}`);
      assert.ok(!answer.body.includes('"devDependencies"') && !answer.body.includes('root:'), path);
    }
  });

  it('the page is public on a server that requires tokens; the API it calls is not', async () => {
    const a = await authServer();
    try {
      const get = async (url: string): Promise<number> =>
        (await a.app.inject({ method: 'GET', url })).statusCode;
      assert.equal(await get('/ui'), 200);
      assert.equal(await get(`/ui/assets/${build}/main.js`), 200);
      assert.equal((await a.call('GET', '/ui/nothing-here')).status, 404);
      assert.equal((await a.call('GET', '/v1/stats')).status, 401);
    } finally {
      await a.close();
    }
  });

  it('a built folder is served as tsc and copy-assets leave it: .js as is, no .d.ts, no .map', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pullq-dashboard-dist-'));
    try {
      writeFileSync(
        join(dir, 'index.html'),
        '<script type="module" src="/ui/assets/%BUILD%/main.js"></script>',
      );
      writeFileSync(join(dir, 'main.js'), 'export const built = 1;\n');
      writeFileSync(join(dir, 'main.d.ts'), 'export declare const built = 1;\n');
      writeFileSync(join(dir, 'main.js.map'), '{}');
      writeFileSync(join(dir, 'dashboard.css'), 'body {}');
      const assets = await dashboardAssets(dir);
      assert.deepEqual([...assets.files.keys()].sort(), [
        'dashboard.css',
        'main.js',
        'vendor/uplot.css',
        'vendor/uplot.js',
      ]);
      assert.equal(assets.files.get('main.js')?.body.toString(), 'export const built = 1;\n');
      assert.ok(assets.indexHtml.toString().includes(`/ui/assets/${assets.build}/main.js`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
