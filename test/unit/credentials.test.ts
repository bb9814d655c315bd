import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CredentialsError,
  DEFAULT_SERVER,
  credentialsPath,
  readCredentials,
  resolveClientCredentials,
  sameServer,
  writeCredentials,
} from '../../src/auth/credentials.ts';

describe('credentials file', () => {
  let home: string;
  let env: Record<string, string>;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'pullq-credentials-'));
    env = { XDG_CONFIG_HOME: join(home, 'config'), HOME: join(home, 'home') };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives in $XDG_CONFIG_HOME/pullq, else in ~/.config/pullq; a relative XDG_CONFIG_HOME is ignored', () => {
    assert.equal(credentialsPath(env), join(home, 'config', 'pullq', 'credentials.json'));
    const fallback = join(home, 'home', '.config', 'pullq', 'credentials.json');
    assert.equal(credentialsPath({ HOME: join(home, 'home') }), fallback);
    assert.equal(credentialsPath({ HOME: join(home, 'home'), XDG_CONFIG_HOME: '' }), fallback);
    assert.equal(
      credentialsPath({ HOME: join(home, 'home'), XDG_CONFIG_HOME: 'relative' }),
      fallback,
    );
  });

  it('is written with mode 0600 in a folder of mode 0700 and read back', () => {
    const path = writeCredentials(env, { server: 'http://127.0.0.1:9000/', token: 'pq_secret' });
    assert.equal(path, credentialsPath(env));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
    assert.deepEqual(readCredentials(env), { server: 'http://127.0.0.1:9000', token: 'pq_secret' });
  });

  it('replacing the file keeps mode 0600 and tightens a folder that was open to others', () => {
    const folder = join(home, 'config', 'pullq');
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    writeFileSync(join(folder, 'credentials.json'), '{}', { mode: 0o644 });
    const path = writeCredentials(env, { server: 'http://a:1', token: 't2' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(folder).mode & 0o777, 0o700);
    assert.equal(readCredentials(env)?.token, 't2');
  });

  it('no file reads as null; a broken file is a CredentialsError naming the file', () => {
    assert.equal(readCredentials(env), null);
    const path = credentialsPath(env);
    mkdirSync(dirname(path), { recursive: true });
    for (const content of ['not json', '{"server": "ftp://x", "token": "t"}', '{"server": 1}']) {
      writeFileSync(path, content);
      assert.throws(
        () => readCredentials(env),
        (error: unknown) => error instanceof CredentialsError && error.message.startsWith(path),
        content,
      );
    }
  });

  it('without options, environment or file: the default server and no token', () => {
    const resolved = resolveClientCredentials({}, env);
    assert.deepEqual(
      [resolved.server, resolved.token, resolved.serverSource, resolved.tokenSource],
      [DEFAULT_SERVER, undefined, 'default', null],
    );
  });

  it('the file gives server and token when nothing else does', () => {
    writeCredentials(env, { server: 'http://10.0.0.1:8080', token: 'from-file' });
    const resolved = resolveClientCredentials({}, env);
    assert.deepEqual(
      [resolved.server, resolved.token, resolved.serverSource, resolved.tokenSource],
      ['http://10.0.0.1:8080', 'from-file', 'file', 'file'],
    );
  });

  it('PULLQ_SERVER and PULLQ_TOKEN beat the file, and explicit options beat both', () => {
    writeCredentials(env, { server: 'http://file:1', token: 'from-file' });
    const withEnv = { ...env, PULLQ_SERVER: 'http://env:2/', PULLQ_TOKEN: 'from-env' };
    const fromEnv = resolveClientCredentials({}, withEnv);
    assert.deepEqual([fromEnv.server, fromEnv.token], ['http://env:2', 'from-env']);
    assert.deepEqual([fromEnv.serverSource, fromEnv.tokenSource], ['environment', 'environment']);
    const fromOptions = resolveClientCredentials(
      { server: 'http://flag:3', token: 'from-flag' },
      withEnv,
    );
    assert.deepEqual([fromOptions.server, fromOptions.token], ['http://flag:3', 'from-flag']);
    assert.deepEqual([fromOptions.serverSource, fromOptions.tokenSource], ['option', 'option']);
  });

  it('empty environment variables count as unset', () => {
    writeCredentials(env, { server: 'http://file:1', token: 'from-file' });
    const resolved = resolveClientCredentials({}, { ...env, PULLQ_SERVER: '', PULLQ_TOKEN: '' });
    assert.deepEqual([resolved.server, resolved.token], ['http://file:1', 'from-file']);
  });

  it("the file's token is sent only to the file's server", () => {
    writeCredentials(env, { server: 'http://127.0.0.1:8080', token: 'from-file' });
    const elsewhere = resolveClientCredentials({ server: 'http://other:8080' }, env);
    assert.equal(elsewhere.token, undefined);
    assert.equal(elsewhere.tokenSource, null);
    const same = resolveClientCredentials({}, { ...env, PULLQ_SERVER: 'http://127.0.0.1:8080/' });
    assert.equal(same.token, 'from-file');
  });

  it('sameServer ignores a trailing slash and the case of the host, not the port or path', () => {
    assert.ok(sameServer('http://Host:80/', 'http://host'));
    assert.ok(sameServer('https://h:8443/pq/', 'https://h:8443/pq'));
    assert.ok(!sameServer('http://h:8080', 'http://h:8081'));
    assert.ok(!sameServer('http://h/a', 'http://h/b'));
    assert.ok(!sameServer('http://h', 'https://h'));
    assert.ok(!sameServer('not a url', 'http://h'));
  });
});
