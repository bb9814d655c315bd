/**
 * The mutation operators: each takes a request (most often a valid one from the corpus) and
 * breaks one thing in it: a path segment, a query parameter, the method, a header, a value
 * deep in the JSON body, the body's bytes, a base64 payload. `mutate` stacks one to four.
 * The bad values come from ./nasty-values.ts.
 */
import { gzipSync } from 'node:zlib';
import type { FuzzRequest } from './oracle.ts';
import {
  BAD_BASE64,
  CONTENT_TYPES,
  METHODS,
  NASTY_JSON_VALUES,
  NASTY_STRINGS,
  OVERSIZE_BASE64,
  QUERY_NAMES,
  QUERY_VALUES,
} from './nasty-values.ts';
import type { Random } from './random.ts';

type Operator = (request: FuzzRequest, random: Random) => FuzzRequest;

const OPERATORS: readonly { weight: number; name: string; apply: Operator }[] = [
  { weight: 3, name: 'path', apply: mutatePath },
  { weight: 2, name: 'query', apply: mutateQuery },
  { weight: 1, name: 'method', apply: mutateMethod },
  { weight: 2, name: 'headers', apply: mutateHeaders },
  { weight: 4, name: 'json', apply: mutateJson },
  { weight: 2, name: 'bytes', apply: mutateBytes },
  { weight: 1, name: 'base64', apply: mutateBase64 },
  { weight: 0.1, name: 'oversize', apply: oversize },
];
const TOTAL_WEIGHT = OPERATORS.reduce((sum, operator) => sum + operator.weight, 0);

/** One to four mutations of `request`. */
export function mutate(request: FuzzRequest, random: Random): FuzzRequest {
  let mutated = { ...request, headers: { ...request.headers } };
  const count = 1 + (random.chance(0.5) ? 0 : random.chance(0.5) ? 1 : random.int(2, 3));
  for (let i = 0; i < count; i++) {
    let roll = random.next() * TOTAL_WEIGHT;
    const operator = OPERATORS.find((candidate) => (roll -= candidate.weight) < 0) ?? OPERATORS[0];
    mutated = operator!.apply(mutated, random);
  }
  return mutated;
}

function splitUrl(url: string): { path: string; query: string } {
  const mark = url.indexOf('?');
  return mark < 0
    ? { path: url, query: '' }
    : { path: url.slice(0, mark), query: url.slice(mark + 1) };
}

