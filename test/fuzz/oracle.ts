/**
 * What every answer to a hostile request must be, whatever was sent: a 2xx, or a 4xx from
 * the catalog (src/protocol/errors.ts) in the envelope of the API the path belongs to: the
 * native `{ error: { code, message, retryable } }`, or Google's `{ error: { errors: [...],
 * code, message } }` under /taskqueue/v1beta2/projects. Never a 5xx, never a body that is not
 * JSON where JSON is announced.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { ERROR_CATALOG, isErrorCode } from '../../src/protocol/errors.ts';
import { V1BETA2_PREFIX } from '../../src/server/app.ts';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer | string;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** As sent, before any content decoding. */
  body: Buffer;
  /**
   * The URL as the server read it, where that differs from the one sent: `app.inject()`
   * resolves `.` and `..` segments the way a browser would (a socket delivers them as sent).
   */
  url?: string;
}

/** Google's reasons, and the status each may come with (App Engine's, kept by pullq). */
const GOOGLE_REASONS: Readonly<Record<string, readonly number[]>> = {
  invalid: [400],
  required: [400],
  invalidParameter: [400],
  parseError: [400],
  duplicate: [400],
  authError: [401],
  forbidden: [403],
  notFound: [404],
  httpMethodNotAllowed: [405],
  requestTimeout: [408],
  uploadTooLarge: [413],
  headersTooLarge: [431],
  unsupportedMediaType: [415],
  rateLimitExceeded: [429],
};

/** Why the answer breaks the rules, or null when it keeps them. */
export function violation(request: FuzzRequest, answer: RawAnswer): string | null {
  const { status } = answer;
  const is2xx = status >= 200 && status < 300;
  if (!is2xx && (status < 400 || status >= 500)) return `status ${status}`;
  const noBody = request.method.toUpperCase() === 'HEAD' || status === 204;
  if (noBody) {
    return answer.body.length === 0 ? null : `a ${status} to ${request.method} with a body`;
  }
  let text: string;
  try {
    text = decoded(answer).toString('utf8');
  } catch (error) {
    return `the body does not decode as its content-encoding says: ${String(error)}`;
  }
  const type = header(answer, 'content-type') ?? '';
  if (is2xx) {
    if (!type.startsWith('application/json') || text === '') return null;
    return parses(text) ? null : `a ${status} whose JSON body does not parse`;
  }
  if (!type.startsWith('application/json')) return `a ${status} of type ${JSON.stringify(type)}`;
  const body = parses(text) ? (JSON.parse(text) as unknown) : undefined;
  if (body === undefined) return `a ${status} whose body is not JSON: ${text.slice(0, 200)}`;
  if (status === 401 && !/^Bearer\b/.test(header(answer, 'www-authenticate') ?? '')) {
    return '401 without WWW-Authenticate: Bearer';
  }
  return (answer.url ?? request.url).startsWith(V1BETA2_PREFIX)
    ? googleEnvelopeProblem(status, body)
    : nativeEnvelopeProblem(status, body, answer);
}

function nativeEnvelopeProblem(status: number, body: unknown, answer: RawAnswer): string | null {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  if (typeof error !== 'object' || error === null) return 'no native error envelope';
  const code = error['code'];
  if (!isErrorCode(code)) return `code ${JSON.stringify(code)} is not in the catalog`;
  if (ERROR_CATALOG[code].status !== status) return `code ${code} with status ${status}`;
  if (error['retryable'] !== ERROR_CATALOG[code].retryable) return `${code}: wrong retryable`;
  if (typeof error['message'] !== 'string' || error['message'] === '') return 'no message';
  const details = error['details'];
  if (details !== undefined && (typeof details !== 'object' || details === null)) {
    return 'details is not an object';
  }
  if (status === 405 && header(answer, 'allow') === undefined) return '405 without Allow';
  return null;
}

function googleEnvelopeProblem(status: number, body: unknown): string | null {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  if (typeof error !== 'object' || error === null) return 'no Google error envelope';
  if (error['code'] !== status) return `error.code ${String(error['code'])} with status ${status}`;
  const errors = error['errors'];
  if (!Array.isArray(errors) || errors.length !== 1) return 'errors is not one item';
  const item = errors[0] as Record<string, unknown>;
  const reason = String(item['reason']);
  if (item['domain'] !== 'global') return `domain ${String(item['domain'])}`;
  if (!GOOGLE_REASONS[reason]?.includes(status)) {
    return `reason ${reason} with status ${status}`;
  }
  if (typeof error['message'] !== 'string' || error['message'] === '') return 'no message';
  if (item['message'] !== error['message']) return 'the two messages differ';
  return null;
}

function decoded(answer: RawAnswer): Buffer {
  const encoding = header(answer, 'content-encoding');
  if (encoding === 'gzip') return gunzipSync(answer.body);
  if (encoding === 'deflate') return inflateSync(answer.body);
  return answer.body;
}

function header(answer: RawAnswer, name: string): string | undefined {
  const value = answer.headers[name];
  return value === undefined ? undefined : String(value);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The request in one line: method, URL and body cut to 1,000 and 2,048 characters, headers. */
export function describeRequest(request: FuzzRequest): string {
  const body =
    request.body === undefined
      ? ''
      : ` body(${Buffer.byteLength(request.body)} B)=${JSON.stringify(
          Buffer.from(request.body).subarray(0, 2048).toString('latin1'),
        )}`;
  const url =
    request.url.length <= 1000
      ? JSON.stringify(request.url)
      : `${JSON.stringify(request.url.slice(0, 1000))}... (${request.url.length} characters)`;
  return `${request.method} ${url} headers=${JSON.stringify(request.headers)}${body}`;
}
