/**
 * http-transport: what the HTTP backends (http.ts, v1beta2-http.ts) share: one JSON request
 * over undici, a request that got no answer as a catalog error, and an error answer's body.
 */
import { Pool, type Dispatcher } from 'undici';
import { PullqError } from '../protocol/errors.ts';

/** Socket-level failures: the request may or may not have reached the server. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface JsonRequest {
  origin: string;
  /** The path and its query. */
  path: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  /** Sent as JSON; none when undefined. */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** How long to wait for the headers, and again for the body. */
  timeoutMs: number;
}

/**
 * Sends one request and reads its whole answer as text, whatever the status. A request that
 * gets no answer throws `transportError(error, where, closed())`; `closed` is asked then, as
 * close() may be what ended it.
 */
export async function sendRequest(
  dispatcher: Dispatcher,
  request: JsonRequest,
  where: string,
  closed: () => boolean,
): Promise<{ status: number; text: string }> {
  try {
    const response = await dispatcher.request({
      origin: request.origin,
      path: request.path,
      method: request.method,
      headers: request.headers,
      body: request.body === undefined ? null : JSON.stringify(request.body),
      signal: request.signal ?? null,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
    });
    return { status: response.statusCode, text: await response.body.text() };
  } catch (error) {
    throw transportError(error, where, closed());
  }
}

/**
 * A request that failed before its answer was read, as a catalog error: `timeout` or
 * `unavailable` (both retryable) when the code says so, or when the backend was closed under
 * the request; `internal` otherwise. `where` is `<METHOD> <url without query>`.
 */
export function transportError(error: unknown, where: string, closed: boolean): PullqError {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new PullqError('timeout', `${where} took too long: ${message}`, {
      cause: error,
      details: { code },
    });
  }
  if ((code !== undefined && UNAVAILABLE_CODES.has(code)) || closed) {
    return new PullqError('unavailable', `${where} failed: ${message}`, {
      cause: error,
      details: { code: code ?? null },
    });
  }
  return new PullqError('internal', `${where} failed: ${message}`, { cause: error });
}

/** An error answer's body: its JSON if it has any, else the text as it came. */
export function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The system or undici code of a failure; connecting to every address of a host can fail
 * as an AggregateError whose parts carry the code. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined ? undefined : errorCode(cause);
}

/** What both HTTP backends are built from: their pool, the headers of every request, a timeout. */
export interface HttpClient {
  dispatcher: Dispatcher;
  /** Whether close() must close the dispatcher (it is not the caller's). */
  ownsDispatcher: boolean;
  headers: Record<string, string>;
  jsonHeaders: Record<string, string>;
  timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function httpClient(
  origin: string,
  options: {
    token?: string | undefined;
    headers?: Record<string, string> | undefined;
    dispatcher?: Dispatcher | undefined;
    timeoutMs?: number | undefined;
  },
): HttpClient {
  const headers = {
    accept: 'application/json',
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    ...options.headers,
  };
  return {
    // Undici never pipelines POSTs, and a long-poll at the head of a pipeline would hold
    // every request behind it: keep-alive connections, one request each, as many as needed.
    dispatcher: options.dispatcher ?? new Pool(origin, { pipelining: 1 }),
    ownsDispatcher: options.dispatcher === undefined,
    headers,
    jsonHeaders: { ...headers, 'content-type': 'application/json' },
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}
