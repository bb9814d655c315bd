/**
 * The client's serializers and compression (src/client/serializers.ts), through the envelope
 * that carries them: every serializer with every compression, what each refuses to encode,
 * and the 16 MiB bound on decompression. The envelope itself: client-envelope.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliCompressSync, gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope, type Headers } from '../../src/client/envelope.ts';
import {
  COMPRESSION_NAMES,
  compress,
  decompress,
  SERIALIZER_NAMES,
  serializerByName,
  type CompressionName,
  type SerializerName,
} from '../../src/client/serializers.ts';
import { envelopeJson, assertErrorCode, assertThrowsCode } from './envelope-helpers.ts';

const SAMPLE_BODIES: Record<SerializerName, unknown> = {
  json: { a: 1, list: [true, null, 'é'], nested: { emoji: '🐟' } },
  text: 'plain text, with ünïcode 🐟 and a\nnewline',
  binary: new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x7b]),
  msgpack: { a: 1, bytes: new Uint8Array([9, 8, 7]), when: new Date(0), big: 2 ** 40 },
};

describe('client serializers: round trips', () => {
  const headers: Headers = { 'x-trace': 'abc', attempt: 3, urgent: true, empty: null };
  for (const serializer of SERIALIZER_NAMES) {
    for (const compression of [undefined, ...COMPRESSION_NAMES]) {
      it(`a ${serializer} body with ${compression ?? 'no'} compression and headers decodes to the same body and headers`, () => {
        const body = SAMPLE_BODIES[serializer];
        const payload = encodeEnvelope(body, { serializer, compression, headers });
        const decoded = decodeEnvelope(payload);
        assert.equal(decoded.error, null);
        assert.equal(decoded.raw, false);
        assert.deepEqual(decoded.body, body);
        assert.deepEqual(decoded.headers, headers);
        assert.equal(decoded.compression, compression ?? null);
        assert.equal(decoded.contentType, serializerByName(serializer)?.contentType);
        assert.equal(decoded.contentEncoding, serializerByName(serializer)?.contentEncoding);
      });
    }
  }

  it('a binary body decodes to a plain Uint8Array that owns its bytes, not a Buffer view', () => {
    const decoded = decodeEnvelope(encodeEnvelope(Buffer.from([1, 2, 3])));
    assert.equal(Object.getPrototypeOf(decoded.body), Uint8Array.prototype);
    const body = decoded.body as Uint8Array;
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, 3);
  });

  it('the default serializer is binary for a Uint8Array body and json for anything else, a string included', () => {
    assert.equal(
      decodeEnvelope(encodeEnvelope(new Uint8Array([1]))).contentType,
      'application/octet-stream',
    );
    assert.equal(decodeEnvelope(encodeEnvelope('hi')).contentType, 'application/json');
    assert.equal(decodeEnvelope(encodeEnvelope({ a: 1 })).contentType, 'application/json');
    assert.deepEqual(decodeEnvelope(encodeEnvelope('hi')).body, 'hi');
  });
});

describe('client serializers: encode refuses what a serializer cannot carry', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const refused: [SerializerName, string, unknown, RegExp][] = [
    ['json', 'undefined', undefined, /undefined/],
    ['json', 'a function', () => 1, /function/],
    ['json', 'a function inside an object', { f: () => 1 }, /function.*"f"/],
    ['json', 'a bigint', { n: 10n }, /bigint.*"n"/],
    ['json', 'a cycle', cyclic, /circular/],
    ['json', 'undefined in an array', [1, undefined], /undefined in an array/],
    ['json', 'NaN', { x: Number.NaN }, /NaN/],
    ['json', 'a Map', { m: new Map() }, /Map/],
    ['json', 'bytes', { b: new Uint8Array(1) }, /Uint8Array.*binary or msgpack/],
    ['json', 'a symbol', Symbol('s'), /symbol/],
    ['text', 'a number', 5, /string/],
    ['text', 'an object', { a: 1 }, /string/],
    ['text', 'a lone surrogate', 'lone \ud800 surrogate', /surrogate/],
    ['binary', 'a string', 'not bytes', /Uint8Array/],
    ['binary', 'a Uint16Array', new Uint16Array(2), /Uint8Array.*Uint16Array/],
    ['binary', 'an array of numbers', [1, 2], /Uint8Array/],
    ['msgpack', 'a function', () => 1, /msgpack/],
    ['msgpack', 'a bigint', { n: 10n }, /msgpack/],
    ['msgpack', 'a cycle', cyclic, /msgpack/],
  ];
  for (const [serializer, label, body, message] of refused) {
    it(`${serializer} refuses ${label} with invalid_argument`, () => {
      for (const compression of [undefined, 'gzip'] as const) {
        assertThrowsCode(
          () => encodeEnvelope(body, { serializer, compression }),
          'invalid_argument',
          message,
        );
      }
      assertThrowsCode(
        () => serializerByName(serializer)?.encode(body),
        'invalid_argument',
        message,
      );
    });
  }

  it('json omits an undefined object property, as JSON means by an absent one', () => {
    assert.deepEqual(decodeEnvelope(encodeEnvelope({ a: 1, b: undefined })).body, { a: 1 });
  });

  it('an unknown serializer or compression name is refused with invalid_argument', () => {
    assertThrowsCode(
      () => encodeEnvelope(1, { serializer: 'yaml' as SerializerName }),
      'invalid_argument',
      /yaml/,
    );
    assertThrowsCode(
      () => encodeEnvelope(1, { compression: 'lz4' as CompressionName }),
      'invalid_argument',
      /lz4/,
    );
  });
});

describe('client serializers: decompression is bounded at 16 MiB', () => {
  for (const [compression, bomb] of [
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
    ['zstd', zstdCompressSync],
  ] as const) {
    it(`${compression} decompressing to more than 16 MiB is refused with malformed_request`, () => {
      const small = bomb(Buffer.alloc(17 * 1024 * 1024));
      assert.ok(small.length < 64 * 1024);
      assertThrowsCode(
        () => decompress(compression, small),
        'malformed_request',
        /more than 16777216 bytes/,
      );
      const decoded = decodeEnvelope(
        envelopeJson({
          contentType: 'application/octet-stream',
          compression,
          bodyEncoding: 'base64',
          body: small.toString('base64'),
        }),
      );
      assertErrorCode(decoded, 'malformed_request');
    });
  }

  it('decompression up to 16 MiB succeeds', () => {
    const exact = compress('gzip', new Uint8Array(16 * 1024 * 1024));
    assert.equal(decompress('gzip', exact).length, 16 * 1024 * 1024);
  });
});

describe('client serializers: properties', () => {
  it('any JSON value round-trips through json with every compression', () => {
    const compressions = fc.constantFrom<CompressionName | undefined>(
      undefined,
      ...COMPRESSION_NAMES,
    );
    fc.assert(
      fc.property(fc.jsonValue(), compressions, (value, compression) => {
        const decoded = decodeEnvelope(encodeEnvelope(value, { serializer: 'json', compression }));
        assert.equal(decoded.error, null);
        // JSON has no -0: it comes back as 0.
        assert.deepEqual(decoded.body, JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });
});
