/**
 * The client's message envelope (src/client/envelope.ts): the form other tools can read, raw
 * payloads, the accept list, corrupt envelopes and headers. Serializers and compression, which
 * the envelope carries, are tested in client-serializers.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { encode as msgpackEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope, type Headers } from '../../src/client/envelope.ts';
import { decompress, serializerByContentType } from '../../src/client/serializers.ts';
import {
  bytesOf,
  textOf,
  envelopeJson,
  assertErrorCode,
  assertThrowsCode,
} from './envelope-helpers.ts';

describe('client envelope: headers', () => {
  it('headers default to an empty object', () => {
    assert.deepEqual(decodeEnvelope(encodeEnvelope(1)).headers, {});
  });

  it('headers must be a plain object of strings, finite numbers, booleans or null, and the bad one is named', () => {
    const bad: [unknown, RegExp][] = [
      [[], /plain object/],
      ['h', /plain object/],
      [new Map(), /plain object/],
      [{ ok: 'x', nested: { a: 1 } }, /"nested"/],
      [{ list: [1] }, /"list"/],
      [{ missing: undefined }, /"missing"/],
      [{ huge: Number.POSITIVE_INFINITY }, /"huge".*Infinity/],
      [{ big: 1n }, /"big".*bigint/],
    ];
    for (const [headers, message] of bad) {
      assertThrowsCode(
        () => encodeEnvelope(1, { headers: headers as Headers }),
        'invalid_argument',
        message,
      );
    }
  });
});

describe('client envelope: readable by any tool', () => {
  it('a json body without compression is inline JSON in a readable envelope', () => {
    const payload = encodeEnvelope({ a: 1 }, { headers: { k: 'v' } });
    assert.deepEqual(JSON.parse(textOf(payload)), {
      pullq: 1,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { k: 'v' },
      body: { a: 1 },
    });
  });

  it('a text body without compression is the string itself in the envelope', () => {
    const parsed = JSON.parse(textOf(encodeEnvelope('héllo', { serializer: 'text' }))) as unknown;
    assert.deepEqual(parsed, {
      pullq: 1,
      contentType: 'text/plain',
      contentEncoding: 'utf-8',
      headers: {},
      body: 'héllo',
    });
  });

  it('binary, msgpack and compressed bodies are standard base64 with bodyEncoding and compression named', () => {
    const binary = JSON.parse(textOf(encodeEnvelope(new Uint8Array([0xfb, 0xff])))) as Record<
      string,
      unknown
    >;
    assert.equal(binary.bodyEncoding, 'base64');
    assert.equal(binary.body, '+/8=');
    assert.equal(binary.compression, undefined);

    const msgpack = JSON.parse(
      textOf(encodeEnvelope({ a: 1 }, { serializer: 'msgpack' })),
    ) as Record<string, unknown>;
    assert.equal(msgpack.contentType, 'application/msgpack');
    assert.deepEqual(
      Buffer.from(msgpack.body as string, 'base64'),
      Buffer.from(msgpackEncode({ a: 1 })),
    );

    const gzipped = JSON.parse(textOf(encodeEnvelope({ a: 1 }, { compression: 'gzip' }))) as Record<
      string,
      unknown
    >;
    assert.equal(gzipped.compression, 'gzip');
    assert.equal(gzipped.bodyEncoding, 'base64');
    assert.equal(
      textOf(decompress('gzip', Buffer.from(gzipped.body as string, 'base64'))),
      '{"a":1}',
    );
  });

  it('an envelope written by hand with URL-safe base64 decodes', () => {
    const payload = envelopeJson({
      contentType: 'application/octet-stream',
      bodyEncoding: 'base64',
      body: '-_8',
    });
    assert.deepEqual(decodeEnvelope(payload).body, new Uint8Array([0xfb, 0xff]));
  });

  it("kombu's application/x-msgpack and content types with parameters are understood", () => {
    const base64 = Buffer.from(msgpackEncode([1, 'x'])).toString('base64');
    const decoded = decodeEnvelope(
      envelopeJson({ contentType: 'application/x-msgpack', bodyEncoding: 'base64', body: base64 }),
    );
    assert.deepEqual(decoded.body, [1, 'x']);
    const json = decodeEnvelope(
      envelopeJson({ contentType: 'Application/JSON; charset=utf-8', body: [1] }),
    );
    assert.deepEqual(json.body, [1]);
    assert.equal(serializerByContentType('text/plain;charset=utf-8')?.name, 'text');
  });
});

describe('client envelope: raw payloads', () => {
  const rawCases: [string, Uint8Array][] = [
    ['empty', new Uint8Array()],
    ['arbitrary bytes', new Uint8Array([0, 0x7b, 0xff, 0x10])],
    ['invalid UTF-8 after a brace', new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])],
    ['plain text', bytesOf('hello')],
    ['an App Engine style JSON object', bytesOf('{"message":"hi"}')],
    ['a JSON array', bytesOf('[1,2]')],
    ['a JSON number', bytesOf('42')],
    ['a JSON object that is not valid JSON', bytesOf('{"a":')],
    [
      'an envelope of another version',
      bytesOf('{"pullq":2,"contentType":"application/json","body":1}'),
    ],
    ['an envelope without a body', bytesOf('{"pullq":1,"contentType":"application/json"}')],
    [
      'an envelope whose contentType is not a string',
      bytesOf('{"pullq":1,"contentType":5,"body":1}'),
    ],
    [
      'an envelope with bad headers',
      bytesOf('{"pullq":1,"contentType":"application/json","headers":{"h":[1]},"body":1}'),
    ],
  ];
  for (const [name, payload] of rawCases) {
    it(`${name} decodes raw to the identical bytes by default`, () => {
      const decoded = decodeEnvelope(payload);
      assert.equal(decoded.raw, true);
      assert.equal(decoded.error, null);
      assert.equal(decoded.contentType, 'application/octet-stream');
      assert.equal(decoded.compression, null);
      assert.deepEqual(decoded.headers, {});
      assert.deepEqual(decoded.body, new Uint8Array(payload));
    });
  }

  it('raw "text" decodes a payload without an envelope as a string', () => {
    const decoded = decodeEnvelope(bytesOf('{"message":"hi"}'), { raw: 'text' });
    assert.equal(decoded.raw, true);
    assert.equal(decoded.contentType, 'text/plain');
    assert.equal(decoded.body, '{"message":"hi"}');
    assert.equal(decodeEnvelope(bytesOf('\ufeffbom kept'), { raw: 'text' }).body, '\ufeffbom kept');
  });

  it('raw "json" parses a payload without an envelope', () => {
    for (const [text, value] of [
      ['{"message":"hi"}', { message: 'hi' }],
      [' [1,2]', [1, 2]],
      ['42', 42],
    ] as const) {
      const decoded = decodeEnvelope(bytesOf(text), { raw: 'json' });
      assert.equal(decoded.raw, true);
      assert.equal(decoded.contentType, 'application/json');
      assert.equal(decoded.error, null);
      assert.deepEqual(decoded.body, value);
    }
  });

  it('raw "json" of invalid JSON sets malformed_request instead of throwing', () => {
    assertErrorCode(decodeEnvelope(bytesOf('{"a":'), { raw: 'json' }), 'malformed_request');
    assertErrorCode(decodeEnvelope(bytesOf('not json'), { raw: 'json' }), 'malformed_request');
  });

  it('raw "text" and "json" of invalid UTF-8 set malformed_request instead of throwing', () => {
    for (const raw of ['text', 'json'] as const) {
      for (const payload of [new Uint8Array([0xff, 0xfe]), new Uint8Array([0x7b, 0xc3, 0x28])]) {
        const decoded = decodeEnvelope(payload, { raw });
        assert.equal(decoded.raw, true);
        assertErrorCode(decoded, 'malformed_request');
      }
    }
  });
});

describe('client envelope: accept', () => {
  const msgpackPayload = encodeEnvelope({ a: 1 }, { serializer: 'msgpack', headers: { h: 1 } });

  it('a content type outside the accept list is refused with unsupported_media_type naming the type and the list', () => {
    const decoded = decodeEnvelope(msgpackPayload, { accept: ['json', 'text/plain'] });
    assert.equal(decoded.raw, false);
    assertErrorCode(decoded, 'unsupported_media_type');
    assert.match(decoded.error?.message ?? '', /application\/msgpack.*json, text/);
    assert.deepEqual(decoded.headers, { h: 1 });
  });

  it('a content type no built-in serializer knows is refused with unsupported_media_type', () => {
    const decoded = decodeEnvelope(
      envelopeJson({ contentType: 'application/x-yaml', body: 'a: 1' }),
    );
    assertErrorCode(decoded, 'unsupported_media_type');
    assert.match(decoded.error?.message ?? '', /application\/x-yaml/);
  });

  it('an unknown compression is refused with unsupported_media_type', () => {
    const decoded = decodeEnvelope(
      envelopeJson({
        contentType: 'application/json',
        compression: 'lz4',
        bodyEncoding: 'base64',
        body: '',
      }),
    );
    assertErrorCode(decoded, 'unsupported_media_type');
  });

  it('a serializer is accepted by its name or by its content type', () => {
    assert.deepEqual(decodeEnvelope(msgpackPayload, { accept: ['msgpack'] }).body, { a: 1 });
    assert.deepEqual(decodeEnvelope(msgpackPayload, { accept: ['application/x-msgpack'] }).body, {
      a: 1,
    });
    assert.deepEqual(decodeEnvelope(msgpackPayload, { accept: ['application/msgpack'] }).body, {
      a: 1,
    });
  });

  it('an accept entry that names no serializer is a programming error', () => {
    assertThrowsCode(
      () => decodeEnvelope(msgpackPayload, { accept: ['jsn'] }),
      'invalid_argument',
      /jsn/,
    );
  });
});

describe('client envelope: corrupt envelopes', () => {
  const gzipB64 = Buffer.from(gzipSync(bytesOf('{"a":1}'))).toString('base64');
  const cases: [string, Record<string, unknown>][] = [
    [
      'base64 with a character outside the alphabet',
      { contentType: 'application/octet-stream', bodyEncoding: 'base64', body: 'AA*A' },
    ],
    [
      'base64 with whitespace',
      { contentType: 'application/octet-stream', bodyEncoding: 'base64', body: 'AA AA' },
    ],
    [
      'base64 of impossible length',
      { contentType: 'application/octet-stream', bodyEncoding: 'base64', body: 'AAAAA' },
    ],
    [
      'base64 with misplaced padding',
      { contentType: 'application/octet-stream', bodyEncoding: 'base64', body: 'AA=A' },
    ],
    [
      'a base64 body that is not a string',
      { contentType: 'application/octet-stream', bodyEncoding: 'base64', body: 5 },
    ],
    [
      'truncated gzip',
      {
        contentType: 'application/json',
        compression: 'gzip',
        bodyEncoding: 'base64',
        body: gzipB64.slice(0, 16),
      },
    ],
    [
      'bytes that are not gzip',
      {
        contentType: 'application/json',
        compression: 'gzip',
        bodyEncoding: 'base64',
        body: 'AAAAAAAA',
      },
    ],
    [
      'bad msgpack',
      {
        contentType: 'application/msgpack',
        bodyEncoding: 'base64',
        body: Buffer.from([0xc1]).toString('base64'),
      },
    ],
    [
      'truncated msgpack',
      {
        contentType: 'application/msgpack',
        bodyEncoding: 'base64',
        body: Buffer.from([0x81, 0xa1]).toString('base64'),
      },
    ],
    [
      'json bytes that are not JSON',
      {
        contentType: 'application/json',
        bodyEncoding: 'base64',
        body: Buffer.from('{').toString('base64'),
      },
    ],
    [
      'text bytes that are not UTF-8',
      {
        contentType: 'text/plain',
        bodyEncoding: 'base64',
        body: Buffer.from([0xff]).toString('base64'),
      },
    ],
    ['an inline binary body', { contentType: 'application/octet-stream', body: [1, 2] }],
    ['an inline text body that is not a string', { contentType: 'text/plain', body: 5 }],
    [
      'a compressed body that is inline',
      { contentType: 'application/json', compression: 'gzip', body: { a: 1 } },
    ],
    [
      'an unknown bodyEncoding',
      { contentType: 'application/json', bodyEncoding: 'hex', body: '00' },
    ],
  ];
  for (const [name, fields] of cases) {
    it(`${name} gives malformed_request without throwing`, () => {
      const decoded = decodeEnvelope(envelopeJson(fields));
      assert.equal(decoded.raw, false);
      assertErrorCode(decoded, 'malformed_request');
    });
  }
});

describe('client envelope: properties', () => {
  function looksLikeEnvelope(bytes: Uint8Array): boolean {
    try {
      const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
      return (
        typeof value === 'object' && value !== null && (value as { pullq?: unknown }).pullq === 1
      );
    } catch {
      return false;
    }
  }

  it('any payload that is not an envelope decodes raw with identical bytes', () => {
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      fc.json().map(bytesOf),
      fc.string().map((s) => bytesOf(`{${s}`)),
    );
    fc.assert(
      fc.property(payloads, (payload) => {
        fc.pre(!looksLikeEnvelope(payload));
        const decoded = decodeEnvelope(payload);
        assert.equal(decoded.raw, true);
        assert.equal(decoded.error, null);
        assert.deepEqual(decoded.body, new Uint8Array(payload));
      }),
      { numRuns: 500 },
    );
  });
});
