/**
 * fast-check arbitraries of hostile requests, built from the route tables themselves: the v1
 * routes' JSON schemas (V1_ROUTES) and the v1beta2 parameter table (V1BETA2_METHODS), with
 * values from ./values.ts. Path parameters are mostly known queues and ids, sometimes
 * nasty; bodies are sometimes damaged as bytes (invalid UTF-8, NUL); a request sometimes
 * carries another method, another content type or another credential.
 */
import fc from 'fast-check';
import { V1_ROUTES } from '../../src/server/routes/v1.ts';
import {
  V1BETA2_METHODS,
  routeUrl,
  type MethodSpec,
} from '../../src/server/routes/v1beta2-methods.ts';
import type { FuzzTokens } from './fuzz-server.ts';
import { FUZZ_QUEUES } from './fuzz-state.ts';
import type { FuzzRequest } from './oracle.ts';
import {
  QUEUE_PATTERN,
  allowed,
  fuzzedValue,
  hostileValue,
  knownIds,
  nastyString,
  rarely,
  toJsonText,
  type Schema,
} from './values.ts';

/** What a request is made of before it becomes bytes. */
export interface RequestDraft {
  method: string;
  path: string;
  query: [string, string][];
  credential: 'admin' | 'producer' | 'consumer' | 'otherAdmin' | 'expired' | 'unknown' | 'none';
  contentType: string | null;
  body: { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'bytes'; bytes: Uint8Array };
  /** Where to damage the body's bytes, if at all: [position fraction, bytes to insert]. */
  damage: [number, readonly number[]] | null;
}

/** A path parameter: a known queue or id, a valid-looking one, or something nasty. */
const pathParam = (known: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 16, arbitrary: known },
    { weight: 2, arbitrary: nastyString.map((text) => encodeURIComponentSafe(text)) },
    { weight: 2, arbitrary: nastyString.map((text) => rawPath(text)) },
  );

/** Percent-encodes the UTF-8 bytes; a lone surrogate becomes U+FFFD's bytes, not a throw. */
export function encodeURIComponentSafe(text: string): string {
  return encodeURIComponent(text.toWellFormed());
}

/** The text with only what a request line cannot carry encoded: `..`, `%zz` and `;` go raw. */
function rawPath(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      byte > 0x20 && byte < 0x7f && byte !== 0x3f && byte !== 0x23
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

const queueParam = pathParam(fc.constantFrom(...FUZZ_QUEUES));
const idParam = pathParam(knownIds);
const tokenNameParam = pathParam(fc.constantFrom('fz-token-1', 'fuzz-consumer', 'nobody'));

/** Mostly the admin's token, so that requests get past authentication to the API itself. */
const credential = fc.oneof(
  { weight: 16, arbitrary: fc.constant<RequestDraft['credential']>('admin') },
  {
    weight: 4,
    arbitrary: fc.constantFrom<RequestDraft['credential']>(
      'producer',
      'consumer',
      'otherAdmin',
      'expired',
      'unknown',
      'none',
    ),
  },
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      null,
      'application/json; charset=utf-16',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    ),
  },
);
const methodFor = (method: string) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constant(method) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    },
  );
/** Damage to the body's bytes, one request in eight: invalid UTF-8, NUL, a stray quote. */
const damage = rarely(
  fc.tuple(
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.constantFrom(
      [0],
      [0xff],
      [0xc3, 0x28],
      [0xed, 0xa0, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x22],
      [0x5c],
    ),
  ),
  8,
);

/** A query string from named arbitraries: each may be left out, repeated or replaced. */
function queryOf(params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<[string, string][]> {
  const entries = Object.entries(params).map(([name, value]) =>
    fc.tuple(
      fc.constant(name),
      fc.oneof({ weight: 9, arbitrary: value }, { weight: 1, arbitrary: nastyString }),
      fc.integer({ min: 0, max: 19 }),
    ),
  );
  const extra = rarely(fc.tuple(nastyString, nastyString), 10);
  return fc.tuple(fc.tuple(...entries), extra).map(([picked, added]) => {
    const pairs: [string, string][] = [];
    for (const [name, value, roll] of picked) {
      if (roll < 17) pairs.push([name, value]);
      if (roll === 19) pairs.push([name, value], [name, value]);
    }
    if (added) pairs.push(added);
    return pairs;
  });
}

function bodyOf(schema: Schema | undefined): fc.Arbitrary<RequestDraft['body']> {
  const json = schema ? fuzzedValue(schema) : fc.oneof(fc.constant({}), hostileValue);
  return fc.oneof(
    { weight: 8, arbitrary: json.map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => ({ kind: 'bytes' as const, bytes })),
    },
  );
}

function draft(
  method: string,
  path: fc.Arbitrary<string>,
  query: fc.Arbitrary<[string, string][]>,
  body: fc.Arbitrary<RequestDraft['body']>,
): fc.Arbitrary<RequestDraft> {
  return fc.record({
    method: methodFor(method),
    path,
    query,
    credential,
    contentType,
    body,
    damage,
  });
}

