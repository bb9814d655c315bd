/**
 * `pullq serve` settings that guard the port, each against a real process: tokens never
 * reach the logs, HTTPS with --tls-cert/--tls-key, --no-auth only on loopback and loudly, a
 * warning for plain HTTP beyond loopback, and refusal of an unusable PULLQ_ADMIN_TOKEN.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import {
  TEST_ADMIN_TOKEN,
  bearer,
  runCli,
  startServe,
  type ServeProcess,
} from './serve-process.ts';

const json = { 'content-type': 'application/json' };
const V1BETA2 = '/taskqueue/v1beta2/projects/s~logs/taskqueues';

describe('pullq serve security settings', { concurrency: true }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const serve = async (args: string[], env?: Record<string, string>): Promise<ServeProcess> => {
    const server = await startServe(args, env ? { env } : {});
    cleanups.push(() => server.stop('SIGKILL'));
    return server;
  };

  it('a token used in headers and in v1beta2 query strings, failing or not, appears nowhere in the debug log', async () => {
    const server = await serve(['--backend', 'memory://', '--log-level', 'debug']);
    const created = await fetch(`${server.url}/v1/tokens`, {
      method: 'POST',
      headers: { ...json, ...bearer() },
      body: JSON.stringify({ name: 'logged', roles: ['producer'], queue: 'logs-*' }),
    });
    assert.equal(created.status, 201);
    const { token } = (await created.json()) as { token: string };
    const unknown = `pq_${randomBytes(32).toString('base64url')}`;
    const statuses: number[] = [];
    const call = async (path: string, init: Parameters<typeof fetch>[1] = {}): Promise<void> => {
      const response = await fetch(`${server.url}${path}`, init);
      await response.arrayBuffer();
      statuses.push(response.status);
    };

    await call('/v1/queues/logs-a/tasks', {
      method: 'POST',
      headers: { ...json, ...bearer(token) },
      body: JSON.stringify({ tasks: [{ text: 'hello' }] }),
    });
    await call('/v1/queues/logs-a/lease', {
      method: 'POST',
      headers: { ...json, ...bearer(token) },
      body: JSON.stringify({ max: 1, leaseSeconds: 60 }),
    });
    await call('/v1/queues/billing/tasks', {
      method: 'POST',
      headers: { ...json, ...bearer(token) },
      body: '{"tasks": [',
    });
    await call(`${V1BETA2}/logs-b/tasks?oauth_token=${token}`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ payloadBase64: 'aGk=' }),
    });
    await call(`${V1BETA2}/logs-b/tasks/lease?numTasks=1&leaseSecs=60&oauth_token=${token}`, {
      method: 'POST',
    });
    await call(`${V1BETA2}/logs-b/tasks?key=${token}`);
    await call(`${V1BETA2}/logs-b/tasks?oauth_token=${unknown}`);
    await call('/v1/queues', { headers: bearer(unknown) });
    await call('/v1/queues/logs-a/tasks/nope', { headers: bearer() });
    assert.deepEqual(statuses, [200, 403, 403, 200, 403, 403, 401, 401, 404]);

    assert.equal(await server.stop('SIGTERM'), 0);
    const output = server.stdout() + server.stderr();
    assert.match(server.stdout(), /pullq serve listening/, 'the log was captured');
    for (const secret of [token, unknown, TEST_ADMIN_TOKEN]) {
      assert.ok(!output.includes(secret), 'a token is in the log');
      // Nor a recognisable piece of one.
      assert.ok(!output.includes(secret.slice(3, 19)), 'part of a token is in the log');
    }
  });

  it('--tls-cert and --tls-key serve HTTPS, which the CLI reaches with the CA it is told', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-tls-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const server = await serve(['--backend', 'memory://', '--tls-cert', cert, '--tls-key', key]);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(server.stderr(), /without TLS/);

    const agent = new Agent({ connect: { ca: await readFile(cert) } });
    cleanups.push(() => agent.close());
    const health = await fetch(`${server.url}/healthz`, { dispatcher: agent });
    assert.equal(health.status, 200);
    await health.arrayBuffer();
    const plain = await fetch(`${server.url.replace('https:', 'http:')}/healthz`).catch(
      (error: unknown) => error,
    );
    assert.ok(plain instanceof Error, 'plain HTTP is not served on the TLS port');

    const cli = await runCli(['put', 'over-tls', 'secret work', '--server', server.url], {
      env: { PULLQ_TOKEN: TEST_ADMIN_TOKEN, NODE_EXTRA_CA_CERTS: cert },
    });
    assert.equal(cli.code, 0, cli.stderr);
  });

  it('a TLS file that cannot be read, or is not PEM, stops the start with a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-tls-bad-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const start = (file: string) =>
      runCli([
        'serve',
        '--port',
        '0',
        '--backend',
        'memory://',
        '--tls-cert',
        file,
        '--tls-key',
        file,
      ]);
    const missing = await start(join(dir, 'missing.pem'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: cannot read --tls-cert .*missing\.pem/);
    assert.match(missing.stderr, /\nhint: /);
    const notPem = await start(garbage);
    assert.equal(notPem.code, 1);
    assert.match(notPem.stderr, /^error: cannot use the TLS certificate and key: /);
    assert.match(notPem.stderr, /\nhint: --tls-cert and --tls-key need a PEM certificate/);
  });

  it('--no-auth on loopback serves without tokens and warns loudly', async () => {
    const server = await serve(['--backend', 'memory://', '--no-auth']);
    assert.match(server.stderr(), /WARNING: authentication is OFF \(--no-auth\)/);
    const response = await fetch(`${server.url}/v1/queues/open/tasks`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ tasks: [{ text: 'anyone' }] }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });

  it('--no-auth beyond loopback is refused before anything listens', async () => {
    const result = await runCli([
      'serve',
      '--port',
      '0',
      '--backend',
      'memory://',
      '--host',
      '0.0.0.0',
      '--no-auth',
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--no-auth is allowed only on a loopback address/);
    assert.doesNotMatch(result.stderr, /listening/);
  });

  it('listening beyond loopback without TLS warns that tokens cross the network in clear text', async () => {
    // A random admin token: this server is reachable from the network while it runs.
    const server = await serve(['--backend', 'memory://', '--host', '0.0.0.0'], {
      PULLQ_ADMIN_TOKEN: `pq_${randomBytes(32).toString('base64url')}`,
    });
    assert.match(server.stderr(), /warning: listening on 0\.0\.0\.0 without TLS/);
    assert.equal(await server.stop('SIGTERM'), 0);
  });

  it('PULLQ_ADMIN_TOKEN writes no credentials file unless --write-credentials asks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-write-credentials-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'pullq', 'credentials.json');
    const quiet = await serve(['--backend', 'memory://'], { XDG_CONFIG_HOME: dir });
    assert.match(quiet.stderr(), /PULLQ_ADMIN_TOKEN is the admin token "admin"/);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.equal(await quiet.stop('SIGTERM'), 0);

    const asked = await serve(['--backend', 'memory://', '--write-credentials'], {
      XDG_CONFIG_HOME: dir,
    });
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      server: asked.url,
      token: TEST_ADMIN_TOKEN,
    });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it('a first start that cannot write the credentials file stores no token and says why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-unwritable-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const notAFolder = join(dir, 'file');
    await writeFile(notAFolder, '');
    const data = join(dir, 'data');
    const result = await runCli(['serve', '--port', '0', '--data', data], {
      env: { XDG_CONFIG_HOME: notAFolder },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: cannot write the admin token to .*; nothing was stored/);
    // The next start, with a writable folder, bootstraps as a first start does.
    const next = await serve(['--data', data], {
      PULLQ_ADMIN_TOKEN: '',
      XDG_CONFIG_HOME: join(dir, 'config'),
    });
    assert.match(next.stderr(), /first start: created the admin token "admin"/);
  });

  it('a PULLQ_ADMIN_TOKEN shorter than 16 characters stops the start without being echoed', async () => {
    const result = await runCli(['serve', '--port', '0', '--backend', 'memory://'], {
      env: { PULLQ_ADMIN_TOKEN: 'hunter2-typo' },
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /PULLQ_ADMIN_TOKEN must be 16 to 512 printable ASCII characters/);
    assert.ok(!result.stderr.includes('hunter2-typo'));
  });
});
