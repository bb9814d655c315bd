/**
 * Authentication and access control for every route (docs/protocol.md, "Authentication").
 *
 * - onRequest, before any body is read: find the credential (`Authorization: Bearer`, or on
 *   v1beta2 routes `?oauth_token=` / `?key=`), verify it, apply the rate limit, and check
 *   the route's permission when the path (or, for GET /v1/stats/history, the query) names the
 *   queue.
 * - preHandler, once the body is parsed: check the queues a body names (createQueue,
 *   updateQueue's deadLetterQueue).
 *
 * Each route declares what it does in its `config.auth` (a `RouteAuth`); a route that declares
 * nothing is for admins on `*` only, so a route added without thought fails closed.
 *
 * Nothing here logs, and no error message carries the credential, not even a part of it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ROLE_ACTIONS, allows, type Action } from '../auth/permissions.ts';
import type { TokenStore } from '../auth/token-store.ts';
import {
  hashToken,
  hashesEqual,
  isExpired,
  isWellFormedToken,
  type TokenRecord,
} from '../auth/tokens.ts';
import type { Clock } from '../backends/backend.ts';
import { PullqError } from '../protocol/errors.ts';
import { DISCOVERY_REST_PATH } from './discovery/v1beta2-document.ts';
import { RateLimiter, rateLimited } from './rate-limit.ts';

export interface AuthOptions {
  /** Where tokens are looked up: the server's backend, when it keeps tokens. */
  tokens: TokenStore;
  /** Requests per second per token name; absent: no limit. */
  rateLimitPerSecond?: number;
}

/** What a route does, in its `config.auth`. */
export interface RouteAuth {
  /** `any`: any valid token (list queues, which shows only the queues the token covers). */
  action: Action | 'any';
  /** The path parameter that names the queue. */
  queueParam?: string;
  /**
   * The query parameter that names the queue, when the route also answers without one: then
   * the token needs a role with `action` and the route answers only for the queues the token
   * covers (GET /v1/stats/history sums them).
   */
  queueQuery?: string;
  /** Body fields that name queues too; checked once the body is parsed. */
  bodyQueues?: readonly string[];
}

/** What the routes see of authentication: null when the server runs without it. */
export interface ServerAuth {
  tokens: TokenStore;
  /** Drops verified tokens from the cache (after a revocation). */
  forgetVerified(): void;
}

/** The dashboard's static files are public: the page signs in with a token and sends it with
 * each API request, which is checked as any other. */
function isDashboardAsset(url: string): boolean {
  return url === '/ui' || url.startsWith('/ui/');
}

/** Open to every caller: probes, and the documents that describe the APIs. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/openapi.json',
  DISCOVERY_REST_PATH,
  '/discovery/v1/apis',
]);

/** The v1beta2 routes, where Google clients may pass the token in the query string. */
const V1BETA2_PATH = '/taskqueue/v1beta2/';

const UNDECLARED: RouteAuth = { action: 'server' };

/** Prometheus `/metrics` names every queue and token-free counts of all of them: admins on `*`
 * only (or no token at all on the listener of `pullq serve --metrics-port`). */
export const METRICS_AUTH: RouteAuth = { action: 'server' };
/** Unknown paths answer 404 to any valid token, and 401 to the rest. */
const NOT_FOUND: RouteAuth = { action: 'any' };

const tokenOfRequest = new WeakMap<FastifyRequest, TokenRecord>();

/** The verified token of a request; undefined when the server runs without auth. */
export function tokenOf(request: FastifyRequest): TokenRecord | undefined {
  return tokenOfRequest.get(request);
}

