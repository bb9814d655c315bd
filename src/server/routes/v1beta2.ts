/**
 * App Engine Task Queue REST API v1beta2 (docs/protocol.md, "v1beta2"): old pull-queue
 * clients work unchanged. Handlers read the request, call the backend and encode the answer;
 * the quirks of the wire live in ../../protocol/v1beta2.ts, the route table in
 * ./v1beta2-methods.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ItemResult, Task } from '../../backends/backend.ts';
import { queueNotFound, taskNotFound } from '../../backends/common.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkQueueName, checkTag, checkTaskId } from '../../protocol/limits.ts';
import { applyFields, parseFields, type FieldSelection } from '../../protocol/partial-response.ts';
import {
  bodyObject,
  longQueueName,
  parseInsertBody,
  parseLeaseBody,
  projectFromPath,
  queueNameMatches,
  requiredMissing,
  taskQueueToV1beta2,
  taskToV1beta2,
  tasksToV1beta2,
  v1beta2Invalid,
  type V1beta2Task,
} from '../../protocol/v1beta2.ts';
import type { ServerContext } from '../app.ts';
import type { RouteAuth } from '../auth.ts';
import { queueAcl } from '../../auth/permissions.ts';
import { discoveryRoutes } from './discovery.ts';
import {
  V1BETA2_METHODS,
  routeUrl,
  type MethodSpec,
  type ParameterSpec,
  type V1beta2MethodId,
} from './v1beta2-methods.ts';

/**
 * One task of at most 1 MiB is about 1.4 MB as base64; bodies past this are refused (413)
 * before they are read to the end.
 */
const V1BETA2_BODY_LIMIT = 4 * 1024 * 1024;

/** tasks.list returned at most 100 tasks and had no paging. */
const LIST_LIMIT = 100;

type ParamValue = string | number | boolean | undefined;

interface Call {
  request: FastifyRequest;
  params: Record<string, ParamValue>;
  /** The project as the path gave it (decoded); lease responses echo it. */
  rawProject: string;
  queue: string;
  /** The task id of the path, on routes that have one. */
  task: string;
}

type Handler = (call: Call) => Promise<object | undefined>;

export async function v1beta2Routes(
  app: FastifyInstance,
  options: { context: ServerContext },
): Promise<void> {
  const { context } = options;
  // The discovery document describes these routes; it comes and goes with them.
  await app.register(discoveryRoutes);
  acceptLenientBodies(app);
  const handlers = makeHandlers(context);
  for (const method of V1BETA2_METHODS) {
    const handler = handlers[method.id];
    app.route({
      method: method.httpMethod,
      url: routeUrl(method),
      config: { auth: { action: method.action, queueParam: 'taskqueue' } satisfies RouteAuth },
      bodyLimit: Math.min(context.bodyLimit, V1BETA2_BODY_LIMIT),
      handler: async (request, reply) => {
        const query = request.query as Record<string, unknown>;
        // Parsed first: a malformed selector must fail before a lease changes anything.
        const fields = readFields(query['fields']);
        const fallback = method.id === 'tasks.lease' ? leaseParamsFromBody(request.body) : {};
        const params = readParams(method, request, fallback);
        const pathParams = request.params as Record<string, string>;
        const result = await handler({
          request,
          params,
          rawProject: pathParams['project'] ?? '',
          queue: String(params['taskqueue']),
          task: String(params['task']),
        });
        if (result === undefined) return reply.code(204).send();
        return fields === null ? result : applyFields(result, fields);
      },
    });
  }
}

