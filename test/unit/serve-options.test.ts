import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SERVE_OPTIONS,
  ServeConfigError,
  isLoopbackHost,
  resolveServeOptions,
} from '../../src/server/serve.ts';

describe('resolveServeOptions', () => {
  it('defaults bind 127.0.0.1:8080 with SQLite in ./pullq-data, tokens required', () => {
    assert.deepEqual(resolveServeOptions({}, { HOME: '/home/someone' }), {
      ...DEFAULT_SERVE_OPTIONS,
      credentialsFile: '/home/someone/.config/pullq/credentials.json',
    });
    assert.equal(DEFAULT_SERVE_OPTIONS.host, '127.0.0.1');
    assert.equal(DEFAULT_SERVE_OPTIONS.auth, true);
  });

  it('the environment overrides defaults and flags override the environment', () => {
    const env = { PULLQ_HOST: '0.0.0.0', PULLQ_PORT: '9000', PULLQ_DATA: '/srv/pullq' };
    const fromEnv = resolveServeOptions({}, env);
    assert.deepEqual(
      [fromEnv.host, fromEnv.port, fromEnv.dataDir],
      ['0.0.0.0', 9000, '/srv/pullq'],
    );
    const fromFlags = resolveServeOptions({ host: '::1', port: '0', data: './here' }, env);
    assert.deepEqual([fromFlags.host, fromFlags.port, fromFlags.dataDir], ['::1', 0, './here']);
  });

  it('an empty environment variable counts as unset', () => {
    assert.equal(resolveServeOptions({}, { PULLQ_PORT: '' }).port, 8080);
  });

  it('refuses a port, log level, durability mode or store it cannot use', () => {
    for (const flags of [
      { port: '65536' },
      { port: 'http' },
      { port: ' ' },
      { logLevel: 'loud' },
      { synchronous: 'OFF' },
      { backend: 'mysql://db' },
      { backend: 'sqlite://' },
    ]) {
      assert.throws(() => resolveServeOptions(flags, {}), ServeConfigError, JSON.stringify(flags));
    }
  });

  it('reads --synchronous in any case and keeps --backend as given', () => {
    const options = resolveServeOptions({ synchronous: 'full', backend: 'memory://' }, {});
    assert.equal(options.synchronous, 'FULL');
    assert.equal(options.backendUrl, 'memory://');
  });

  it('takes PostgreSQL and Redis URLs for --backend, and never repeats a password it refuses', () => {
    for (const backend of ['postgres://u@db:5432/q', 'postgresql://db/q', 'redis://cache:6379']) {
      assert.equal(resolveServeOptions({ backend }, {}).backendUrl, backend);
    }
    assert.throws(
      () => resolveServeOptions({ backend: 'mysql://user:hunter2@db/q' }, {}),
      (error: Error) =>
        error.message.includes('mysql://user:***@db/q') && !error.message.includes('hunter2'),
    );
  });

  it('--no-auth is allowed on loopback addresses and refused on any other', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST']) {
      assert.equal(resolveServeOptions({ host, auth: false }, {}).auth, false, host);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '128.0.0.1']) {
      assert.throws(
        () => resolveServeOptions({ host, auth: false }, {}),
        (error: unknown) =>
          error instanceof ServeConfigError &&
          /--no-auth is allowed only on a loopback/.test(error.message),
        host,
      );
    }
    assert.throws(
      () => resolveServeOptions({ auth: false }, { PULLQ_HOST: '0.0.0.0' }),
      ServeConfigError,
    );
  });

  it('isLoopbackHost knows 127.0.0.0/8, ::1 in its forms and localhost, nothing else', () => {
    for (const host of [
      '127.0.0.1',
      '127.255.255.254',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
    ]) {
      assert.ok(isLoopbackHost(host), host);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '::ffff:10.0.0.1',
      'localhost.example.com',
      '127.example.com',
      '',
    ]) {
      assert.ok(!isLoopbackHost(host), host);
    }
  });

  it('PULLQ_ADMIN_TOKEN is taken from the environment, and refused when shorter than 16 characters, without echoing it', () => {
    const token = 'a-long-enough-admin-token';
    assert.equal(resolveServeOptions({}, { PULLQ_ADMIN_TOKEN: token }).adminToken, token);
    assert.equal(resolveServeOptions({}, { PULLQ_ADMIN_TOKEN: '' }).adminToken, null);
    for (const bad of ['too-short-token', 'has spaces in the middle']) {
      assert.throws(
        () => resolveServeOptions({}, { PULLQ_ADMIN_TOKEN: bad }),
        (error: unknown) =>
          error instanceof ServeConfigError &&
          /PULLQ_ADMIN_TOKEN must be 16 to 512/.test(error.message) &&
          !error.message.includes(bad),
        bad,
      );
    }
  });

  it('the credentials file follows XDG_CONFIG_HOME', () => {
    assert.equal(
      resolveServeOptions({}, { XDG_CONFIG_HOME: '/cfg' }).credentialsFile,
      '/cfg/pullq/credentials.json',
    );
  });

  it('--tls-cert and --tls-key come together', () => {
    const both = resolveServeOptions({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {});
    assert.deepEqual(both.tls, { certFile: 'c.pem', keyFile: 'k.pem' });
    assert.throws(() => resolveServeOptions({ tlsCert: 'c.pem' }, {}), /go together/);
    assert.throws(() => resolveServeOptions({ tlsKey: 'k.pem' }, {}), /go together/);
  });

  it('--max-body and --rate-limit are integers in range, flags over environment', () => {
    const env = { PULLQ_MAX_BODY: '2000000', PULLQ_RATE_LIMIT: '50' };
    const fromEnv = resolveServeOptions({}, env);
    assert.deepEqual([fromEnv.bodyLimit, fromEnv.rateLimitPerSecond], [2_000_000, 50]);
    const fromFlags = resolveServeOptions({ maxBody: '4096', rateLimit: '5' }, env);
    assert.deepEqual([fromFlags.bodyLimit, fromFlags.rateLimitPerSecond], [4096, 5]);
    assert.deepEqual(
      [resolveServeOptions({}, {}).bodyLimit, resolveServeOptions({}, {}).rateLimitPerSecond],
      [null, null],
    );
    for (const flags of [
      { maxBody: '1023' },
      { maxBody: '1e6' },
      { maxBody: String(2 ** 31) },
      { rateLimit: '0' },
      { rateLimit: '2.5' },
      { rateLimit: 'lots' },
    ]) {
      assert.throws(() => resolveServeOptions(flags, {}), ServeConfigError, JSON.stringify(flags));
    }
  });

  it('/metrics stays on the server port unless --metrics-port is given; the metrics host defaults to loopback', () => {
    const plain = resolveServeOptions({}, {});
    assert.deepEqual([plain.metricsPort, plain.metricsHost], [null, '127.0.0.1']);
    const own = resolveServeOptions({ metricsPort: '9464' }, {});
    assert.deepEqual([own.metricsPort, own.metricsHost], [9464, '127.0.0.1']);
    const anyPort = resolveServeOptions({ metricsPort: '0', metricsHost: '0.0.0.0' }, {});
    assert.deepEqual([anyPort.metricsPort, anyPort.metricsHost], [0, '0.0.0.0']);
  });

  it('--metrics-port and --metrics-host come from the environment too, flags winning', () => {
    const env = { PULLQ_METRICS_PORT: '9100', PULLQ_METRICS_HOST: '::1' };
    const fromEnv = resolveServeOptions({}, env);
    assert.deepEqual([fromEnv.metricsPort, fromEnv.metricsHost], [9100, '::1']);
    const fromFlags = resolveServeOptions({ metricsPort: '9200', metricsHost: '127.0.0.2' }, env);
    assert.deepEqual([fromFlags.metricsPort, fromFlags.metricsHost], [9200, '127.0.0.2']);
  });

  it('refuses a metrics port out of range or equal to --port, and --metrics-host without a port', () => {
    for (const flags of [
      { metricsPort: '65536' },
      { metricsPort: 'http' },
      { metricsPort: '-1' },
      { metricsPort: '8080' },
      { port: '9464', metricsPort: '9464' },
      { metricsHost: '0.0.0.0' },
      { metricsPort: '9464', metricsHost: ' ' },
    ]) {
      assert.throws(() => resolveServeOptions(flags, {}), ServeConfigError, JSON.stringify(flags));
    }
    assert.throws(
      () => resolveServeOptions({ metricsHost: '0.0.0.0' }, {}),
      /--metrics-host goes with --metrics-port/,
    );
  });
});