/** Requests of every v1 route, filled from its schemas. */
export function v1Draft(): fc.Arbitrary<RequestDraft> {
  return fc.oneof(
    ...V1_ROUTES.map((route) => {
      const schema = route.schema as { params?: Schema; querystring?: Schema; body?: Schema };
      const path = fc
        .tuple(queueParam, idParam, tokenNameParam)
        .map(
          ([queue, id, name]) =>
            `/v1${route.url.replace(':queue', queue).replace(':id', id).replace(':name', name)}`,
        );
      const query = queryOf(
        Object.fromEntries(
          Object.entries(schema.querystring?.properties ?? {}).map(([name, field]) => [
            name,
            allowed(field, 0).map(String),
          ]),
        ),
      );
      return draft(
        route.method,
        path,
        query,
        route.method === 'GET' || route.method === 'DELETE'
          ? fc.constant({ kind: 'none' as const })
          : bodyOf(schema.body),
      );
    }),
  );
}

/** The fields of a v1beta2 Task body (what tasks.insert, update and patch read, and more). */
const V1BETA2_TASK: Schema = {
  type: 'object',
  properties: {
    kind: { enum: ['taskqueues#task'] },
    id: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,500}$' },
    queueName: {
      anyOf: [
        { type: 'string', pattern: QUEUE_PATTERN },
        { enum: ['projects/s~fuzzapp/taskqueues/fz-a1'] },
      ],
    },
    payloadBase64: { type: 'string', description: 'web-safe base64' },
    leaseTimestamp: {
      anyOf: [
        { type: 'string', pattern: '^[0-9]{1,19}$' },
        { type: 'integer', minimum: 0 },
      ],
    },
    enqueueTimestamp: { type: 'string', pattern: '^[0-9]{1,19}$' },
    retry_count: { type: 'integer', minimum: 0, maximum: 10 },
    tag: { type: 'string', maxLength: 20 },
  },
};

function parameterValue(spec: MethodSpec['parameters'][string]): fc.Arbitrary<string> {
  switch (spec.type) {
    case 'integer':
      return fc.integer({ min: spec.minimum ?? 0, max: spec.maximum ?? 1000 }).map(String);
    case 'boolean':
      return fc.constantFrom('true', 'false', '1', '0', 'TRUE');
    default:
      return fc.oneof(
        fc.constantFrom('a', 'b', ''),
        fc.constantFrom('kind,items(id,tag)', 'items/id', '*', 'kind'),
      );
  }
}

/** A partial-response selector: a plain one, or one nested up to 8,000 levels. */
const fieldSelector = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom('kind,items(id,tag)', 'items/id', '*', 'kind', 'a/b/c') },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 8000 }), fc.boolean())
      .map(([depth, slashes]) =>
        slashes ? `${'a/'.repeat(depth)}b` : `${'a('.repeat(depth)}b${')'.repeat(depth)}`,
      ),
  },
);

/** Requests of every v1beta2 method, filled from the parameter table. */
export function v1beta2Draft(): fc.Arbitrary<RequestDraft> {
  const project = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom('s~fuzzapp', 'fuzzapp', 'e~fuzzapp', 'example.com:app'),
    },
    { weight: 1, arbitrary: nastyString.map(encodeURIComponentSafe) },
  );
  return fc.oneof(
    ...V1BETA2_METHODS.map((method) => {
      const path = fc
        .tuple(project, queueParam, idParam)
        .map(([p, queue, task]) =>
          routeUrl(method)
            .replace(':project', p)
            .replace(':taskqueue', queue)
            .replace(':task', task),
        );
      const queryParams = Object.fromEntries(
        Object.entries(method.parameters)
          .filter(([, spec]) => spec.location === 'query')
          .map(([name, spec]) => [name, parameterValue(spec)]),
      );
      queryParams['fields'] = fieldSelector;
      const body = method.request === undefined ? bodyOf(undefined) : bodyOf(V1BETA2_TASK);
      return draft(
        method.httpMethod,
        path,
        queryOf(queryParams),
        method.httpMethod === 'GET' ? fc.constant({ kind: 'none' as const }) : body,
      );
    }),
  );
}

/** The draft as a request: query encoded, credential looked up, body written and damaged. */
export function toRequest(draft: RequestDraft, tokens: FuzzTokens): FuzzRequest {
  const headers: Record<string, string> = {};
  if (draft.credential === 'unknown')
    headers['authorization'] = 'Bearer pq_well-formed-but-unknown-0000';
  else if (draft.credential !== 'none')
    headers['authorization'] = `Bearer ${tokens[draft.credential]}`;
  let body: Buffer | undefined;
  if (draft.body.kind === 'json') body = Buffer.from(toJsonText(draft.body.value), 'utf8');
  else if (draft.body.kind === 'bytes') body = Buffer.from(draft.body.bytes);
  if (body !== undefined && draft.damage) {
    const [where, bytes] = draft.damage;
    const at = Math.floor(where * body.length);
    body = Buffer.concat([body.subarray(0, at), Buffer.from(bytes), body.subarray(at)]);
  }
  if (body !== undefined && draft.contentType !== null) headers['content-type'] = draft.contentType;
  const query = draft.query
    .map(([name, value]) => `${encodeURIComponentSafe(name)}=${encodeURIComponentSafe(value)}`)
    .join('&');
  return {
    method: draft.method,
    url: query === '' ? draft.path : `${draft.path}?${query}`,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}
