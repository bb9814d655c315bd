/**
 * The envelope the client wraps around a task payload, so any tool can read it and pullq
 * consumers know how to decode it:
 *
 *   {"pullq":1,"contentType":"application/json","contentEncoding":"utf-8","headers":{},"body":{"a":1}}
 *
 * A json or text body without compression sits inline as JSON, readable by curl. Anything else
 * (binary, msgpack, any compression) is `"bodyEncoding":"base64"` over the serialized and
 * compressed bytes, with `"compression"` naming the algorithm. A payload without the envelope
 * (put by another tool) decodes as raw bytes, text or JSON. Decoding never throws on a bad
 * payload: a consumer gets the error in `DecodedPayload.error` and decides.
 */

import { PullqError } from '../protocol/errors.ts';
import {
  checkText,
  compress,
  decodeUtf8,
  decompress,
  isCompressionName,
  SERIALIZER_NAMES,
  serializerByContentType,
  serializerByName,
  stringifyJson,
  utf8Encoder,
  type CompressionName,
  type Serializer,
  type SerializerName,
} from './serializers.ts';

export type HeaderValue = string | number | boolean | null;
export type Headers = Record<string, HeaderValue>;

export interface EncodeOptions {
  /** Default: binary for a Uint8Array body, json for anything else (a string too). */
  serializer?: SerializerName;
  compression?: CompressionName;
  headers?: Headers;
}

export type RawDecoding = 'bytes' | 'text' | 'json';

export interface DecodeOptions {
  /**
   * Serializer names or content types the consumer accepts; default: all four built-ins.
   * An entry that names no built-in serializer is a programming error (`invalid_argument`).
   */
  accept?: readonly string[];
  /** How to decode a payload that carries no envelope (inserted by other tools). Default 'bytes'. */
  raw?: RawDecoding;
}

export interface DecodedPayload {
  /** True when the payload had no pullq envelope. */
  raw: boolean;
  contentType: string;
  contentEncoding: string;
  compression: CompressionName | null;
  headers: Headers;
  /** The decoded body; undefined when `error` is set. */
  body: unknown;
  /**
   * Why the body could not be decoded: `unsupported_media_type` when the content type or the
   * compression is not accepted, `malformed_request` when the payload is corrupt.
   */
  error: PullqError | null;
}

/** The envelope format version, and the marker that tells an envelope from a raw payload. */
const ENVELOPE_VERSION = 1;

export function encodeEnvelope(body: unknown, options: EncodeOptions = {}): Uint8Array {
  const serializerName = options.serializer ?? (body instanceof Uint8Array ? 'binary' : 'json');
  const serializer = serializerByName(serializerName);
  if (serializer === undefined) {
    throw new PullqError(
      'invalid_argument',
      `unknown serializer ${JSON.stringify(serializerName)} (known: ${SERIALIZER_NAMES.join(', ')})`,
    );
  }
  const compression = options.compression;
  if (compression !== undefined && !isCompressionName(compression)) {
    throw new PullqError(
      'invalid_argument',
      `unknown compression ${JSON.stringify(compression)} (known: gzip, br, zstd)`,
    );
  }
  const headers = options.headers ?? {};
  checkHeaders(headers);

  let bodyFields: string;
  if (compression === undefined && serializer.name === 'json') {
    bodyFields = `"body":${stringifyJson(body)}`;
  } else if (compression === undefined && serializer.name === 'text') {
    bodyFields = `"body":${JSON.stringify(checkText(body))}`;
  } else {
    let bytes = serializer.encode(body);
    if (compression !== undefined) bytes = compress(compression, bytes);
    const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    bodyFields =
      (compression === undefined ? '' : `"compression":"${compression}",`) +
      `"bodyEncoding":"base64","body":"${base64}"`;
  }
  // Built by hand so the body is stringified once, not once alone and again inside the whole.
  const text =
    `{"pullq":${ENVELOPE_VERSION},"contentType":"${serializer.contentType}",` +
    `"contentEncoding":"${serializer.contentEncoding}","headers":${JSON.stringify(headers)},` +
    `${bodyFields}}`;
  // TextEncoder, not Buffer.from: a small Buffer would be a slice of Node's shared pool.
  return utf8Encoder.encode(text);
}

