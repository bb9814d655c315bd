/**
 * `GET /v1/stats/history?queue=NAME&seconds=N`: the last N seconds (60..3600, default 3600),
 * one point per second, of one queue, or summed over every queue the caller's token may read
 * (docs/protocol.md, "Stats history"). The dashboard draws its charts from it: the shape is a
 * contract.
 *
 * It needs what `GET /v1/queues/{queue}/stats` needs (the `stats` action): on the named queue,
 * or, without `queue`, on the queues summed, which are those the token's pattern covers.
 */
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { Type } from 'typebox';
import { patternCovers } from '../../auth/permissions.ts';
import type { Backend, Clock } from '../../backends/backend.ts';
import { queueNotFound } from '../../backends/common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { QUEUE_NAME_PATTERN } from '../../protocol/limits.ts';
import { tokenOf, type RouteAuth } from '../auth.ts';
import { validationError } from '../routes/validation-error.ts';
import type { Activity } from './activity.ts';
import { HISTORY_SECONDS } from './history.ts';

export const HISTORY_PATH = '/stats/history';
const MIN_SECONDS = 60;

const HistoryQuery = Type.Object(
  {
    queue: Type.Optional(Type.String({ pattern: QUEUE_NAME_PATTERN.source })),
    seconds: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
  },
  { additionalProperties: false },
);

const HISTORY_AUTH: RouteAuth = { action: 'stats', queueQuery: 'queue' };

export interface HistoryRouteOptions {
  activity: Activity;
  /** The store, to tell an unknown queue (404) from one with no history yet. */
  backend: Backend;
  clock: Clock;
}

/** Registered with the prefix `/v1`. */
export function historyRoutes(app: FastifyInstance, options: HistoryRouteOptions): Promise<void> {
  const { activity, backend, clock } = options;
  app.route({
    method: 'GET',
    url: HISTORY_PATH,
    config: { auth: HISTORY_AUTH },
    schema: { querystring: HistoryQuery },
    schemaErrorFormatter: validationError,
    handler: async (request) => {
      const query = request.query as { queue?: string; seconds?: string };
      const seconds = query.seconds === undefined ? HISTORY_SECONDS : Number(query.seconds);
      if (seconds < MIN_SECONDS || seconds > HISTORY_SECONDS) {
        throw new PullqError(
          'invalid_argument',
          `seconds must be a whole number from ${MIN_SECONDS} to ${HISTORY_SECONDS}, got ${query.seconds}`,
          { details: { field: 'seconds', in: 'querystring' } },
        );
      }
      const now = clock.now();
      if (query.queue !== undefined) {
        if (!(await backend.getQueue(query.queue))) throw queueNotFound(query.queue);
        // Viewed: its backlog is sampled from now on, for a while.
        activity.touch(query.queue, now);
        return activity.history.answer([query.queue], seconds, now);
      }
      const token = tokenOf(request);
      if (!token || token.queuePattern === '*') {
        return activity.history.answer('all', seconds, now);
      }
      const covered = activity.history
        .queues()
        .filter((queue) => patternCovers(token.queuePattern, queue));
      return activity.history.answer(covered, seconds, now);
    },
  });
  // Another method answers 405 with Allow, before any body is read (as the rest of /v1).
  app.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'] satisfies HTTPMethods[],
    url: HISTORY_PATH,
    config: { auth: { action: 'any' } satisfies RouteAuth },
    onRequest: (request, reply, done) => {
      reply.header('allow', 'GET');
      done(
        new PullqError(
          'method_not_allowed',
          `${request.method} is not allowed on ${request.url.split('?')[0] ?? ''}; use GET`,
        ),
      );
    },
    handler: () => Promise.resolve(),
  });
  return Promise.resolve();
}
