/**
 * The client's serializers (json, text, binary, msgpack) and compressions (gzip, br, zstd):
 * how a message body becomes bytes and back. Encoding refuses a body the serializer cannot
 * carry faithfully (`invalid_argument`); decoding bytes that do not parse is
 * `malformed_request`. Decompression is bounded so a small payload cannot expand into
 * gigabytes.
 */

import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import {
  brotliCompressSync,
  brotliDecompressSync,
  gunzipSync,
  gzipSync,
  zstdCompressSync,
  zstdDecompressSync,
} from 'node:zlib';
import { PullqError } from '../protocol/errors.ts';

export type SerializerName = 'json' | 'text' | 'binary' | 'msgpack';
export type CompressionName = 'gzip' | 'br' | 'zstd';

export interface Serializer {
  readonly name: SerializerName;
  readonly contentType: string;
  readonly contentEncoding: 'utf-8' | 'binary';
  /** Throws `invalid_argument` when the body is not one this serializer carries. */
  encode(body: unknown): Uint8Array;
  /** Throws `malformed_request` when the bytes do not decode. */
  decode(bytes: Uint8Array): unknown;
}

export const SERIALIZER_NAMES: readonly SerializerName[] = ['json', 'text', 'binary', 'msgpack'];
export const COMPRESSION_NAMES: readonly CompressionName[] = ['gzip', 'br', 'zstd'];

/**
 * The largest body decompression may produce. Server payloads are far smaller, so this only
 * stops a zip bomb: 17 MiB of zeros gzip to about 17 KiB.
 */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024;

export function isSerializerName(value: unknown): value is SerializerName {
  return typeof value === 'string' && (SERIALIZER_NAMES as readonly string[]).includes(value);
}

export function isCompressionName(value: unknown): value is CompressionName {
  return typeof value === 'string' && (COMPRESSION_NAMES as readonly string[]).includes(value);
}

export const utf8Encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not silently U+FFFD. ignoreBOM: a leading U+FEFF is part
// of the text the producer sent, so it is kept.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decoding; throws a `TypeError` on invalid bytes. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'object';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * JSON.stringify with the silent losses turned into errors: JSON would drop functions and
 * symbols, turn NaN and undefined array items into null, and write a Map or a Uint8Array as
 * an object that decodes as something else. An `undefined` object property is still omitted,
 * because in JSON that is what an absent property means.
 */
export function stringifyJson(body: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body, refuseLossyJson);
  } catch (error) {
    if (error instanceof PullqError) throw error;
    // Cycles arrive here ("Converting circular structure to JSON"), and errors thrown by toJSON.
    const message = `json cannot encode the body: ${errorMessage(error)}`;
    throw new PullqError('invalid_argument', message, { cause: error });
  }
  if (text === undefined) {
    throw new PullqError('invalid_argument', 'json cannot encode undefined as a body');
  }
  return text;
}

function refuseLossyJson(this: unknown, key: string, value: unknown): unknown {
  // The top-level value comes with the key ""; so would a property named "", rarely enough.
  const where = key === '' ? 'the body' : `the value at key "${key}"`;
  const refuse = (what: string, hint = ''): never => {
    throw new PullqError('invalid_argument', `json cannot encode ${what} (${where})${hint}`, {
      details: { key },
    });
  };
  switch (typeof value) {
    case 'function':
    case 'symbol':
      return refuse(`a ${typeof value}`);
    case 'bigint':
      return refuse('a bigint', '; convert it to a string or a number first');
    case 'number':
      if (!Number.isFinite(value)) refuse(String(value));
      return value;
    case 'undefined':
      if (Array.isArray(this)) refuse('undefined in an array');
      return value;
    case 'object':
      if (value instanceof Map || value instanceof Set) refuse(`a ${describe(value)}`);
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        refuse(`a ${describe(value)}`, '; use the binary or msgpack serializer for bytes');
      }
      return value;
    default:
      return value;
  }
}

