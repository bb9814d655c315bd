/**
 * The server's app factory: HTTP over any Backend. Pure (no listen, no signals, no env): tests
 * build it on a memory backend and call `app.inject()` or listen on port 0.
 *
 * Route handlers parse, call the backend, and serialize; they hold no policy. Every failure
 * leaves as a catalog error: the Google envelope under /taskqueue/v1beta2, the native
 * `{ error: { code, message, retryable } }` everywhere else.
 *
 * The routes see the backend through ./observability/ (counts, history, Prometheus metrics);
 * every request gets a request id, echoed in `X-Request-Id` and on its log lines.
 */
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import compress from '@fastify/compress';
import Fastify, {
  LogController,
  type ConnectionError,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { systemClock, type Backend, type Clock } from '../backends/backend.ts';
import { PullqError, type ErrorCode } from '../protocol/errors.ts';
import { googleError } from '../protocol/v1beta2.ts';
import { redactUrl, registerAuth, type AuthOptions, type ServerAuth } from './auth.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { requestIdGenerator } from './observability/http-hooks.ts';
import {
  createObservability,
  type ObservabilityOptions,
  type ServerObservability,
} from './observability/observability.ts';
import { healthRoutes } from './routes/health.ts';
import { openapiRoutes, v1Routes } from './routes/v1.ts';
import { v1beta2Routes } from './routes/v1beta2.ts';

export interface ServerOptions {
  backend: Backend;
  /** Create a queue on the first insert into it (Celery-style) instead of answering 404. */
  autoCreateQueues?: boolean;
  /** Largest request body in bytes (a batch insert); single-task routes use less. */
  bodyLimit?: number;
  /** A pino logger; none means silent. */
  logger?: Logger;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  https?: { cert: Buffer; key: Buffer };
  /** Turns relative delays into ETAs; give it the backend's clock. Default: the system clock. */
  clock?: Clock;
  /**
   * Require a token on every route but the probes and the API documents (src/server/auth.ts).
   * Absent: no authentication at all (`--no-auth`). Token expiry reads `clock`.
   */
  auth?: AuthOptions;
  /** Metrics and history settings (./observability/observability.ts); defaults suit a server. */
  observability?: ObservabilityOptions;
  /** Limits on slow, idle and too many clients; each one left out takes its default. */
  connections?: Partial<ConnectionLimits>;
}

/**
 * What a slow or greedy client may hold (test/e2e/slow-clients.test.ts). A slowloris client
 * sending a header byte every few seconds, or a body one byte at a time, is answered 408
 * and closed once its time is up; Node checks every `checkIntervalMs`.
 */
export interface ConnectionLimits {
  /**
   * All of a request's headers must arrive within this (ms) of the connection opening, or
   * of the request's first byte on a kept-alive connection. Default 20 s: headers are a few
   * hundred bytes, which take well under a second even on a poor mobile link; Node's own 60 s
   * lets one client tie up a connection three times as long.
   */
  headersTimeoutMs: number;
  /** The whole request, body included (ms). Default 120 s: a 32 MiB batch at 2.5 Mbit/s. */
  requestTimeoutMs: number;
  /**
   * An idle kept-alive connection is closed after this (ms). Default 72 s, past the 60 s idle
   * timeout of common load balancers, so that they, not pullq, close the connections they pool.
   */
  keepAliveTimeoutMs: number;
  /**
   * Open connections at most, long-polls included; a connection past it is closed at once,
   * and idle kept-alive connections are closed to make room for the next ones. Default 10,000:
   * under the usual limit of open files (often 65,536; at least 20,000 here), and about
   * 10 KiB of memory each when idle.
   */
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
};

export interface ServerContext {
  /** The store, counted by ./observability/ on the way. */
  backend: Backend;
  clock: Clock;
  autoCreateQueues: boolean;
  bodyLimit: number;
  /** null: the server runs without authentication. */
  auth: ServerAuth | null;
  /** Set when shutdown starts: readiness fails and long-polls end. */
  shutdown: AbortSignal;
}

export const V1BETA2_PREFIX = '/taskqueue/v1beta2/projects';

/** Default body limit: a batch of tasks; a single task's payload is limited to 1 MiB anyway. */
export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;

export interface PullqServer {
  app: FastifyInstance;
  /** Ends long-polls and fails readiness; `app.close()` then waits for in-flight requests. */
  beginShutdown(): void;
  /** Counts, history and the Prometheus text; `app.close()` stops its sampler. */
  observability: ServerObservability;
}

export async function buildServer(options: ServerOptions): Promise<PullqServer> {
  const shutdown = new AbortController();
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    // Node refuses it too, with a message about its own parameter names.
    throw new RangeError(
      `the headers timeout (${limits.headersTimeoutMs} ms) must not be longer than the request timeout (${limits.requestTimeoutMs} ms)`,
    );
  }
  const app = Fastify({
    loggerInstance: options.logger,
    // Fastify's two lines per request at info would cost more than many requests themselves;
    // ./observability/http-hooks.ts writes one at debug instead.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    genReqId: requestIdGenerator(),
    bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // No inactivity timeout: a long-poll is silent for up to 60 s. Slow clients are bounded
    // by the header and request timeouts instead (ConnectionLimits).
    connectionTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 600 },
    // A path the router cannot read (bad percent-encoding, a segment past maxParamLength)
    // answers from the catalog too, not in Fastify's own envelope (414 is not in it).
    frameworkErrors: (error, request, reply) =>
      void drainBody(request.raw).then(() => sendError(toPullqError(error), request, reply)),
    // Bytes that are not HTTP, headers past 16 KiB, a request out of time: answered from the
    // catalog (Fastify's default answers in an envelope of its own).
    clientErrorHandler: answerClientError,
    serverFactory: (handler) => {
      const listener = (req: IncomingMessage, res: ServerResponse): void =>
        handler(overrideMethod(req), res);
      const timeouts = {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: checkIntervalMs(limits),
      };
      const server = options.https
        ? createHttpsServer({ ...options.https, ...timeouts }, listener)
        : createServer(timeouts, listener);
      return capConnections(server, limits.maxConnections);
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  const clock = options.clock ?? systemClock;
  const observability = createObservability(
    options.backend,
    clock,
    options.observability ?? {},
    (error) => app.log.warn({ err: error }, 'backlog sampling failed; the next round retries'),
  );
  // First of all hooks: a request refused by auth still gets its id.
  observability.registerHooks(app);
  const context: ServerContext = {
    backend: observability.backend,
    clock,
    autoCreateQueues: options.autoCreateQueues ?? true,
    bodyLimit,
    // Before the routes: their hooks are fixed when they are registered.
    auth: options.auth ? registerAuth(app, options.auth, clock) : null,
    shutdown: shutdown.signal,
  };

  // Old clients may send form bodies (App Engine's lease accepted them); read them as objects.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  await app.register(compress, { global: true, threshold: 1024, encodings: ['gzip', 'deflate'] });

  app.setErrorHandler((error: FastifyError, request, reply) =>
    sendError(toPullqError(error), request, reply),
  );
  // Every answer waits for the body the route did not read (drainBody).
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (bodyReceived(request.raw)) return done(null, payload);
    drainBody(request.raw).then(() => done(null, payload), done);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new PullqError(
        'route_not_found',
        `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`,
      ),
      request,
      reply,
    ),
  );

  await app.register(healthRoutes, { context });
  await app.register(v1Routes, { context, prefix: '/v1' });
  await app.register(openapiRoutes);
  await app.register(v1beta2Routes, { context });
  await app.register(dashboardRoutes, { context });
  await observability.registerRoutes(app);

  app.addHook('onClose', () => observability.stop());
  observability.start();
  return { app, beginShutdown: () => shutdown.abort(), observability };
}