function makeHandlers(context: ServerContext): Record<V1beta2MethodId, Handler> {
  const { backend } = context;

  const changeLease = async (
    queue: string,
    id: string,
    leaseExpiresAt: number,
    newLeaseSeconds: number,
  ): Promise<V1beta2Task> => {
    const ref = { id, leaseExpiresAt };
    const results =
      newLeaseSeconds === 0
        ? await backend.release(queue, [{ ref }])
        : await backend.extend(queue, [ref], newLeaseSeconds);
    return taskToV1beta2(only(results), { queueName: queue, includePayload: false });
  };

  return {
    'taskqueues.get': async ({ queue, params }) => {
      const info = await backend.getQueue(queue);
      if (!info) throw queueNotFound(queue);
      const stats = params['getStats'] === true ? await backend.stats(queue) : null;
      const answer = taskQueueToV1beta2(info, stats);
      // The queue's ACL is the names of the tokens holding each role on it.
      if (context.auth) {
        const tokens = await context.auth.tokens.listTokens();
        answer.acl = queueAcl(tokens, queue, context.clock.now());
      }
      return answer;
    },

    'tasks.insert': async ({ request, queue }) => {
      const { task, queueName } = parseInsertBody(request.body);
      if (queueName !== undefined && queueName !== '' && !queueNameMatches(queueName, queue)) {
        throw v1beta2Invalid(
          'queueName',
          `queueName ${JSON.stringify(queueName)} is not the queue of the path (${queue})`,
        );
      }
      let results: ItemResult<Task>[];
      try {
        results = await backend.insert(queue, [task], { createQueue: context.autoCreateQueues });
      } catch (error) {
        throw inV1beta2Terms(error);
      }
      return taskToV1beta2(only(results), { queueName: queue, includePayload: true });
    },

    'tasks.get': async ({ queue, task: id }) => {
      const task = await backend.get(queue, id);
      if (!task) throw taskNotFound(queue, id);
      return taskToV1beta2(task, { queueName: queue, includePayload: true });
    },

    'tasks.list': async ({ queue }) => {
      const page = await backend.list(queue, { limit: LIST_LIMIT, includePayload: false });
      return tasksToV1beta2(
        page.tasks.map((task) => taskToV1beta2(task, { queueName: queue, includePayload: false })),
      );
    },

    'tasks.lease': async ({ params, rawProject, queue }) => {
      const groupByTag = params['groupByTag'] === true;
      // An empty tag is no tag: the SDK only sent a tag when it was truthy.
      const tag = params['tag'] === '' ? undefined : (params['tag'] as string | undefined);
      if (tag !== undefined) {
        if (!groupByTag) throw v1beta2Invalid('tag', 'Tag specified, but groupByTag was not.');
        checkTag(tag, 'tag');
      }
      const leased = await backend.lease(queue, {
        max: params['numTasks'] as number,
        leaseSeconds: params['leaseSecs'] as number,
        ...(tag === undefined ? (groupByTag ? { groupByTag } : {}) : { tag }),
      });
      // App Engine answered leases with the long queue name (its 2010 Java sample parses it).
      const queueName = longQueueName(rawProject, queue);
      return tasksToV1beta2(
        leased.map((task) => taskToV1beta2(task, { queueName, includePayload: true })),
      );
    },

    'tasks.update': ({ request, params, queue, task }) => {
      const body = parseLeaseBody(request.body);
      // App Engine took the id from the body and ignored the one in the URL.
      return changeLease(
        queue,
        body.id ?? task,
        body.leaseExpiresAt,
        params['newLeaseSeconds'] as number,
      );
    },

    'tasks.patch': ({ request, params, queue, task }) => {
      const body = parseLeaseBody(request.body);
      if (body.queueName === undefined || body.queueName === '') throw requiredMissing('queueName');
      if (!queueNameMatches(body.queueName, queue)) {
        throw v1beta2Invalid('queueName', 'queueName cannot be changed');
      }
      if (body.id !== undefined && body.id !== task) {
        throw v1beta2Invalid('id', 'id cannot be changed');
      }
      return changeLease(queue, task, body.leaseExpiresAt, params['newLeaseSeconds'] as number);
    },

    'tasks.delete': async ({ queue, task }) => {
      only(await backend.delete(queue, [task]));
      return undefined;
    },
  };
}