/** Throws `invalid_argument` naming the first header that is not a string, number, boolean or null. */
export function checkHeaders(headers: unknown): asserts headers is Headers {
  const problem = headersProblem(headers);
  if (problem !== null) throw new PullqError('invalid_argument', problem);
}

function headersProblem(headers: unknown): string | null {
  if (!isPlainObject(headers)) return 'headers must be a plain object';
  for (const [name, value] of Object.entries(headers)) {
    const ok =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      const got = typeof value === 'number' ? String(value) : typeof value;
      return `header ${JSON.stringify(name)} must be a string, a finite number, a boolean or null, got ${got}`;
    }
  }
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const OPEN_BRACE = 0x7b;

/** The serializers an `accept` list allows; throws `invalid_argument` on an unknown entry. */
export function resolveAccept(accept: readonly string[] | undefined): ReadonlySet<SerializerName> {
  if (accept === undefined) return new Set(SERIALIZER_NAMES);
  const names = new Set<SerializerName>();
  for (const entry of accept) {
    const serializer = serializerByName(entry) ?? serializerByContentType(entry);
    if (serializer === undefined) {
      throw new PullqError(
        'invalid_argument',
        `accept entry ${JSON.stringify(entry)} names no serializer (known: ${SERIALIZER_NAMES.join(', ')} or their content types)`,
      );
    }
    names.add(serializer.name);
  }
  return names;
}