/**
 * The bytes as a plain Uint8Array over a buffer of their own, copied only when needed. Node
 * hands out small Buffers as slices of a shared 8 KiB pool: a consumer keeping such a body
 * would pin the pool, and Buffer's .slice() shares memory where Uint8Array's copies.
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  const owned =
    Object.getPrototypeOf(bytes) === Uint8Array.prototype &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength;
  return owned ? bytes : new Uint8Array(bytes);
}

function malformed(what: string, error: unknown): PullqError {
  return new PullqError('malformed_request', `${what}: ${errorMessage(error)}`, { cause: error });
}

const json: Serializer = {
  name: 'json',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  encode: (body) => utf8Encoder.encode(stringifyJson(body)),
  decode(bytes) {
    try {
      return JSON.parse(decodeUtf8(bytes)) as unknown;
    } catch (error) {
      throw malformed('the json body does not decode', error);
    }
  },
};

/** Refuses anything but a well-formed string; a lone surrogate would not survive UTF-8. */
export function checkText(body: unknown): string {
  if (typeof body !== 'string') {
    throw new PullqError('invalid_argument', `text needs a string body, got ${describe(body)}`);
  }
  if (!body.isWellFormed()) {
    throw new PullqError(
      'invalid_argument',
      'text cannot encode a string with a lone surrogate (it is not valid UTF-8)',
    );
  }
  return body;
}

const text: Serializer = {
  name: 'text',
  contentType: 'text/plain',
  contentEncoding: 'utf-8',
  encode: (body) => utf8Encoder.encode(checkText(body)),
  decode(bytes) {
    try {
      return decodeUtf8(bytes);
    } catch (error) {
      throw malformed('the text body is not valid UTF-8', error);
    }
  },
};

const binary: Serializer = {
  name: 'binary',
  contentType: 'application/octet-stream',
  contentEncoding: 'binary',
  encode(body) {
    if (!(body instanceof Uint8Array)) {
      throw new PullqError(
        'invalid_argument',
        `binary needs a Uint8Array or Buffer body, got ${describe(body)}`,
      );
    }
    return body;
  },
  // Returns the input itself when it already owns its buffer; a copy otherwise.
  decode: ownedBytes,
};

const msgpack: Serializer = {
  name: 'msgpack',
  contentType: 'application/msgpack',
  contentEncoding: 'binary',
  encode(body) {
    try {
      return msgpackEncode(body);
    } catch (error) {
      // Functions, symbols and bigints are "Unrecognized object"; cycles are "Too deep objects".
      throw new PullqError(
        'invalid_argument',
        `msgpack cannot encode the body: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  },
  decode(bytes) {
    try {
      // Bytes inside a msgpack body decode to views of its input, hence an owned input.
      return msgpackDecode(ownedBytes(bytes));
    } catch (error) {
      throw malformed('the msgpack body does not decode', error);
    }
  },
};

const BY_NAME: Readonly<Record<SerializerName, Serializer>> = { json, text, binary, msgpack };

const BY_CONTENT_TYPE: ReadonlyMap<string, Serializer> = new Map([
  ['application/json', json],
  ['text/plain', text],
  ['application/octet-stream', binary],
  ['application/msgpack', msgpack],
  // kombu's name for msgpack, so messages from a Python producer are understood.
  ['application/x-msgpack', msgpack],
]);

export function serializerByName(name: string): Serializer | undefined {
  return isSerializerName(name) ? BY_NAME[name] : undefined;
}

/** Media types are case-insensitive and parameters ("; charset=utf-8") do not change the serializer. */
export function serializerByContentType(contentType: string): Serializer | undefined {
  const semicolon = contentType.indexOf(';');
  const essence = (semicolon === -1 ? contentType : contentType.slice(0, semicolon))
    .trim()
    .toLowerCase();
  return BY_CONTENT_TYPE.get(essence);
}

export function compress(name: CompressionName, bytes: Uint8Array): Uint8Array {
  switch (name) {
    case 'gzip':
      return gzipSync(bytes);
    case 'br':
      return brotliCompressSync(bytes);
    case 'zstd':
      return zstdCompressSync(bytes);
  }
}

export function decompress(name: CompressionName, bytes: Uint8Array): Uint8Array {
  const options = { maxOutputLength: MAX_DECOMPRESSED_BYTES };
  try {
    switch (name) {
      case 'gzip':
        return gunzipSync(bytes, options);
      case 'br':
        return brotliDecompressSync(bytes, options);
      case 'zstd':
        return zstdDecompressSync(bytes, options);
    }
  } catch (error) {
    const tooLarge = (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new PullqError(
      'malformed_request',
      tooLarge
        ? `the ${name} body decompresses to more than ${MAX_DECOMPRESSED_BYTES} bytes`
        : `the ${name} body does not decompress: ${errorMessage(error)}`,
      { cause: error, details: { compression: name } },
    );
  }
}