/** The one result of a one-item batch call, or its error thrown. */
function only<T>(results: ItemResult<T>[]): T {
  const result = results[0];
  if (!result) throw new PullqError('internal', 'the backend answered an empty batch');
  if (!result.ok) throw result.error;
  return result.value;
}

/** Backend insert errors name native fields (`tasks[0]: eta ...`); say them as v1beta2 does. */
function inV1beta2Terms(error: unknown): unknown {
  if (!(error instanceof PullqError) || error.details?.['index'] !== 0) return error;
  const names: Record<string, string> = { eta: 'leaseTimestamp', payload: 'payloadBase64' };
  const field = String(error.details['field']);
  const v1beta2Field = names[field] ?? field;
  const message = error.message
    .replace(/^tasks\[0\]: /, '')
    .replace(new RegExp(`^${field}\\b`), v1beta2Field);
  return new PullqError(error.code, message, { cause: error, details: { field: v1beta2Field } });
}

function readFields(value: unknown): FieldSelection | null {
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string') throw v1beta2Invalid('fields', 'fields was given more than once');
  return parseFields(value);
}

/**
 * Lease parameters belong in the query string, but old clients also sent them as a form body
 * (AppScale's Hawkeye suite) or a JSON (or JSON-C) body; the query string wins.
 */
function leaseParamsFromBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  return bodyObject(body);
}

/**
 * Reads and checks a method's parameters per the route table: a missing required one is 400
 * `required`, a malformed or out-of-range one 400 `invalid`.
 */
function readParams(
  method: MethodSpec,
  request: FastifyRequest,
  fallback: Record<string, unknown>,
): Record<string, ParamValue> {
  const path = request.params as Record<string, string | undefined>;
  const query = request.query as Record<string, unknown>;
  const values: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(method.parameters)) {
    const raw = spec.location === 'path' ? path[name] : (query[name] ?? fallback[name]);
    values[name] = readParam(name, spec, raw);
  }
  if (values['project'] !== undefined) values['project'] = projectFromPath(String(path['project']));
  if (values['taskqueue'] !== undefined) checkQueueName(String(values['taskqueue']));
  if (values['task'] !== undefined) checkTaskId(String(values['task']), 'task');
  return values;
}

function readParam(name: string, spec: ParameterSpec, raw: unknown): ParamValue {
  if (Array.isArray(raw)) throw v1beta2Invalid(name, `${name} was given more than once`);
  if (raw === undefined || raw === null || raw === '') {
    if (spec.required) throw requiredMissing(name);
    return spec.type === 'string' && raw === '' ? '' : undefined;
  }
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string') throw v1beta2Invalid(name, `${name} must be a string`);
      return raw;
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1)$/i.test(raw)) return true;
      if (typeof raw === 'string' && /^(false|0)$/i.test(raw)) return false;
      throw v1beta2Invalid(name, `${name} must be true or false`);
    case 'integer': {
      const value =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? +raw : NaN;
      if (!Number.isSafeInteger(value)) {
        throw v1beta2Invalid(name, `${name} must be an integer, got ${JSON.stringify(raw)}`);
      }
      const { minimum = -Infinity, maximum = Infinity } = spec;
      if (value < minimum || value > maximum) {
        throw v1beta2Invalid(name, `${name} must be from ${minimum} to ${maximum}, got ${value}`);
      }
      return value;
    }
  }
}

/**
 * Old clients send lease and delete with an empty JSON body, or bodies of other types that
 * the method ignores: accept them here (Fastify's default refuses an empty JSON body). JSON
 * is still parsed with Fastify's prototype-poisoning guards.
 */
function acceptLenientBodies(app: FastifyInstance): void {
  // Fastify's default JSON parser is the callback form (its type also allows a promise form).
  const json = app.getDefaultJsonParser('error', 'error') as (
    request: FastifyRequest,
    body: string,
    done: (error: Error | null, value?: unknown) => void,
  ) => void;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') done(null, undefined);
    else json(request, text, done);
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body === '' ? undefined : body);
  });
}