function joinUrl(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

/**
 * A nasty string as it may appear in a URL: its UTF-8 bytes percent-encoded, all of them or
 * only those a URL cannot carry raw. `%` stays as it is, so `%ff` and `%zz` arrive as written.
 */
function inUrl(text: string, random: Random): string {
  const encodeAll = random.chance(0.5);
  let url = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    const raw =
      byte === 0x25 ||
      /[A-Za-z0-9._~-]/.test(char) ||
      (!encodeAll && byte > 0x20 && byte < 0x7f && char !== '?' && char !== '#');
    url += raw ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return url;
}

function mutatePath(request: FuzzRequest, random: Random): FuzzRequest {
  const { path, query } = splitUrl(request.url);
  const segments = path.split('/');
  const at = random.int(1, Math.max(1, segments.length - 1));
  const nasty = inUrl(random.pick(NASTY_STRINGS), random);
  switch (random.int(0, 6)) {
    case 0:
      segments[at] = nasty;
      break;
    case 1:
      segments.splice(at, 0, nasty);
      break;
    case 2:
      segments.splice(at, 1);
      break;
    case 3:
      segments[at] =
        `${segments[at] ?? ''}${random.pick(['/', '//', '/.', '/..', '%2F', '%2f..', ';x=1', '%20', '.json'])}`;
      break;
    case 4:
      segments[at] = (segments[at] ?? '').toUpperCase();
      break;
    case 5:
      segments[at] = [...(segments[at] ?? '')]
        .map((char) =>
          random.chance(0.3) ? `%${char.charCodeAt(0).toString(16).padStart(2, '0')}` : char,
        )
        .join('');
      break;
    default:
      segments.push(nasty);
  }
  const mutated = segments.join('/');
  return { ...request, url: joinUrl(mutated.startsWith('/') ? mutated : `/${mutated}`, query) };
}

function mutateQuery(request: FuzzRequest, random: Random): FuzzRequest {
  const { path, query } = splitUrl(request.url);
  const pairs = query === '' ? [] : query.split('&');
  const value = (): string => inUrl(random.pick(QUERY_VALUES), random);
  switch (random.int(0, 4)) {
    case 0:
      pairs.push(`${random.pick(QUERY_NAMES)}=${value()}`);
      break;
    case 1:
      if (pairs.length > 0) pairs.splice(random.int(0, pairs.length - 1), 1);
      break;
    case 2:
      if (pairs.length > 0) pairs.push(random.pick(pairs));
      else pairs.push(`${random.pick(QUERY_NAMES)}=1`);
      break;
    case 3:
      if (pairs.length > 0) {
        const index = random.int(0, pairs.length - 1);
        pairs[index] = `${(pairs[index] ?? '').split('=')[0] ?? ''}=${value()}`;
      }
      break;
    default:
      pairs.push(random.pick(['=', '&&', '=x', 'a[b]=1', 'a[]=1&a[]=2', 'x', '%3d%26=%26']));
  }
  return { ...request, url: joinUrl(path, pairs.join('&')) };
}

function mutateMethod(request: FuzzRequest, random: Random): FuzzRequest {
  if (random.chance(0.3)) {
    return {
      ...request,
      method: 'POST',
      headers: {
        ...request.headers,
        'x-http-method-override': random.pick([...METHODS, 'patch', 'bogus', '']),
      },
    };
  }
  return { ...request, method: random.pick(METHODS) };
}

function mutateHeaders(request: FuzzRequest, random: Random): FuzzRequest {
  const headers = { ...request.headers };
  switch (random.int(0, 7)) {
    case 0:
      headers['content-type'] = random.pick(CONTENT_TYPES);
      break;
    case 1:
      delete headers['content-type'];
      break;
    case 2:
      delete headers['authorization'];
      break;
    case 3:
      headers['authorization'] = random.pick([
        'Bearer',
        'Bearer pq_unknown-token-of-the-right-shape-0123456789',
        'Basic YWRtaW46YWRtaW4=',
        `Bearer ${'x'.repeat(600)}`,
        'bearer  ' + (headers['authorization'] ?? '').replace(/^Bearer /, ''),
      ]);
      break;
    case 4:
      headers['content-encoding'] = random.pick([
        'gzip',
        'deflate',
        'br',
        'zstd',
        'identity',
        'x-bogus',
        'gzip, gzip',
      ]);
      if (request.body !== undefined && random.chance(0.5)) {
        return { ...request, headers, body: gzipSync(Buffer.from(request.body)) };
      }
      break;
    case 5:
      headers['accept-encoding'] = random.pick(['gzip', 'deflate', 'br', '*', 'identity;q=0']);
      break;
    case 6:
      // Kept and echoed when well-formed (src/server/observability/http-hooks.ts).
      headers['x-request-id'] = random.pick(['', ' ', 'a,b', '../../x', 'x'.repeat(5000), '<b>']);
      break;
    default:
      headers['accept'] = random.pick(['text/html', 'application/xml', '*/*', '']);
  }
  return { ...request, headers };
}

/** A path to a value inside a JSON value: keys and indexes. */
type JsonPath = (string | number)[];

function valuePaths(value: unknown, prefix: JsonPath = [], into: JsonPath[] = []): JsonPath[] {
  into.push(prefix);
  if (prefix.length > 6) return into;
  if (Array.isArray(value))
    value.forEach((item, index) => valuePaths(item, [...prefix, index], into));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) valuePaths(item, [...prefix, key], into);
  }
  return into;
}

/**
 * JSON text of `value` with the value at `path` replaced by the text `replacement` (which
 * may be no JSON.stringify output at all: `1e400`, a lone surrogate escape).
 */
function withRawValue(value: unknown, path: JsonPath, replacement: string): string {
  const marker = '\u0001raw\u0001';
  if (path.length === 0) return replacement;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[path.at(-1)!] = marker;
  return JSON.stringify(copy).replace(JSON.stringify(marker), replacement);
}

function mutateJson(request: FuzzRequest, random: Random): FuzzRequest {
  try {
    const value: unknown = JSON.parse(Buffer.from(request.body ?? '{}').toString('utf8'));
    return withBody(request, mutatedJson(value, random));
  } catch {
    // Not JSON, or nested too deep for JSON.stringify (an earlier mutation): break bytes.
    return mutateBytes(request, random);
  }
}

