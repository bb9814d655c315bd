import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SERVE_OPTIONS,
  ServeConfigError,
  resolveServeOptions,
} from '../../src/server/serve.ts';

describe('resolveServeOptions', () => {
  it('defaults bind 127.0.0.1:8080 with SQLite in ./pullq-data', () => {
    assert.deepEqual(resolveServeOptions({}, {}), DEFAULT_SERVE_OPTIONS);
    assert.equal(DEFAULT_SERVE_OPTIONS.host, '127.0.0.1');
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
      { backend: 'postgres://db' },
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
});
