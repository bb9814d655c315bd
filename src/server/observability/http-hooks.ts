/**
 * Per-request observability: request ids, the response counts of
 * `pullq_http_responses_total`, and a log line per request at `debug`.
 *
 * - Request id: an incoming `X-Request-Id` of 1 to 128 characters from `[A-Za-z0-9._:+/=-]`
 *   (a proxy's or a client's) is kept; anything else is replaced by one made here
 *   (`<8 hex>-<counter>`, unique per server process). It is echoed in the `X-Request-Id`
 *   response header, errors included, and is `requestId` on every log line of the request.
 * - Responses are counted by route pattern (`/v1/queues/:queue/lease`), never the raw URL,
 *   so a client cannot mint series; requests that matched no route count as `unmatched`.
 *
 * Both hooks are callbacks; each route's counting hook knows its pattern, so a response costs
 * two map lookups and an addition. Measured in a CPU profile of single-task insert, lease and
 * ack requests over HTTP, all of the observability (these hooks, the instrumented backend,
 * the durations) takes 1.6% of the process's CPU (docs/metrics.md).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** Fastify's `genReqId`: the caller's id when well-formed, else a new one. */
export function requestIdGenerator(): (request: IncomingMessage) => string {
  const prefix = randomBytes(4).toString('hex');
  let issued = 0;
  return (request) => {
    const given = request.headers[REQUEST_ID_HEADER];
    if (typeof given === 'string' && WELL_FORMED_ID.test(given)) return given;
    issued++;
    return `${prefix}-${issued.toString(36)}`;
  };
}

export interface ResponseLabels {
  route: string;
  method: string;
  status: string;
}

interface Counted {
  labels: ResponseLabels;
  count: number;
}

/** One route's responses, by status then method: no key is built per request. */
class RouteResponses {
  readonly #route: string;
  readonly #counts = new Map<number, Map<string, Counted>>();

  constructor(route: string) {
    this.#route = route;
  }

  get route(): string {
    return this.#route;
  }

  add(method: string, status: number): void {
    let byMethod = this.#counts.get(status);
    if (!byMethod) this.#counts.set(status, (byMethod = new Map<string, Counted>()));
    const counted = byMethod.get(method);
    if (counted) counted.count++;
    else
      byMethod.set(method, {
        labels: { route: this.#route, method, status: String(status) },
        count: 1,
      });
  }

  *entries(): Generator<Counted> {
    for (const byMethod of this.#counts.values()) yield* byMethod.values();
  }
}

/** Responses by route pattern, method and status, since the server started. */
export class ResponseCounts {
  readonly #routes = new Map<string, RouteResponses>();

  /** The counts of one route pattern (`unmatched` for requests no route took). */
  route(route: string): RouteResponses {
    let responses = this.#routes.get(route);
    if (!responses) this.#routes.set(route, (responses = new RouteResponses(route)));
    return responses;
  }

  *entries(): Generator<Counted> {
    for (const responses of this.#routes.values()) yield* responses.entries();
  }
}

/**
 * Registers the hooks; before any other hook and route, so that even a refused request carries
 * its id, and every route gets its counting hook. The route's pattern is taken when the route
 * is registered: reading `request.routeOptions` per request builds an object each time.
 */
export function registerRequestHooks(app: FastifyInstance, responses: ResponseCounts): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  app.addHook('onRoute', (route) => {
    const counts = responses.route(route.url);
    const onResponse = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      responded(counts, request, reply);
      done();
    };
    route.onResponse = [...toArray(route.onResponse), onResponse];
  });
  const unmatched = responses.route('unmatched');
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) responded(unmatched, request, reply);
    done();
  });
}

function responded(counts: RouteResponses, request: FastifyRequest, reply: FastifyReply): void {
  counts.add(request.method, reply.statusCode);
  const level = request.log.level;
  if (level === 'debug' || level === 'trace') {
    request.log.debug(
      {
        method: request.method,
        // The path only: query strings may carry tokens (?oauth_token=).
        path: request.url.split('?')[0],
        route: counts.route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
  }
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