/** App Engine's Java client sends `POST` with `X-HTTP-Method-Override: PATCH`; route by the override. */
function overrideMethod(req: IncomingMessage): IncomingMessage {
  const override = req.headers['x-http-method-override'];
  if (
    req.method === 'POST' &&
    typeof override === 'string' &&
    /^(PATCH|PUT|DELETE|GET)$/i.test(override)
  ) {
    req.method = override.toUpperCase();
  }
  return req;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
  FST_ERR_VALIDATION: 'invalid_argument',
  FST_ERR_BAD_URL: 'malformed_request',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid_argument',
};

/** Maps whatever a handler or Fastify threw onto the catalog. */
export function toPullqError(error: unknown): PullqError {
  if (error instanceof PullqError) return error;
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown[] };
  if (fastifyError.validation) {
    const where = fastifyError.validationContext ?? 'request';
    return new PullqError('invalid_argument', `${where}: ${fastifyError.message ?? 'invalid'}`, {
      details: { in: where },
    });
  }
  const code = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (code) return new PullqError(code, fastifyError.message ?? code);
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new PullqError(
      'malformed_request',
      `the body is not valid JSON: ${fastifyError.message ?? ''}`,
    );
  }
  if (fastifyError.statusCode === 413)
    return new PullqError('payload_too_large', 'the request body is too large');
  if (fastifyError.statusCode === 415) {
    return new PullqError(
      'unsupported_media_type',
      fastifyError.message ?? 'unsupported content type',
    );
  }
  return new PullqError('internal', 'the server failed unexpectedly; see its log', {
    cause: error,
  });
}

