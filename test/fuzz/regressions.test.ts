/**
 * Each failure the fuzzers found, as the smallest request that showed it, answered the way
 * the rules say now (docs/protocol.md: every error is a catalog code in the envelope of its
 * API; no request makes the server fail).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { buildServer, type PullqServer } from '../../src/server/app.ts';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from '../e2e/serve-process.ts';
import { V1BETA2_ROOT } from './corpus.ts';
import { fuzzServer, type FuzzServer } from './fuzz-server.ts';
import { violation, type FuzzRequest, type RawAnswer } from './oracle.ts';
import { exchange } from './raw-http.ts';

let s: FuzzServer;
before(async () => {
  s = await fuzzServer();
});
after(() => s.close());

function admin(method: string, url: string, body?: unknown): FuzzRequest {
  return {
    method,
    url,
    headers: {
      authorization: `Bearer ${s.tokens.admin}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

/** The answer keeps the oracle's rules and carries `code` (native) or `reason` (Google). */
function assertAnswer(request: FuzzRequest, answer: RawAnswer, status: number, code: string): void {
  assert.equal(violation(request, answer), null, answer.body.toString());
  assert.equal(answer.status, status, answer.body.toString());
  const error = (JSON.parse(answer.body.toString()) as { error: Record<string, unknown> }).error;
  const found =
    typeof error['code'] === 'string'
      ? error['code']
      : (error['errors'] as { reason: string }[])[0]?.reason;
  assert.equal(found, code, answer.body.toString());
}

describe('paths the router cannot read answer from the catalog', () => {
  it('a malformed percent-encoding (/v1/queues/fz-a1/%%) fails with 400 malformed_request, not Fastify’s FST_ERR_BAD_URL', async () => {
    const request = admin('DELETE', '/v1/queues/fz-a1/%%');
    assertAnswer(request, await s.send(request), 400, 'malformed_request');
  });

  it('the same under v1beta2 answers in Google’s envelope (parseError)', async () => {
    const request = admin('GET', `${V1BETA2_ROOT}/fz-a1/tasks/%zz`);
    assertAnswer(request, await s.send(request), 400, 'parseError');
  });

  it('a path segment past 600 characters fails with 400 invalid_argument, not Fastify’s 414', async () => {
    const request = admin('GET', `/v1/queues/${'a'.repeat(601)}`);
    assertAnswer(request, await s.send(request), 400, 'invalid_argument');
  });
});

describe('v1beta2 partial responses', () => {
  it('a fields selector nested 3,000 levels fails with 400 invalidParameter (it overflowed the stack: a 500) and leases nothing', async () => {
    await s.send(admin('POST', '/v1/queues/fz-deep/tasks', { tasks: [{ text: 'x' }] }));
    const fields = `${'a('.repeat(3000)}b${')'.repeat(3000)}`;
    const request = admin(
      'POST',
      `${V1BETA2_ROOT}/fz-deep/tasks/lease?numTasks=1&leaseSecs=60&fields=${fields}`,
    );
    assertAnswer(request, await s.send(request), 400, 'invalidParameter');
    const stats = await s.backend.stats('fz-deep');
    assert.equal(stats.leased, 0);
    assert.equal(stats.ready, 1);
  });

  it('so does a path of 3,000 slashes (a/a/a/.../b)', async () => {
    const request = admin('GET', `${V1BETA2_ROOT}/fz-deep?fields=${'a/'.repeat(3000)}b`);
    assertAnswer(request, await s.send(request), 400, 'invalidParameter');
  });

  it('a selector 32 levels deep is still served', async () => {
    const request = admin('GET', `${V1BETA2_ROOT}/fz-deep?fields=${'a/'.repeat(31)}b`);
    assert.equal((await s.send(request)).status, 200);
  });
});

