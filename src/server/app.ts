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
import type { IncomingMessage, ServerResponse } from 'node:http';
import compress from '@fastify/compress';
import Fastify, {
  LogController,
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
import {
  DEFAULT_CONNECTION_LIMITS,
  answerClientError,
  bodyReceived,
  createHttpServer,
  drainBody,
  type ConnectionLimits,
} from './connections.ts';
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
  /** Limits on slow, idle and too many clients (./connections.ts); each left out: its default. */
  connections?: Partial<ConnectionLimits>;
}

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
    serverFactory: (handler) =>
      createHttpServer(limits, options.https, (req, res) => handler(overrideMethod(req), res)),
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

function sendError(error: PullqError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // request.log: the line carries the request id.
  if (error.code === 'internal' && clientWentAway(error.cause)) {
    request.log.debug({ url: redactUrl(request.url) }, 'the client went away before its answer');
  } else if (error.code === 'internal') {
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
 * A compressed answer's stream cut off because the client closed the connection: nothing
 * failed in the server. (The socket fuzzer saw it logged as an error, 5 times in 20 for a
 * client that half-closes after asking for the discovery document gzipped.)
 */
function clientWentAway(cause: unknown): boolean {
  return (cause as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export type { IncomingMessage, ServerResponse };
