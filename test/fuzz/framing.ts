/**
 * Requests as the bytes on the wire, well framed or not. `wellFramed` writes what any HTTP
 * client would; `badlyFramed` breaks the framing itself: chunked encoding gone wrong, two
 * Content-Lengths or one beside Transfer-Encoding (request smuggling), bytes no header may
 * hold, an invalid request line, headers past Node's 16 KiB, a request cut short.
 */
import type { FuzzRequest } from './oracle.ts';
import type { Random } from './random.ts';

export interface Framed {
  /** What this kind of damage is called, for the report of a failure. */
  kind: string;
  bytes: Buffer;
  /** The methods of the requests in `bytes`, in order. */
  methods: string[];
  /**
   * Whether the answer must be the strict one of the request's API (a well-framed request);
   * otherwise any catalogued 4xx in either envelope will do, or no answer before the close.
   */
  strict: boolean;
}

function head(request: FuzzRequest, extra: string[], connection = 'close'): string {
  const lines = [
    `${request.method} ${request.url} HTTP/1.1`,
    'Host: 127.0.0.1',
    `Connection: ${connection}`,
  ];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
  return `${[...lines, ...extra].join('\r\n')}\r\n\r\n`;
}

function bodyOf(request: FuzzRequest): Buffer {
  return request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
}

/** The request as any HTTP client would send it, with a Content-Length (or chunked). */
export function wellFramed(request: FuzzRequest, random: Random, connection = 'close'): Framed {
  const body = bodyOf(request);
  if (body.length > 0 && random.chance(0.2)) {
    return {
      kind: 'chunked',
      bytes: Buffer.concat([
        Buffer.from(head(request, ['Transfer-Encoding: chunked'], connection)),
        chunked(body, random),
      ]),
      methods: [request.method],
      strict: true,
    };
  }
  const length =
    body.length > 0 || request.method !== 'GET' ? [`Content-Length: ${body.length}`] : [];
  return {
    kind: 'plain',
    bytes: Buffer.concat([Buffer.from(head(request, length, connection)), body]),
    methods: [request.method],
    strict: true,
  };
}

function chunked(body: Buffer, random: Random): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const size = Math.min(body.length - at, random.int(1, 64));
    parts.push(
      Buffer.from(`${size.toString(16)}\r\n`),
      body.subarray(at, at + size),
      Buffer.from('\r\n'),
    );
    at += size;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

type Damage = (request: FuzzRequest, random: Random) => Buffer;

