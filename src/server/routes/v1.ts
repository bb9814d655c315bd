/**
 * The native v1 API (docs/protocol.md, "Native v1 API"). Each route parses (TypeBox schemas,
 * validated by Ajv), calls the backend, and serializes (fast-json-stringify from the same
 * schemas); policy lives elsewhere. The route table also yields the OpenAPI document, and
 * says what each route needs of a token (`auth`, checked by ../auth.ts).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  HTTPMethods,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
} from 'fastify';
import { ROLES, newTokenRecord, type TokenRecord } from '../../auth/tokens.ts';
import type {
  ItemResult,
  LeasedTask,
  QueueConfig,
  QueueInfo,
  QueueStats,
  Task,
} from '../../backends/backend.ts';
import { queueNotFound, taskNotFound } from '../../backends/common.ts';
import { PullqError } from '../../protocol/errors.ts';
import {
  errorItemToWire,
  leaseRefFromWire,
  newTaskFromWire,
  releaseFromWire,
  taskToWire,
  type WireItemResult,
} from '../../protocol/native.ts';
import type { ServerContext } from '../app.ts';
import { tokenOf, type RouteAuth, type ServerAuth } from '../auth.ts';
import { ACTIONS, ROLE_ACTIONS, allows, patternCovers } from '../../auth/permissions.ts';
import { LIMITS } from '../../protocol/limits.ts';
import { openApiDocument, type OpenApiRoute } from './openapi.ts';
import * as S from './v1-schemas.ts';
import { validationError } from './validation-error.ts';

type Request<Schema extends FastifySchema> = FastifyRequest<
  RouteGenericInterface,
  RawServerDefault,
  RawRequestDefaultExpression,
  Schema,
  TypeBoxTypeProvider
>;

interface RouteSpec<Schema extends FastifySchema> extends OpenApiRoute {
  method: HTTPMethods;
  /** What a token needs for this route (when the server requires tokens). */
  auth: RouteAuth;
  schema: Schema & OpenApiRoute['schema'];
  handler: (
    context: ServerContext,
    request: Request<Schema>,
    reply: FastifyReply,
  ) => Promise<unknown>;
}

/** Keeps each route's schema type for its handler while the table holds them all. */
function route<Schema extends FastifySchema>(spec: RouteSpec<Schema>): RouteSpec<FastifySchema> {
  return spec as unknown as RouteSpec<FastifySchema>;
}

const DEFAULT_LIST_LIMIT = 100;