export function registerAuth(app: FastifyInstance, options: AuthOptions, clock: Clock): ServerAuth {
  const verified = new VerifiedTokens();
  const limiter =
    options.rateLimitPerSecond === undefined ? null : new RateLimiter(options.rateLimitPerSecond);

  /** Authenticates, applies the rate limit, then checks `auth` when the path says it all. */
  const check = (
    auth: RouteAuth,
    request: FastifyRequest,
    reply: FastifyReply,
    done: (error?: Error) => void,
  ): void => {
    const admit = (record: TokenRecord): void => {
      const token = checkExpiry(record, clock.now());
      if (limiter) {
        const wait = limiter.take(token.name, clock.now());
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          throw rateLimited(wait);
        }
      }
      tokenOfRequest.set(request, token);
      if (auth.bodyQueues === undefined) authorize(token, auth, request);
    };
    try {
      const hash = hashToken(credentialOf(request));
      const cached = verified.get(hash);
      // A token verified in the last second is admitted without a promise.
      if (cached) {
        admit(cached);
        return done();
      }
      lookUp(hash, options.tokens, verified).then(
        (record) => {
          try {
            admit(record);
            done();
          } catch (error) {
            done(error as Error);
          }
        },
        (error: unknown) => done(error as Error),
      );
    } catch (error) {
      done(error as Error);
    }
  };

  // Each route's check is put together once, when the route is registered, and runs before
  // the route's own hooks (the 405 answers): per request there is no lookup of what it needs.
  // Callback hooks rather than async ones, which measured about 10 µs of CPU a request more.
  app.addHook('onRoute', (route) => {
    if (PUBLIC_ROUTES.has(route.url) || isDashboardAsset(route.url)) return;
    const auth = declaredAuth(route.config);
    const onRequest = (
      request: FastifyRequest,
      reply: FastifyReply,
      done: (error?: Error) => void,
    ): void => check(auth, request, reply, done);
    route.onRequest = [onRequest, ...toArray(route.onRequest)];
    if (auth.bodyQueues === undefined) return;
    const preHandler = (
      request: FastifyRequest,
      _reply: FastifyReply,
      done: (error?: Error) => void,
    ): void => {
      const token = tokenOfRequest.get(request);
      try {
        if (token) authorize(token, auth, request);
        done();
      } catch (error) {
        done(error as Error);
      }
    };
    route.preHandler = [...toArray(route.preHandler), preHandler];
  });

  // The not-found handler is no route: its check is the one hook every request passes.
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) return done();
    check(NOT_FOUND, request, reply, done);
  });

  return { tokens: options.tokens, forgetVerified: () => verified.clear() };
}

function declaredAuth(config: unknown): RouteAuth {
  return (config as { auth?: RouteAuth } | undefined)?.auth ?? UNDECLARED;
}

function authorize(token: TokenRecord, auth: RouteAuth, request: FastifyRequest): void {
  if (auth.action === 'any') return;
  const queues: string[] = [];
  if (auth.queueParam !== undefined) {
    const queue = (request.params as Record<string, unknown>)[auth.queueParam];
    if (typeof queue === 'string') queues.push(queue);
  }
  if (auth.queueQuery !== undefined) {
    const queue = (request.query as Record<string, unknown>)[auth.queueQuery];
    if (typeof queue === 'string') queues.push(queue);
    else if (mayEver(token, auth.action)) return;
  }
  const body = request.body as Record<string, unknown> | null | undefined;
  for (const field of auth.bodyQueues ?? []) {
    const queue = typeof body === 'object' && body !== null ? body[field] : undefined;
    if (typeof queue === 'string') queues.push(queue);
  }
  if (!allows(token, auth.action, queues)) throw denied(token, auth.action, queues);
}

/** Whether one of the token's roles allows `action` on some queue. */
function mayEver(token: TokenRecord, action: Action): boolean {
  return token.roles.some((role) => ROLE_ACTIONS[role].has(action));
}

function denied(token: TokenRecord, action: Action, queues: string[]): PullqError {
  const where =
    action === 'server'
      ? 'this server (it takes the admin role on *)'
      : queues.length === 0
        ? 'any queue'
        : queues.map((queue) => JSON.stringify(queue)).join(' and ');
  return new PullqError(
    'permission_denied',
    `token ${JSON.stringify(token.name)} (${token.roles.join(', ')} on ${token.queuePattern}) may not ${action} on ${where}`,
    { details: { action, queues, token: token.name } },
  );
}