/**
 * Unread body past which an answer goes out at once. Up to it the body is read and thrown
 * away first: answering and closing (as Fastify does after a 413, or as a client asks with
 * `Connection: close`) while the client is still sending makes the client's TCP stack reset
 * the connection and drop the answer. Measured before this: 4 fetches in 12 of a 34 MB batch
 * to the 32 MiB limit got EPIPE instead of 413; a GET /healthz with a 2 MiB body, nothing.
 */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;

/** Whether the body has all arrived (`complete`) or been read to its end (`app.inject()`'s
 * requests know only the latter), or never will (the connection is gone). */
function bodyReceived(raw: IncomingMessage): boolean {
  return raw.complete || raw.readableEnded || raw.destroyed;
}

/** Resolves once the request's body has all arrived (thrown away), or MAX_DRAINED_BYTES of it. */
function drainBody(raw: IncomingMessage): Promise<void> {
  if (bodyReceived(raw)) return Promise.resolve();
  if (Number(raw.headers['content-length']) > MAX_DRAINED_BYTES) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let drained = 0;
    const done = (): void => {
      raw.off('data', onData).off('end', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      drained += chunk.length;
      if (drained > MAX_DRAINED_BYTES) done();
    };
    raw.on('data', onData).once('end', done).once('close', done);
    // A decompressing stream may hold the body back; the bytes are thrown away anyway.
    raw.unpipe();
    raw.resume();
  });
}

function sendError(error: PullqError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // request.log: the line carries the request id.
  if (error.code === 'internal') {
    request.log.error({ err: error.cause, url: redactUrl(request.url) }, 'request failed');
  } else if (error.status >= 500) {
    request.log.warn(
      { code: error.code, url: redactUrl(request.url), message: error.message },
      'request failed',
    );
  }
  if (error.code === 'unauthenticated') reply.header('www-authenticate', 'Bearer');
  const { status, body } = request.url.startsWith(V1BETA2_PREFIX)
    ? googleError(error)
    : { status: error.status, body: error.toJSON() };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/**
 * How often Node looks for requests past their header or request timeout: a quarter of the
 * shorter one, so a slow client is closed at most 25% late, between 0.1 and 5 s (Node's own
 * 30 s would let a 20 s header timeout run to 50 s). Each check walks the requests in flight.
 */
function checkIntervalMs(limits: ConnectionLimits): number {
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return Math.min(5_000, Math.max(100, Math.floor(shorter / 4)));
}

/** Idle kept-alive connections are closed at most this often when the cap is reached. */
const MAKE_ROOM_EVERY_MS = 1000;

/**
 * Past `max` open connections Node closes each new one at once ('drop'). Idle kept-alive
 * connections are then closed too, so that a flood of idle ones cannot lock out the clients
 * that come next: a client of an idle connection opens a new one when it needs it.
 */
function capConnections<T extends Server>(server: T, max: number): T {
  server.maxConnections = max;
  let lastRoomMade = -Infinity;
  server.on('drop', () => {
    const now = performance.now();
    if (now - lastRoomMade < MAKE_ROOM_EVERY_MS) return;
    lastRoomMade = now;
    server.closeIdleConnections();
  });
  return server;
}

/** What Node's HTTP parser and timers report, as a status and a catalog error. */
function clientErrorAnswer(code: string | undefined): { status: number; error: PullqError } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      // 408 is what clients and proxies understand; the catalog has no code of that status.
      return {
        status: 408,
        error: new PullqError('timeout', 'the request did not arrive in time; send it again'),
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: new PullqError('payload_too_large', 'the request headers are larger than 16 KiB'),
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        error: new PullqError('payload_too_large', 'the chunk extensions are too large'),
      };
    default:
      return {
        status: 400,
        error: new PullqError(
          'malformed_request',
          `the request is not valid HTTP/1.1${code?.startsWith('HPE_') ? ` (${code})` : ''}`,
        ),
      };
  }
}

/**
 * Answers what Node could not read as a request, then closes the connection (as Node's own
 * handler does). The envelope is Google's when the bytes name a v1beta2 path.
 */
function answerClientError(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already under way on this connection cannot be followed by another.
  const underWay = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && underWay?.headersSent !== true) {
    const { status, error: pullqError } = clientErrorAnswer(error.code);
    // Fastify types it as a Buffer's JSON form; Node hands the bytes themselves (or nothing).
    const raw = error.rawPacket as unknown;
    const v1beta2 =
      Buffer.isBuffer(raw) && raw.subarray(0, 64).toString('latin1').includes(` ${V1BETA2_PREFIX}`);
    const google = googleError(pullqError).body;
    // Google's envelope repeats the status, which is the HTTP layer's here (408, 431).
    google.error.code = status;
    const body = JSON.stringify(v1beta2 ? google : pullqError.toJSON());
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export type { IncomingMessage, ServerResponse };