export const V1_ROUTES: readonly RouteSpec<FastifySchema>[] = [
  route({
    method: 'GET',
    url: '/queues',
    operationId: 'listQueues',
    auth: { action: 'any' },
    summary: 'List queues, by name',
    description: 'A token sees the queues its pattern covers, whatever its roles.',
    schema: { response: { 200: S.QueuesAnswer } },
    handler: async ({ backend }, request) => {
      const token = tokenOf(request);
      const queues = await backend.listQueues();
      return {
        queues: token
          ? queues.filter((queue) => patternCovers(token.queuePattern, queue.name))
          : queues,
      };
    },
  }),
  route({
    method: 'GET',
    url: '/stats',
    operationId: 'listQueueStats',
    auth: { action: 'any' },
    summary: 'Every readable queue with its stats, by name, a page at a time',
    description:
      'The queues the token covers, each with its settings and its stats (as `GET /v1/queues/{queue}/stats`), so a dashboard reads 1,000 queues in one request. Needs a role that may read stats (consumer or admin).',
    schema: { querystring: S.QueueStatsQuery, response: { 200: S.QueueStatsAnswer } },
    handler: ({ backend }, request) => queueStatsPage(backend, tokenOf(request), request.query),
  }),
  route({
    method: 'GET',
    url: '/whoami',
    operationId: 'whoami',
    auth: { action: 'any' },
    summary: "The caller's token: its name, roles, queue pattern and what they allow",
    description:
      'Never the token itself. On a server without authentication: `auth: false` and every action.',
    schema: { response: { 200: S.WhoamiAnswer } },
    handler: async (_context, request) => whoami(tokenOf(request)),
  }),
  route({
    method: 'POST',
    url: '/queues',
    operationId: 'createQueue',
    auth: { action: 'createQueue', bodyQueues: ['name', 'deadLetterQueue'] },
    summary: 'Create a queue',
    schema: { body: S.CreateQueueBody, response: { 201: S.Queue } },
    handler: async ({ backend }, { body }, reply) => {
      const { name, ...config } = body;
      const queue = await backend.createQueue(name, config);
      reply.code(201);
      return queue;
    },
  }),
  route({
    method: 'GET',
    url: '/queues/:queue',
    operationId: 'getQueue',
    auth: { action: 'getQueue', queueParam: 'queue' },
    summary: 'Get a queue and its settings',
    schema: { params: S.QueueParams, response: { 200: S.Queue } },
    handler: async ({ backend }, { params }) =>
      (await backend.getQueue(params.queue)) ?? Promise.reject(queueNotFound(params.queue)),
  }),
  route({
    method: 'PATCH',
    url: '/queues/:queue',
    operationId: 'updateQueue',
    auth: { action: 'updateQueue', queueParam: 'queue', bodyQueues: ['deadLetterQueue'] },
    summary: 'Change settings of a queue',
    description: 'Fields left out keep their value; `null` clears maxLeases or deadLetterQueue.',
    schema: { params: S.QueueParams, body: S.UpdateQueueBody, response: { 200: S.Queue } },
    handler: ({ backend }, { params, body }) =>
      backend.updateQueue(params.queue, body as Partial<QueueConfig>),
  }),
  route({
    method: 'DELETE',
    url: '/queues/:queue',
    operationId: 'deleteQueue',
    auth: { action: 'deleteQueue', queueParam: 'queue' },
    summary: 'Delete a queue and every task in it',
    schema: { params: S.QueueParams, response: { 204: S.NoContent } },
    handler: async ({ backend }, { params }, reply) => {
      await backend.deleteQueue(params.queue);
      return reply.code(204).send();
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/pause',
    operationId: 'pauseQueue',
    auth: { action: 'updateQueue', queueParam: 'queue' },
    summary: 'Pause a queue: it accepts inserts and leases nothing',
    schema: { params: S.QueueParams, response: { 200: S.Queue } },
    handler: ({ backend }, { params }) => backend.updateQueue(params.queue, { paused: true }),
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/resume',
    operationId: 'resumeQueue',
    auth: { action: 'updateQueue', queueParam: 'queue' },
    summary: 'Resume a paused queue',
    schema: { params: S.QueueParams, response: { 200: S.Queue } },
    handler: ({ backend }, { params }) => backend.updateQueue(params.queue, { paused: false }),
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/purge',
    operationId: 'purgeQueue',
    auth: { action: 'purge', queueParam: 'queue' },
    summary: 'Delete every task in a queue (tombstones stay)',
    schema: { params: S.QueueParams, response: { 200: S.PurgedAnswer } },
    handler: async ({ backend }, { params }) => ({
      purged: await backend.purgeQueue(params.queue),
    }),
  }),
  route({
    method: 'GET',
    url: '/queues/:queue/stats',
    operationId: 'queueStats',
    auth: { action: 'stats', queueParam: 'queue' },
    summary: 'Count tasks by state, and recent leases',
    schema: { params: S.QueueParams, response: { 200: S.Stats } },
    handler: ({ backend }, { params }) => backend.stats(params.queue),
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/tasks',
    operationId: 'insertTasks',
    auth: { action: 'insert', queueParam: 'queue' },
    summary: 'Insert 1 to 1000 tasks',
    description:
      'One result per task, in order. A task answer leaves the payload out (the caller has it). A missing queue is created unless the server runs with --no-auto-create or the body says `createQueue: false`.',
    schema: { params: S.QueueParams, body: S.InsertBody, response: { 200: S.ResultsAnswer } },
    handler: async ({ backend, clock, autoCreateQueues }, { params, body }) => {
      const now = clock.now();
      const tasks = body.tasks.map((task, index) => newTaskFromWire(task, index, now));
      const results = await backend.insert(params.queue, tasks, {
        createQueue: autoCreateQueues && body.createQueue !== false,
      });
      return { results: results.map(taskResultToWire) };
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/lease',
    operationId: 'lease',
    auth: { action: 'lease', queueParam: 'queue' },
    summary: 'Lease up to max tasks, waiting up to waitSeconds for one to arrive',
    schema: { params: S.QueueParams, body: S.LeaseBody, response: { 200: S.TasksAnswer } },
    handler: async (context, { params, body }, reply) => {
      const tasks = await leaseWhileConnected(context, params.queue, body, reply);
      return { tasks: tasks.map((task) => taskToWire(task, true)) };
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/ack',
    operationId: 'ack',
    auth: { action: 'ack', queueParam: 'queue' },
    summary: 'Delete leased tasks, fenced by their lease tokens',
    schema: { params: S.QueueParams, body: S.AckBody, response: { 200: S.ResultsAnswer } },
    handler: async ({ backend }, { params, body }) => {
      const results = await backend.ack(params.queue, body.leases.map(leaseRefFromWire));
      return { results: results.map(emptyResultToWire) };
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/extend',
    operationId: 'extend',
    auth: { action: 'extend', queueParam: 'queue' },
    summary: 'Make leases end leaseSeconds from now',
    schema: { params: S.QueueParams, body: S.ExtendBody, response: { 200: S.ResultsAnswer } },
    handler: async ({ backend }, { params, body }) => {
      const refs = body.leases.map(leaseRefFromWire);
      const results = await backend.extend(params.queue, refs, body.leaseSeconds);
      return { results: results.map(taskResultToWire) };
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/release',
    operationId: 'release',
    auth: { action: 'release', queueParam: 'queue' },
    summary: 'Give leased tasks back, now or after a delay, or dead-letter them',
    schema: { params: S.QueueParams, body: S.ReleaseBody, response: { 200: S.ResultsAnswer } },
    handler: async ({ backend }, { params, body }) => {
      const results = await backend.release(params.queue, body.leases.map(releaseFromWire));
      return { results: results.map(taskResultToWire) };
    },
  }),
  route({
    method: 'GET',
    url: '/queues/:queue/tasks',
    operationId: 'listTasks',
    auth: { action: 'list', queueParam: 'queue' },
    summary: 'List tasks in insertion order, a page at a time',
    description: 'Payloads are left out unless `payload=true`.',
    schema: {
      params: S.QueueParams,
      querystring: S.ListQuery,
      response: { 200: S.TaskPageAnswer },
    },
    handler: ({ backend }, { params, query }) => listPage(backend, params.queue, query),
  }),
  route({
    method: 'GET',
    url: '/queues/:queue/tasks/:id',
    operationId: 'getTask',
    auth: { action: 'get', queueParam: 'queue' },
    summary: 'Get a task, with its payload',
    schema: { params: S.TaskParams, response: { 200: S.Task } },
    handler: async ({ backend }, { params }) => {
      const task = await backend.get(params.queue, params.id);
      if (!task) throw taskNotFound(params.queue, params.id);
      return taskToWire(task, true);
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/tasks/:id/release',
    operationId: 'forceRelease',
    auth: { action: 'redrive', queueParam: 'queue' },
    summary: 'End the running lease of a task without its lease token (admin)',
    description:
      "Makes a leased task leasable again (after `delaySeconds`), as if its worker had released it; the worker's ack then gets `lease_lost`. Fenced by the lease seen when the request is read: a lease that ended, was extended or was renewed meanwhile answers `lease_lost`. Needs the role redrive needs (admin on the queue).",
    schema: { params: S.TaskParams, body: S.ForceReleaseBody, response: { 200: S.Task } },
    handler: async ({ backend }, { params, body }) => {
      const task = await backend.get(params.queue, params.id);
      if (!task) throw taskNotFound(params.queue, params.id);
      if (task.state !== 'leased') {
        throw new PullqError(
          'lease_lost',
          `task ${JSON.stringify(params.id)} is ${task.state}, not leased: there is no lease to end`,
          { details: { queue: params.queue, id: params.id, state: task.state } },
        );
      }
      const [result] = await backend.release(params.queue, [
        {
          // While leased, the ETA is when the lease ends: the v1beta2 fence names this lease.
          ref: { id: params.id, leaseExpiresAt: task.eta },
          ...(body?.delaySeconds === undefined ? {} : { delaySeconds: body.delaySeconds }),
        },
      ]);
      if (!result) throw new PullqError('internal', 'the backend answered no result');
      if (!result.ok) throw result.error;
      return taskToWire(result.value, false);
    },
  }),
  route({
    method: 'DELETE',
    url: '/queues/:queue/tasks/:id',
    operationId: 'deleteTask',
    auth: { action: 'delete', queueParam: 'queue' },
    summary: 'Delete a task whatever its state',
    schema: { params: S.TaskParams, response: { 204: S.NoContent } },
    handler: async ({ backend }, { params }, reply) => {
      const [result] = await backend.delete(params.queue, [params.id]);
      if (result && !result.ok) throw result.error;
      return reply.code(204).send();
    },
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/delete',
    operationId: 'deleteTasks',
    auth: { action: 'delete', queueParam: 'queue' },
    summary: 'Delete tasks by id, whatever their state',
    schema: { params: S.QueueParams, body: S.DeleteBody, response: { 200: S.ResultsAnswer } },
    handler: async ({ backend }, { params, body }) => {
      const results = await backend.delete(params.queue, body.ids);
      return { results: results.map(emptyResultToWire) };
    },
  }),
  route({
    method: 'GET',
    url: '/queues/:queue/dead',
    operationId: 'listDead',
    auth: { action: 'listDead', queueParam: 'queue' },
    summary: 'List dead letters kept in this queue',
    schema: {
      params: S.QueueParams,
      querystring: S.DeadQuery,
      response: { 200: S.TaskPageAnswer },
    },
    handler: ({ backend }, { params, query }) =>
      listPage(backend, params.queue, { ...query, state: 'dead' }),
  }),
  route({
    method: 'POST',
    url: '/queues/:queue/redrive',
    operationId: 'redrive',
    auth: { action: 'redrive', queueParam: 'queue' },
    summary: 'Make dead letters leasable again (all of them, or the ids given)',
    schema: { params: S.QueueParams, body: S.RedriveBody, response: { 200: S.RedrivenAnswer } },
    handler: async ({ backend }, { params, body }) => ({
      redriven: await backend.redrive(params.queue, body?.ids ? { ids: body.ids } : {}),
    }),
  }),
  route({
    method: 'POST',
    url: '/tokens',
    operationId: 'createToken',
    summary: 'Create an access token; the answer is the only time the token is shown',
    description: 'Needs the admin role on `*`. `queue` defaults to `*`.',
    auth: { action: 'server' },
    schema: { body: S.CreateTokenBody, response: { 201: S.NewTokenAnswer } },
    handler: async ({ auth, clock }, { body }, reply) => {
      const tokens = tokenStoreOf(auth);
      const now = clock.now();
      const { token, record } = newTokenRecord(
        {
          name: body.name,
          roles: body.roles,
          queuePattern: body.queue ?? '*',
          expiresAt:
            body.expiresInSeconds === undefined ? null : now + body.expiresInSeconds * 1000,
        },
        now,
      );
      await tokens.createToken(record);
      reply.code(201);
      return { token, ...tokenToWire(record) };
    },
  }),
  route({
    method: 'GET',
    url: '/tokens',
    operationId: 'listTokens',
    summary: 'List access tokens, by name (never the tokens themselves)',
    description: 'Needs the admin role on `*`.',
    auth: { action: 'server' },
    schema: { response: { 200: S.TokensAnswer } },
    handler: async ({ auth }) => ({
      tokens: (await tokenStoreOf(auth).listTokens()).map(tokenToWire),
    }),
  }),
  route({
    method: 'DELETE',
    url: '/tokens/:name',
    operationId: 'revokeToken',
    summary: 'Revoke an access token: it stops working at once',
    description:
      'Needs the admin role on `*`. Other servers sharing the store stop accepting it within a second.',
    auth: { action: 'server' },
    schema: { params: S.TokenParams, response: { 204: S.NoContent } },
    handler: async ({ auth }, { params }, reply) => {
      if (!(await tokenStoreOf(auth).revokeToken(params.name))) {
        throw new PullqError(
          'token_not_found',
          `no token is named ${JSON.stringify(params.name)}`,
          {
            details: { name: params.name },
          },
        );
      }
      auth?.forgetVerified();
      return reply.code(204).send();
    },
  }),
];

const DEFAULT_STATS_LIMIT = LIMITS.maxListLimit;
/** Stats read at once: a PostgreSQL or Redis backend answers them in parallel. */
const STATS_CONCURRENCY = 16;

/**
 * A page of the readable queues with their stats. The cursor is the last name of the page
 * (names sort the same everywhere: ASCII). A queue deleted while the page is read is left out.
 */
async function queueStatsPage(
  backend: ServerContext['backend'],
  token: TokenRecord | undefined,
  query: { limit?: string; cursor?: string },
): Promise<{ queues: (QueueInfo & { stats: QueueStats })[]; nextCursor: string | null }> {
  if (token && !token.roles.some((role) => ROLE_ACTIONS[role].has('stats'))) {
    throw new PullqError(
      'permission_denied',
      `token ${JSON.stringify(token.name)} (${token.roles.join(', ')}) may not read stats: that needs the consumer or admin role`,
      { details: { action: 'stats', queues: [], token: token.name } },
    );
  }
  const limit = query.limit === undefined ? DEFAULT_STATS_LIMIT : Number(query.limit);
  if (limit < 1 || limit > LIMITS.maxListLimit) {
    throw new PullqError('invalid_argument', `limit must be 1 to ${LIMITS.maxListLimit}`, {
      details: { field: 'limit' },
    });
  }
  const after = query.cursor === undefined ? '' : decodeNameCursor(query.cursor);
  const readable = (await backend.listQueues())
    .filter((queue) => queue.name > after && (!token || allows(token, 'stats', [queue.name])))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = readable.slice(0, limit);
  const queues: (QueueInfo & { stats: QueueStats })[] = [];
  for (let start = 0; start < page.length; start += STATS_CONCURRENCY) {
    const chunk = page.slice(start, start + STATS_CONCURRENCY);
    const stats = await Promise.all(
      chunk.map((queue) =>
        backend.stats(queue.name).catch((error: unknown) => {
          if (error instanceof PullqError && error.code === 'queue_not_found') return null;
          throw error;
        }),
      ),
    );
    chunk.forEach((queue, index) => {
      const found = stats[index];
      if (found) queues.push({ ...queue, stats: found });
    });
  }
  const last = page.at(-1);
  return {
    queues,
    nextCursor: readable.length > limit && last ? encodeNameCursor(last.name) : null,
  };
}

function encodeNameCursor(name: string): string {
  return Buffer.from(`name:${name}`).toString('base64url');
}

function decodeNameCursor(cursor: string): string {
  const match = /^name:([a-zA-Z0-9-]{1,100})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1]) {
    throw new PullqError('invalid_argument', 'cursor is not one this server handed out', {
      details: { field: 'cursor' },
    });
  }
  return match[1];
}

/** The caller as the server sees it; everything is allowed without authentication. */
function whoami(token: TokenRecord | undefined) {
  if (!token) {
    return {
      auth: false,
      name: null,
      roles: [...ROLES],
      queue: '*',
      expiresAt: null,
      actions: [...ACTIONS],
      serverAdmin: true,
    };
  }
  return {
    auth: true,
    name: token.name,
    roles: token.roles,
    queue: token.queuePattern,
    expiresAt: token.expiresAt,
    actions: ACTIONS.filter((action) => token.roles.some((role) => ROLE_ACTIONS[role].has(action))),
    serverAdmin: allows(token, 'server', []),
  };
}

function tokenStoreOf(auth: ServerAuth | null): ServerAuth['tokens'] {
  if (!auth) {
    throw new PullqError(
      'unsupported',
      'this server runs without authentication (--no-auth): it keeps no tokens',
    );
  }
  return auth.tokens;
}

function tokenToWire(record: TokenRecord) {
  return {
    name: record.name,
    roles: record.roles,
    queue: record.queuePattern,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
}

function taskResultToWire(result: ItemResult<Task>): WireItemResult {
  return result.ok
    ? { ok: true, task: taskToWire(result.value, false) }
    : errorItemToWire(result.error);
}

function emptyResultToWire(result: ItemResult<null>): WireItemResult {
  return result.ok ? { ok: true } : errorItemToWire(result.error);
}

async function listPage(
  backend: ServerContext['backend'],
  queue: string,
  query: { state?: Task['state']; tag?: string; limit?: string; cursor?: string; payload?: string },
): Promise<{ tasks: unknown[]; nextCursor: string | null }> {
  const includePayload = query.payload === 'true';
  const page = await backend.list(queue, {
    limit: query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(query.limit),
    includePayload,
    ...(query.state === undefined ? {} : { state: query.state }),
    ...(query.tag === undefined ? {} : { tag: query.tag }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  return {
    tasks: page.tasks.map((task) => taskToWire(task, includePayload)),
    nextCursor: page.nextCursor,
  };
}

/**
 * A long-poll ends when the client goes away or the server shuts down. Tasks leased in the
 * instant the client left are released at once rather than left to their lease running out.
 */
async function leaseWhileConnected(
  { backend, shutdown }: ServerContext,
  queue: string,
  body: {
    max: number;
    leaseSeconds: number;
    tag?: string;
    groupByTag?: boolean;
    waitSeconds?: number;
  },
  reply: FastifyReply,
): Promise<LeasedTask[]> {
  if (!body.waitSeconds) return backend.lease(queue, body);
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  reply.raw.once('close', onClose);
  try {
    const tasks = await backend.lease(queue, {
      ...body,
      signal: AbortSignal.any([gone.signal, shutdown]),
    });
    if (gone.signal.aborted && tasks.length > 0) {
      await backend.release(
        queue,
        tasks.map((task) => ({ ref: { id: task.id, token: task.leaseToken } })),
      );
      return [];
    }
    return tasks;
  } finally {
    reply.raw.off('close', onClose);
  }
}

const ALL_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function v1Routes(app: FastifyInstance, options: { context: ServerContext }): Promise<void> {
  const { context } = options;
  // JSON only: a text or form body answers 415 rather than a puzzling "body must be object".
  app.removeContentTypeParser(['text/plain', 'application/x-www-form-urlencoded']);
  const allowed = new Map<string, HTTPMethods[]>();
  for (const spec of V1_ROUTES) {
    app.route({
      method: spec.method,
      url: spec.url,
      config: { auth: spec.auth },
      schema: spec.schema,
      schemaErrorFormatter: validationError,
      handler: (request, reply) => spec.handler(context, request as never, reply),
    });
    const methods = allowed.get(spec.url) ?? [];
    methods.push(spec.method, ...(spec.method === 'GET' ? (['HEAD'] as const) : []));
    allowed.set(spec.url, methods);
  }
  // A known path with another method answers 405 with Allow, before any body is read.
  for (const [url, methods] of allowed) {
    const allow = methods.filter((method) => method !== 'HEAD').join(', ');
    app.route({
      method: ALL_METHODS.filter((method) => !methods.includes(method)),
      url,
      config: { auth: { action: 'any' } satisfies RouteAuth },
      onRequest: (request, reply, done) => {
        reply.header('allow', allow);
        done(
          new PullqError(
            'method_not_allowed',
            `${request.method} is not allowed on ${request.url.split('?')[0] ?? ''}; use ${allow}`,
          ),
        );
      },
      handler: () => Promise.resolve(),
    });
  }
  return Promise.resolve();
}

let cachedDocument: string | undefined;

/** `GET /openapi.json`: the OpenAPI 3.1 document of /v1, built once from the route table. */
export function openapiRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', (_request, reply) => {
    cachedDocument ??= JSON.stringify(
      openApiDocument(V1_ROUTES, {
        title: 'pullq native API',
        version: '1',
        description:
          'A pull task queue: insert tasks, lease them, ack them. See docs/protocol.md for the task semantics.',
        prefix: '/v1',
        components: S.COMPONENTS,
        errorSchema: S.ErrorEnvelope,
      }),
    );
    return reply.type('application/json; charset=utf-8').send(cachedDocument);
  });
  return Promise.resolve();
}