function unauthenticated(message: string): PullqError {
  return new PullqError('unauthenticated', message);
}

/** The one credential of the request, or why there is none to verify. */
function credentialOf(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (header !== undefined) {
    // Node keeps the first of several Authorization headers and drops the rest: which one
    // a proxy meant is not for the server to guess.
    if (countAuthorizationHeaders(request.raw.rawHeaders) > 1) {
      throw unauthenticated('send one Authorization header, not several');
    }
    const match = /^bearer +(\S+)$/i.exec(header);
    if (!match?.[1] || !isWellFormedToken(match[1])) {
      throw unauthenticated(
        'the Authorization header must be "Bearer " followed by a token (16 to 512 printable ASCII characters, no spaces)',
      );
    }
    return match[1];
  }
  if (request.url.startsWith(V1BETA2_PATH)) {
    const query = request.query as Record<string, unknown>;
    const value = query['oauth_token'] ?? query['key'];
    if (value !== undefined) {
      if (typeof value !== 'string' || !isWellFormedToken(value)) {
        throw unauthenticated('the oauth_token or key parameter is not a well-formed token');
      }
      return value;
    }
  }
  throw unauthenticated(
    request.url.startsWith(V1BETA2_PATH)
      ? 'this server requires a token: send "Authorization: Bearer <token>" (or ?oauth_token=<token>)'
      : 'this server requires a token: send "Authorization: Bearer <token>"',
  );
}

function countAuthorizationHeaders(rawHeaders: string[]): number {
  let count = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index];
    if (name?.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  return count;
}

async function lookUp(
  hash: string,
  store: TokenStore,
  verified: VerifiedTokens,
): Promise<TokenRecord> {
  const found = await store.findTokenByHash(hash);
  if (!found || !hashesEqual(found.tokenHash, hash)) {
    throw unauthenticated('the token is not valid: unknown or revoked');
  }
  verified.set(hash, found);
  return found;
}

/** Expiry is checked on every request, against the server's clock, cached or not. */
function checkExpiry(record: TokenRecord, now: number): TokenRecord {
  if (isExpired(record, now)) throw unauthenticated('the token has expired');
  return record;
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * Tokens verified in the last second, by hash. Leases and acks at tens of thousands a second
 * would otherwise each read the token from the store; a revocation on another server
 * sharing the store takes effect within VERIFIED_FOR_MS, one on this server at once. Unknown
 * tokens are not cached: a token made on another server works at once, and random guesses
 * cannot fill the cache.
 */
class VerifiedTokens {
  static readonly VERIFIED_FOR_MS = 1000;
  static readonly MAX_ENTRIES = 10_000;
  readonly #entries = new Map<string, { record: TokenRecord; until: number }>();

  get(hash: string): TokenRecord | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) return undefined;
    if (entry.until > performance.now()) return entry.record;
    this.#entries.delete(hash);
    return undefined;
  }

  set(hash: string, record: TokenRecord): void {
    if (this.#entries.size >= VerifiedTokens.MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(hash, { record, until: performance.now() + VerifiedTokens.VERIFIED_FOR_MS });
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * The URL with the values of `oauth_token` and `key` replaced, for logs. Names are compared
 * decoded (`oauth%5Ftoken` is parsed as `oauth_token` too).
 */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const query = url
    .slice(mark + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = decodeName(equals < 0 ? pair : pair.slice(0, equals)).toLowerCase();
      return name === 'oauth_token' || name === 'key'
        ? `${pair.slice(0, equals < 0 ? pair.length : equals)}=[redacted]`
        : pair;
    })
    .join('&');
  return `${url.slice(0, mark)}?${query}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}
