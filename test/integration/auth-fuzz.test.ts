/**
 * Malformed credentials over a real socket (what `app.inject()` cannot send: raw bytes,
 * several Authorization headers, non-ASCII): every one answers 401, never a 500, and never
 * echoes what was sent; afterwards the server still serves a valid token.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { generateToken } from '../../src/auth/tokens.ts';
import { V1BETA2_ROOT, authServer, type AuthServer } from './auth-harness.ts';

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

let s: AuthServer;
let port = 0;
let valid = '';
before(async () => {
  s = await authServer();
  valid = await s.token(['consumer', 'producer']);
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  port = (s.app.server.address() as AddressInfo).port;
});
after(() => s.close());

/** One request on its own connection; header values are sent as the bytes given. */
function rawRequest(path: string, headers: Buffer[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        head: text.slice(0, end),
        body: text.slice(end + 4),
      });
    });
    socket.write(
      Buffer.concat([
        Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`),
        ...headers.flatMap((value) => [Buffer.from('Authorization: '), value, Buffer.from('\r\n')]),
        Buffer.from('\r\n'),
      ]),
    );
  });
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Bytes Node accepts in a header value: tab, space, visible ASCII, and obs-text (0x80-0xFF). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.constant(0x09),
  fc.integer({ min: 0x80, max: 0xff }),
);
const headerBytes = (maxLength: number) =>
  fc.array(headerChar, { maxLength }).map((codes) => Buffer.from(codes));

const scheme = fc.constantFrom(
  'Bearer',
  'bearer',
  'BEARER',
  'Basic',
  'Token',
  'Digest',
  'Bearer:',
  '',
);

/** One Authorization value that must not authenticate, `valid` being a valid token. */
const malformedFor = (valid: string) =>
  fc.oneof(
    // anything at all
    headerBytes(80),
    // a scheme and garbage
    fc
      .tuple(scheme, headerBytes(60))
      .map(([name, rest]) => Buffer.concat([latin1(`${name} `), rest])),
    // Bearer and nothing
    fc.constantFrom('Bearer', 'Bearer ', 'bearer  ', '', ' ').map(latin1),
    // the valid token under another scheme, or with more words after it
    fc.constantFrom('Basic', 'Token', 'Bearer:').map((name) => latin1(`${name} ${valid}`)),
    fc.stringMatching(/^[ \t][\x21-\x7e]{1,10}$/).map((tail) => latin1(`Bearer ${valid}${tail}`)),
    // tokens with spaces inside
    fc
      .tuple(fc.stringMatching(/^[\x21-\x7e]{4,30}$/), fc.stringMatching(/^[\x21-\x7e]{4,30}$/))
      .map(([a, b]) => latin1(`Bearer ${a} ${b}`)),
    // non-ASCII, as UTF-8 bytes
    fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .map((text) => Buffer.from(`Bearer ${text}ключ`, 'utf8')),
    // well-formed, unknown
    fc.constant(null).map(() => latin1(`Bearer ${generateToken()}`)),
    // too long to be a token, within Node's header limit
    fc.integer({ min: 513, max: 12_000 }).map((length) => latin1(`Bearer ${'a'.repeat(length)}`)),
  );

/**
 * One request's Authorization headers: one malformed, or several (the valid one among them).
 * Together they stay within Node's 16 KiB of headers (past it Node answers 431 itself).
 */
const headerSetsFor = (valid: string) => {
  const malformed = malformedFor(valid);
  return fc
    .oneof(
      { weight: 4, arbitrary: malformed.map((value) => [value]) },
      {
        weight: 1,
        arbitrary: fc
          .array(fc.oneof(malformed, fc.constant(latin1(`Bearer ${valid}`))), {
            minLength: 1,
            maxLength: 4,
          })
          .map((values) => [latin1(`Bearer ${valid}`), ...values]),
      },
    )
    .filter((headers) => Buffer.concat(headers).length < 14_000);
};

describe('malformed Authorization headers', () => {
  it('a valid token in one well-formed header is served (the baseline)', async () => {
    const answer = await rawRequest('/v1/queues', [latin1(`Bearer ${valid}`)]);
    assert.equal(answer.status, 200, answer.body);
    assert.equal((await rawRequest('/v1/queues', [latin1(`bearer   ${valid}`)])).status, 200);
  });

  it('a few hundred random malformed headers all get 401 with WWW-Authenticate, and no echo', async () => {
    await fc.assert(
      fc.asyncProperty(headerSetsFor(valid), fc.boolean(), async (headers, v1beta2) => {
        const path = v1beta2 ? `${V1BETA2_ROOT}/emails-eu` : '/v1/queues';
        const answer = await rawRequest(path, headers);
        assert.equal(answer.status, 401, `${answer.head}\n${answer.body}`);
        assert.match(answer.head, /\r\nwww-authenticate: Bearer\r\n/i);
        assert.match(answer.body, v1beta2 ? /"reason":"authError"/ : /"code":"unauthenticated"/);
        for (const header of headers) {
          const sent = header.toString('latin1').replace(/^\S+\s+/, '');
          if (sent.length >= 12) assert.equal(answer.body.includes(sent.slice(0, 12)), false);
        }
        assert.equal(answer.body.includes(valid.slice(3, 15)), false);
      }),
      { numRuns: 300 },
    );
  });

  it('malformed query-string tokens on v1beta2 get 401', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('oauth_token', 'key'),
        fc.string({ maxLength: 40 }),
        async (name, value) => {
          const answer = await rawRequest(
            `${V1BETA2_ROOT}/emails-eu?${name}=${encodeURIComponent(value)}`,
            [],
          );
          assert.equal(answer.status, 401, answer.body);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a header past Node’s size limit gets 431 from Node, not a 500', async () => {
    const answer = await rawRequest('/v1/queues', [latin1(`Bearer ${'a'.repeat(20_000)}`)]);
    assert.equal(answer.status, 431);
  });

  it('after all that the server still serves a valid token', async () => {
    const answer = await rawRequest(`${V1BETA2_ROOT}/emails-eu`, [latin1(`Bearer ${valid}`)]);
    // The queue does not exist: past authentication, the API answers for itself.
    assert.equal(answer.status, 404, answer.body);
    assert.equal((await rawRequest('/v1/queues', [latin1(`Bearer ${valid}`)])).status, 200);
  });
});