const DAMAGES: Record<string, Damage> = {
  'chunk size not hex': (r) =>
    Buffer.from(`${head(r, ['Transfer-Encoding: chunked'])}zz\r\nabc\r\n0\r\n\r\n`),
  'chunk size overflows': (r) =>
    Buffer.from(
      `${head(r, ['Transfer-Encoding: chunked'])}ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
    ),
  'chunk without its CRLF': (r) =>
    Buffer.from(`${head(r, ['Transfer-Encoding: chunked'])}3\r\nabcdef0\r\n\r\n`),
  'no last chunk': (r) => Buffer.from(`${head(r, ['Transfer-Encoding: chunked'])}3\r\nabc\r\n`),
  'huge chunk extension': (r) =>
    Buffer.from(
      `${head(r, ['Transfer-Encoding: chunked'])}3;${'x'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`,
    ),
  'Content-Length and chunked': (r) =>
    Buffer.concat([
      Buffer.from(head(r, ['Content-Length: 5', 'Transfer-Encoding: chunked'])),
      Buffer.from('0\r\n\r\nGET /v1/tokens HTTP/1.1\r\n\r\n'),
    ]),
  'two Content-Lengths': (r) =>
    Buffer.concat([Buffer.from(head(r, ['Content-Length: 2', 'Content-Length: 7'])), bodyOf(r)]),
  'Content-Length short': (r) => {
    const body = bodyOf(r);
    return Buffer.concat([
      Buffer.from(head(r, [`Content-Length: ${Math.max(0, body.length - 3)}`])),
      body,
    ]);
  },
  'Content-Length long': (r) =>
    Buffer.concat([Buffer.from(head(r, [`Content-Length: ${bodyOf(r).length + 10}`])), bodyOf(r)]),
  'Content-Length not a number': (r) =>
    Buffer.concat([Buffer.from(head(r, ['Content-Length: 1e3'])), bodyOf(r)]),
  'negative Content-Length': (r) =>
    Buffer.concat([Buffer.from(head(r, ['Content-Length: -1'])), bodyOf(r)]),
  'unknown transfer coding': (r) =>
    Buffer.concat([
      Buffer.from(head(r, ['Transfer-Encoding: gzip, chunked, identity'])),
      bodyOf(r),
    ]),
  'NUL in a header value': (r) => Buffer.from(head(r, ['X-Fuzz: a\u0000b'])),
  'bare CR in a header value': (r) => Buffer.from(head(r, ['X-Fuzz: a\rb'])),
  'obs-fold': (r) => Buffer.from(head(r, ['X-Fuzz: a', ' folded'])),
  'space before the colon': (r) => Buffer.from(head(r, ['X-Fuzz : a'])),
  'bad header name': (r) => Buffer.from(head(r, ['X(Fuzz): a'])),
  'header of invalid UTF-8': (r) =>
    Buffer.concat([
      Buffer.from(head(r, []).slice(0, -2)),
      Buffer.from([0x58, 0x3a, 0x20, 0xc3, 0x28, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]),
    ]),
  'headers past 16 KiB': (r) => Buffer.from(head(r, [`X-Fuzz: ${'a'.repeat(17_000)}`])),
  'invalid UTF-8 in the path': (r) =>
    Buffer.concat([
      Buffer.from(`${r.method} /v1/queues/`),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from(head(r, []).slice(head(r, []).indexOf(' HTTP/1.1'))),
    ]),
  'NUL in the path': (r) =>
    Buffer.from(head({ ...r, url: `${r.url.split('?')[0] ?? ''}\u0000x` }, [])),
  'space in the path': (r) => Buffer.from(head({ ...r, url: `${r.url} x` }, [])),
  'a path past 16 KiB': (r) =>
    Buffer.from(head({ ...r, url: `/v1/queues/${'a'.repeat(17_000)}` }, [])),
  'absolute-form target': (r) => Buffer.from(head({ ...r, url: `http://127.0.0.1${r.url}` }, [])),
  'asterisk target': (r) => Buffer.from(head({ ...r, method: 'OPTIONS', url: '*' }, [])),
  'no leading slash': (r) => Buffer.from(head({ ...r, url: r.url.replace(/^\//, '') }, [])),
  'lower-case method': (r) => Buffer.from(head({ ...r, method: r.method.toLowerCase() }, [])),
  'invalid method': (r) => Buffer.from(head({ ...r, method: 'G{T' }, [])),
  CONNECT: (r) => Buffer.from(head({ ...r, method: 'CONNECT', url: '127.0.0.1:1' }, [])),
  'HTTP/1.0': (r) =>
    Buffer.concat([
      Buffer.from(
        head(r, [`Content-Length: ${bodyOf(r).length}`]).replace(' HTTP/1.1', ' HTTP/1.0'),
      ),
      bodyOf(r),
    ]),
  'HTTP/2.0 on HTTP/1 framing': (r) => Buffer.from(head(r, []).replace(' HTTP/1.1', ' HTTP/2.0')),
  'HTTP/0.9': (r) => Buffer.from(`GET ${r.url}\r\n`),
  'no version': (r) => Buffer.from(head(r, []).replace(' HTTP/1.1', '')),
  'LF line ends': (r) => Buffer.from(head(r, []).replace(/\r\n/g, '\n')),
  'HTTP/2 preface': () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  'TLS hello': (_r, random) =>
    Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), random.bytes(60)]),
  'random bytes': (_r, random) => random.bytes(random.int(1, 300)),
  'garbage after the request': (r) =>
    Buffer.concat([
      Buffer.from(head(r, ['Content-Length: 0'], 'keep-alive')),
      Buffer.from('\u0000\u0001 not http\r\n\r\n'),
    ]),
};

export const DAMAGE_KINDS = Object.keys(DAMAGES);

/** The request with its framing broken one way or another. */
export function badlyFramed(request: FuzzRequest, random: Random): Framed {
  const kind = random.pick(DAMAGE_KINDS);
  return { kind, bytes: DAMAGES[kind]!(request, random), methods: [request.method], strict: false };
}

/** A well-framed request cut at a random byte: the server sees the end of the stream there. */
export function truncated(request: FuzzRequest, random: Random): Framed {
  const whole = wellFramed(request, random).bytes;
  return {
    kind: 'truncated',
    bytes: whole.subarray(0, random.int(1, Math.max(1, whole.length - 1))),
    methods: [request.method],
    strict: false,
  };
}

/** Two requests in one write, the first on a kept-alive connection. */
export function pipelined(first: FuzzRequest, second: FuzzRequest, random: Random): Framed {
  const a = wellFramed(first, random, 'keep-alive');
  const b = wellFramed(second, random);
  return {
    kind: 'pipelined',
    bytes: Buffer.concat([a.bytes, b.bytes]),
    methods: [first.method, second.method],
    strict: true,
  };
}