function mutatedJson(value: unknown, random: Random): string {
  const paths = valuePaths(value);
  const path = random.pick(paths);
  let body: string;
  switch (random.int(0, 5)) {
    case 0:
    case 1:
      body = withRawValue(value, path, random.pick(NASTY_JSON_VALUES));
      break;
    case 2:
      body = withRawValue(value, path, JSON.stringify(random.pick(NASTY_STRINGS)));
      break;
    case 3: {
      // Drop a key, or add an unknown one.
      const target = path.length === 0 ? value : undefined;
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
        const object = { ...(target as Record<string, unknown>) };
        const keys = Object.keys(object);
        if (keys.length > 0 && random.chance(0.5)) delete object[random.pick(keys)];
        else object[random.pick(NASTY_STRINGS) || 'extra'] = 1;
        body = JSON.stringify(object);
      } else body = withRawValue(value, path, '{"unknown":true}');
      break;
    }
    case 4:
      // The value as a string, or a string as a number: a wrong type that looks right.
      body = withRawValue(value, path, JSON.stringify(JSON.stringify(valueAt(value, path)) ?? 'x'));
      break;
    default:
      body = withRawValue(value, path, `[${JSON.stringify(valueAt(value, path)) ?? 'null'}]`);
  }
  return body;
}

function valueAt(value: unknown, path: JsonPath): unknown {
  let at = value;
  for (const key of path) at = (at as Record<string | number, unknown>)[key];
  return at;
}

/** Byte-level damage: flips, inserts (NUL, invalid UTF-8, quotes), cuts and repeats. */
function mutateBytes(request: FuzzRequest, random: Random): FuzzRequest {
  const bytes = Buffer.from(request.body ?? '');
  const at = random.int(0, bytes.length);
  const inserts = [
    Buffer.from([0]),
    Buffer.from([0xff]),
    Buffer.from([0xc3, 0x28]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from('"'),
    Buffer.from('\\'),
    Buffer.from('\\u'),
    Buffer.from('{'),
    Buffer.from(']'),
    Buffer.from(','),
    Buffer.from('\r\n'),
    random.bytes(random.int(1, 16)),
  ];
  let body: Buffer;
  switch (random.int(0, 4)) {
    case 0: {
      body = Buffer.from(bytes);
      if (body.length > 0) body[Math.min(at, body.length - 1)]! ^= 1 << random.int(0, 7);
      break;
    }
    case 1:
      body = Buffer.concat([bytes.subarray(0, at), random.pick(inserts), bytes.subarray(at)]);
      break;
    case 2:
      body = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + random.int(1, 8))]);
      break;
    case 3:
      body = bytes.subarray(0, at);
      break;
    default:
      body = Buffer.concat([bytes, bytes.subarray(at)]);
  }
  return withBody(request, body);
}

function mutateBase64(request: FuzzRequest, random: Random): FuzzRequest {
  const text = Buffer.from(request.body ?? '').toString('utf8');
  const replaced = text.replace(
    /"(payload|payloadBase64)":"[^"]*"/,
    `"$1":"${random.chance(0.02) ? OVERSIZE_BASE64 : JSON.stringify(random.pick(BAD_BASE64)).slice(1, -1)}"`,
  );
  if (replaced === text) return mutateJson(request, random);
  return withBody(request, replaced);
}

let gzipBomb: Buffer | undefined;

/**
 * A body one byte past the limit, a payload one byte past 1 MiB, or 8 MB of JSON gzipped to
 * 8 KB: a body's limit counts its bytes once decompressed.
 */
function oversize(request: FuzzRequest, random: Random): FuzzRequest {
  const roll = random.int(0, 2);
  if (roll === 2) {
    gzipBomb ??= gzipSync(`{"tasks":[{"text":"${'x'.repeat(8_000_000)}"}]}`);
    return withBody(
      { ...request, headers: { ...request.headers, 'content-encoding': 'gzip' } },
      gzipBomb,
    );
  }
  const big =
    roll === 0
      ? `{"tasks":[{"text":"${'x'.repeat(1024 * 1024 + 1)}"}]}`
      : `{"payloadBase64":"${'A'.repeat(2 * 1024 * 1024 + 1)}"}`;
  return withBody(request, big);
}

function withBody(request: FuzzRequest, body: Buffer | string): FuzzRequest {
  const headers = { ...request.headers };
  if (headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return { ...request, headers, body };
}
