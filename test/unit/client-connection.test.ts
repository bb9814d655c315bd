/**
 * Connection: URL schemes through the registry, options checked at construction, stores shared
 * by name, credentials from a file, and what close releases.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { Connection } from '../../src/client/connection.ts';
import { knownSchemes, registerTransport } from '../../src/client/registry.ts';
import { PullqError } from '../../src/protocol/errors.ts';

function throwsCode(run: () => unknown, code: string, field?: string): PullqError {
  let caught: unknown;
  assert.throws(run, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof PullqError, String(caught));
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.details?.['field'], field);
  return caught;
}

describe('Connection URLs', () => {
  it('an unknown scheme fails at once with the list of known schemes', () => {
    const error = throwsCode(() => new Connection('kafka://broker:9092'), 'invalid_argument');
    assert.match(error.message, /"kafka:\/\/"/);
    for (const scheme of ['memory://', 'sqlite://', 'pullq://']) {
      assert.ok(error.message.includes(scheme), `${scheme} is not listed in: ${error.message}`);
    }
    assert.deepEqual(error.details?.['known'], knownSchemes());
  });

  it('a missing or malformed URL is invalid_argument on url', () => {
    throwsCode(() => new Connection({}), 'invalid_argument', 'url');
    throwsCode(() => new Connection('not a url'), 'invalid_argument', 'url');
  });

  it('a registered transport opens its scheme', async () => {
    const store = new MemoryBackend();
    let opened = '';
    registerTransport({
      schemes: ['unit-test-store'],
      description: 'unit-test-store://: a test transport',
      open: (settings) => {
        opened = settings.url.href;
        return store;
      },
    });
    assert.ok(knownSchemes().includes('unit-test-store'));
    await using connection = new Connection('unit-test-store://somewhere/x');
    const queue = connection.simpleQueue<string>('q');
    await queue.put('through the plug-in');
    assert.equal(opened, 'unit-test-store://somewhere/x');
    assert.equal((await store.stats('q')).ready, 1);
  });

  it("protocol 'v1beta2' without a project fails on connect, naming project", async () => {
    const connection = new Connection('http://127.0.0.1:1', { protocol: 'v1beta2' });
    await assert.rejects(connection.connect(), (error: unknown) => {
      assert.ok(error instanceof PullqError);
      assert.equal(error.details?.['field'], 'project');
      return true;
    });
    await connection.close();
  });

  it('the url property masks a password', () => {
    const connection = new Connection('pullq://user:secret@127.0.0.1:8080/');
    assert.equal(connection.url, 'pullq://user:***@127.0.0.1:8080/');
  });
});

describe('Connection options', () => {
  it('out-of-range options are refused at construction, naming the option', () => {
    throwsCode(() => new Connection('memory://', { numTasks: 0 }), 'invalid_argument', 'numTasks');
    throwsCode(() => new Connection('memory://', { numTasks: 1001 }), 'invalid_argument');
    throwsCode(() => new Connection('memory://', { leaseSeconds: -1 }), 'invalid_argument');
    throwsCode(() => new Connection('memory://', { pollingInterval: 0 }), 'invalid_argument');
    throwsCode(
      () => new Connection('memory://', { retry: { maxRetries: -1 } }),
      'invalid_argument',
    );
    throwsCode(() => new Connection('memory://', { timeoutMs: 0 }), 'invalid_argument');
  });

  it('a bad queue name is refused when the queue handle is made', async () => {
    await using connection = new Connection('memory://');
    throwsCode(() => connection.simpleQueue('bad name!'), 'invalid_argument');
  });

  it('defaults are the documented ones', () => {
    const { options } = new Connection('memory://');
    assert.equal(options.numTasks, 1);
    assert.equal(options.pollingInterval, 1);
    assert.equal(options.leaseSeconds, 300);
    assert.equal(options.autoCreateQueues, true);
    assert.equal(options.retry.maxRetries, 8);
  });
});

describe('memory:// stores', () => {
  it('connections to the same name share one store; other names do not', async () => {
    await using a = new Connection('memory://shared-a');
    await using b = new Connection('memory://shared-a');
    await using c = new Connection('memory://shared-c');
    await a.simpleQueue('q').put('hello');
    assert.equal((await b.simpleQueue('q').get({ timeout: 1 }))?.body, 'hello');
    assert.equal(await c.simpleQueue('q').getNowait(), null);
  });

  it('a named store outlives its connections, like kombu memory', async () => {
    const first = new Connection('memory://long-lived');
    await first.simpleQueue('q').put('still here');
    await first.close();
    await using second = new Connection('memory://long-lived');
    assert.equal((await second.simpleQueue('q').get({ timeout: 1 }))?.body, 'still here');
  });

  it("memory:// without a name is the connection's own store", async () => {
    await using a = new Connection('memory://');
    await using b = new Connection('memory://');
    await a.simpleQueue('q').put('private');
    assert.equal(await b.simpleQueue('q').getNowait(), null);
    assert.equal((await a.simpleQueue('q').getNowait())?.body, 'private');
  });

  it('await using closes the connection at the end of the block', async () => {
    let kept: Connection | undefined;
    {
      await using connection = new Connection('memory://');
      kept = connection;
      await connection.connect();
    }
    throwsCode(() => kept.simpleQueue('q'), 'unavailable');
    await assert.rejects(kept.connect(), { code: 'unavailable' });
  });
});

describe('credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-connection-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function authorizationSeen(
    options: (url: string) => ConstructorParameters<typeof Connection>[1],
  ): Promise<string | undefined> {
    let headers: IncomingHttpHeaders = {};
    const server = createServer((request, response) => {
      headers = request.headers;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ ready: 0, delayed: 0, leased: 0, dead: 0 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await using connection = new Connection(url, options(url));
      await connection.simpleQueue('q').qsize();
      return headers.authorization;
    } finally {
      server.close();
    }
  }

  it("a credentials file's token is sent to its own server", async () => {
    const file = join(dir, 'mine.json');
    const seen = await authorizationSeen((url) => {
      writeFileSync(file, JSON.stringify({ server: `${url}/`, token: 'pq_from-file' }));
      return { credentialsFile: file };
    });
    assert.equal(seen, 'Bearer pq_from-file');
  });

  it("a credentials file's token never goes to another server", async () => {
    const file = join(dir, 'other.json');
    writeFileSync(file, JSON.stringify({ server: 'http://elsewhere:8080', token: 'pq_secret' }));
    assert.equal(await authorizationSeen(() => ({ credentialsFile: file })), undefined);
  });

  it('an explicit token wins over the file', async () => {
    const file = join(dir, 'both.json');
    const seen = await authorizationSeen((url) => {
      writeFileSync(file, JSON.stringify({ server: url, token: 'pq_from-file' }));
      return { credentialsFile: file, token: 'pq_explicit' };
    });
    assert.equal(seen, 'Bearer pq_explicit');
  });

  it('an unreadable credentials file is invalid_argument naming it', () => {
    const error = throwsCode(
      () => new Connection('pullq://127.0.0.1:1', { credentialsFile: join(dir, 'missing.json') }),
      'invalid_argument',
      'credentialsFile',
    );
    assert.match(error.message, /missing\.json/);
  });
});