export function decodeEnvelope(payload: Uint8Array, options: DecodeOptions = {}): DecodedPayload {
  const accepted = resolveAccept(options.accept);
  const rawDecoding = options.raw ?? 'bytes';
  if (rawDecoding !== 'bytes' && rawDecoding !== 'text' && rawDecoding !== 'json') {
    throw new PullqError(
      'invalid_argument',
      `raw must be "bytes", "text" or "json", got ${JSON.stringify(rawDecoding)}`,
    );
  }

  // Only a payload starting with "{" can be an envelope, so other payloads are not parsed.
  // What was learned on the way is reused for raw decoding: a payload is parsed at most once.
  const seen: Seen = {};
  if (firstNonWhitespace(payload) === OPEN_BRACE) {
    seen.text = attempt(() => decodeUtf8(payload));
    if (seen.text.ok) {
      const text = seen.text.value;
      seen.json = attempt(() => JSON.parse(text) as unknown);
      if (seen.json.ok && isEnvelope(seen.json.value)) {
        return decodeEnvelopeObject(seen.json.value, accepted);
      }
    }
  }
  return decodeRaw(payload, rawDecoding, seen);
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(run: () => T): Attempt<T> {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The UTF-8 decoding and JSON parse already tried on a payload, if any. */
interface Seen {
  text?: Attempt<string>;
  json?: Attempt<unknown>;
}

function firstNonWhitespace(bytes: Uint8Array): number | undefined {
  for (const byte of bytes) {
    // JSON's whitespace: space, tab, line feed, carriage return.
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte;
  }
  return undefined;
}

interface EnvelopeObject {
  pullq: typeof ENVELOPE_VERSION;
  contentType: string;
  contentEncoding?: unknown;
  headers?: Headers;
  compression?: unknown;
  bodyEncoding?: unknown;
  body: unknown;
}

function isEnvelope(value: unknown): value is EnvelopeObject {
  return (
    isPlainObject(value) &&
    value.pullq === ENVELOPE_VERSION &&
    typeof value.contentType === 'string' &&
    Object.hasOwn(value, 'body') &&
    (!Object.hasOwn(value, 'headers') || headersProblem(value.headers) === null)
  );
}

function decodeEnvelopeObject(
  envelope: EnvelopeObject,
  accepted: ReadonlySet<SerializerName>,
): DecodedPayload {
  const serializer = serializerByContentType(envelope.contentType);
  const compression = isCompressionName(envelope.compression) ? envelope.compression : null;
  const result: DecodedPayload = {
    raw: false,
    contentType: envelope.contentType,
    contentEncoding:
      typeof envelope.contentEncoding === 'string'
        ? envelope.contentEncoding
        : (serializer?.contentEncoding ?? 'binary'),
    compression,
    headers: envelope.headers ?? {},
    body: undefined,
    error: null,
  };
  const fail = (error: PullqError): DecodedPayload => ({ ...result, error });

  if (serializer === undefined || !accepted.has(serializer.name)) {
    const known = serializer === undefined ? 'not a known serializer' : 'not accepted';
    return fail(
      new PullqError(
        'unsupported_media_type',
        `content type ${envelope.contentType} is ${known} (accept: ${[...accepted].join(', ')})`,
        { details: { contentType: envelope.contentType, accept: [...accepted] } },
      ),
    );
  }
  if (envelope.compression !== undefined && compression === null) {
    if (typeof envelope.compression !== 'string') {
      return fail(new PullqError('malformed_request', 'the envelope compression is not a string'));
    }
    return fail(
      new PullqError(
        'unsupported_media_type',
        `compression ${envelope.compression} is not supported (known: gzip, br, zstd)`,
        { details: { compression: envelope.compression } },
      ),
    );
  }

  try {
    return { ...result, body: decodeBody(envelope, serializer, compression) };
  } catch (error) {
    if (error instanceof PullqError) return fail(error);
    return fail(
      new PullqError('malformed_request', 'the envelope body does not decode', { cause: error }),
    );
  }
}

function decodeBody(
  envelope: EnvelopeObject,
  serializer: Serializer,
  compression: CompressionName | null,
): unknown {
  if (envelope.bodyEncoding === undefined) {
    if (compression !== null) {
      throw new PullqError('malformed_request', 'a compressed body must be base64');
    }
    if (serializer.name === 'json') return envelope.body;
    if (serializer.name === 'text' && typeof envelope.body === 'string') return envelope.body;
    throw new PullqError(
      'malformed_request',
      `an inline ${serializer.name} body must be ${serializer.name === 'text' ? 'a string' : 'base64'}`,
    );
  }
  if (envelope.bodyEncoding !== 'base64') {
    throw new PullqError(
      'malformed_request',
      `bodyEncoding must be "base64", got ${JSON.stringify(envelope.bodyEncoding)}`,
    );
  }
  let bytes: Uint8Array = decodeBase64(envelope.body);
  if (compression !== null) bytes = decompress(compression, bytes);
  return serializer.decode(bytes);
}

// Standard or URL-safe alphabet, optional padding. Buffer.from(s, 'base64') would skip any
// other character silently and hand back different bytes instead of an error.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(body: unknown): Buffer {
  if (typeof body !== 'string') {
    throw new PullqError('malformed_request', 'a base64 body must be a string');
  }
  const unpadded = body.length - (body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0);
  // One leftover character carries 6 bits, less than a byte: no encoder produces it.
  // Padding, when present, completes the last group of four.
  const valid =
    BASE64.test(body) && unpadded % 4 !== 1 && (unpadded === body.length || body.length % 4 === 0);
  if (!valid) throw new PullqError('malformed_request', 'the body is not valid base64');
  return Buffer.from(body, 'base64');
}

function decodeRaw(payload: Uint8Array, decoding: RawDecoding, seen: Seen): DecodedPayload {
  const base = { raw: true, compression: null, headers: {}, error: null };
  if (decoding === 'bytes') {
    return {
      ...base,
      contentType: 'application/octet-stream',
      contentEncoding: 'binary',
      body: new Uint8Array(payload),
    };
  }
  const contentType = decoding === 'text' ? 'text/plain' : 'application/json';
  const result: DecodedPayload = {
    ...base,
    contentType,
    contentEncoding: 'utf-8',
    body: undefined,
  };
  const text = seen.text ?? attempt(() => decodeUtf8(payload));
  if (!text.ok) {
    const error = new PullqError('malformed_request', 'the raw payload is not valid UTF-8', {
      cause: text.error,
    });
    return { ...result, error };
  }
  if (decoding === 'text') return { ...result, body: text.value };
  const json = seen.json ?? attempt(() => JSON.parse(text.value) as unknown);
  if (!json.ok) {
    const error = new PullqError('malformed_request', 'the raw payload is not valid JSON', {
      cause: json.error,
    });
    return { ...result, error };
  }
  return { ...result, body: json.value };
}