describe('bytes that are not HTTP, over a socket', () => {
  let server: PullqServer;
  let port = 0;
  /** What the server logged at error level. */
  const errorLines: string[] = [];
  before(async () => {
    const logger = pino({ level: 'error' }, { write: (line: string) => errorLines.push(line) });
    server = await buildServer({ backend: new MemoryBackend(), logger });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    port = (server.app.server.address() as AddressInfo).port;
  });
  after(() => server.app.close());

  const send = async (bytes: string | Buffer, endAfterWrite = true) => {
    const { responses } = await exchange(port, Buffer.from(bytes), {
      timeoutMs: 10_000,
      endAfterWrite,
    });
    assert.equal(responses.length, 1);
    return responses[0]!;
  };
  const asAnswer = (response: {
    status: number;
    headers: Record<string, string>;
    body: Buffer;
  }): RawAnswer => response;

  it('a request line that is not HTTP fails with 400 malformed_request (was Fastify’s {"error":"Bad Request"})', async () => {
    const response = await send('G{T /v1/queues HTTP/1.1\r\nHost: x\r\n\r\n');
    assertAnswer(
      { method: 'GET', url: '/v1/queues', headers: {} },
      asAnswer(response),
      400,
      'malformed_request',
    );
  });

  it('a bad chunk size under v1beta2 fails with 400 in Google’s envelope', async () => {
    const response = await send(
      `POST ${V1BETA2_ROOT}/q/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
    );
    assertAnswer(
      { method: 'POST', url: `${V1BETA2_ROOT}/q/tasks`, headers: {} },
      asAnswer(response),
      400,
      'parseError',
    );
  });

  it('headers past 16 KiB fail with 431 headers_too_large, in Google’s envelope under v1beta2', async () => {
    const native = await send(
      `GET /v1/queues HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
    );
    assertAnswer(
      { method: 'GET', url: '/v1/queues', headers: {} },
      asAnswer(native),
      431,
      'headers_too_large',
    );
    const google = await send(
      `GET ${V1BETA2_ROOT}/q HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
    );
    assertAnswer(
      { method: 'GET', url: `${V1BETA2_ROOT}/q`, headers: {} },
      asAnswer(google),
      431,
      'headersTooLarge',
    );
  });

  it('a client that closes before its gzipped answer is sent is no server error (5 in 20 were logged as one)', async () => {
    const request =
      'GET /discovery/v1/apis/taskqueue/v1beta2/rest HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n';
    for (let attempt = 0; attempt < 20; attempt++) {
      await exchange(port, Buffer.from(request), { timeoutMs: 10_000, endAfterWrite: true });
    }
    assert.deepEqual(errorLines, []);
  });
});

/**
 * A server in its own process: in one process the client's writes and the server's close
 * take turns on one event loop, and the reset never showed.
 */
describe('a body past the limit, to a spawned server', () => {
  let serve: ServeProcess;
  before(async () => {
    serve = await startServe(['--backend', 'memory://']);
  });
  after(() => serve.stop());

  // 34 MB against the default 32 MiB: the server answers from the Content-Length alone.
  const body = JSON.stringify({ tasks: [{ text: 'x'.repeat(34_000_000) }] });

  it('is answered 413 payload_too_large, never a reset (4 fetches in 12 got EPIPE)', async () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const answer = await fetch(`${serve.url}/v1/queues/big/tasks`, {
        method: 'POST',
        headers: { ...bearer(), 'content-type': 'application/json' },
        body,
      });
      assert.equal(answer.status, 413);
      assert.equal(
        ((await answer.json()) as { error: { code: string } }).error.code,
        'payload_too_large',
      );
    }
  });

  it('so is one that says Connection: close and sends its body at once', async () => {
    const port = Number(new URL(serve.url).port);
    const head = `POST /v1/queues/big/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const { responses } = await exchange(port, Buffer.from(head + body), {
        timeoutMs: 10_000,
        endAfterWrite: false,
      });
      assert.equal(responses[0]?.status, 413);
    }
  });

  it('a route that reads no body still answers one sent with Connection: close (a GET /healthz with a 2 MiB body got nothing)', async () => {
    const port = Number(new URL(serve.url).port);
    const junk = 'A'.repeat(34_000_000);
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${junk.length}\r\n\r\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const { responses } = await exchange(port, Buffer.from(head + junk), {
        timeoutMs: 10_000,
        endAfterWrite: false,
      });
      assert.equal(responses[0]?.status, 200);
    }
  });
});
