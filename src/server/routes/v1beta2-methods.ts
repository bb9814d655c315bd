/**
 * The v1beta2 route table: every method pullq serves under /taskqueue/v1beta2, with its verb,
 * path, parameters and the permission it needs. The routes are registered from it and the
 * discovery document is generated from it, so the two cannot disagree.
 */
import type { Action } from '../../auth/permissions.ts';

export const V1BETA2_SERVICE_PATH = 'taskqueue/v1beta2/projects/';

export type V1beta2MethodId =
  | 'taskqueues.get'
  | 'tasks.insert'
  | 'tasks.get'
  | 'tasks.list'
  | 'tasks.lease'
  | 'tasks.update'
  | 'tasks.patch'
  | 'tasks.delete';

export type V1beta2SchemaName = 'Task' | 'TaskQueue' | 'Tasks' | 'Tasks2';

export interface ParameterSpec {
  type: 'string' | 'integer' | 'boolean';
  location: 'path' | 'query';
  description: string;
  required?: boolean;
  format?: 'int32';
  minimum?: number;
  maximum?: number;
  default?: string;
}

export interface MethodSpec {
  id: V1beta2MethodId;
  httpMethod: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the service path, in discovery's `{param}` syntax. */
  path: string;
  description: string;
  parameters: Record<string, ParameterSpec>;
  /** Required parameters, in the order generated clients take them. */
  parameterOrder: string[];
  request?: V1beta2SchemaName;
  response?: V1beta2SchemaName;
  /** What a token needs on the path's queue (App Engine's queue ACL, src/auth/permissions.ts). */
  action: Action;
}

const project: ParameterSpec = {
  type: 'string',
  location: 'path',
  required: true,
  description:
    'The project under which the queue lies. A `<partition>~` prefix (s~, e~, dev~) is ignored.',
};
const taskqueue: ParameterSpec = {
  type: 'string',
  location: 'path',
  required: true,
  description: 'The taskqueue: 1 to 100 of a-z, A-Z, 0-9 and -.',
};
const task: ParameterSpec = {
  type: 'string',
  location: 'path',
  required: true,
  description: 'The task id: 1 to 500 of a-z, A-Z, 0-9, _ and -.',
};
const newLeaseSeconds: ParameterSpec = {
  type: 'integer',
  location: 'query',
  required: true,
  format: 'int32',
  minimum: 0,
  maximum: 604800,
  description: 'The new lease in seconds, counted from now; 0 releases the task at once.',
};
const leaseBody = 'The task as leased: `leaseTimestamp` (the lease to change) is required.';

export const V1BETA2_METHODS: readonly MethodSpec[] = [
  {
    id: 'taskqueues.get',
    action: 'getQueue',
    httpMethod: 'GET',
    path: '{project}/taskqueues/{taskqueue}',
    description: 'Get detailed information about a TaskQueue.',
    parameters: {
      project,
      taskqueue,
      getStats: {
        type: 'boolean',
        location: 'query',
        description: 'Whether to get stats.',
      },
    },
    parameterOrder: ['project', 'taskqueue'],
    response: 'TaskQueue',
  },
  {
    id: 'tasks.insert',
    action: 'insert',
    httpMethod: 'POST',
    path: '{project}/taskqueues/{taskqueue}/tasks',
    description: 'Insert a new task in a TaskQueue. `payloadBase64` is required.',
    parameters: { project, taskqueue },
    parameterOrder: ['project', 'taskqueue'],
    request: 'Task',
    response: 'Task',
  },
  {
    id: 'tasks.get',
    action: 'get',
    httpMethod: 'GET',
    path: '{project}/taskqueues/{taskqueue}/tasks/{task}',
    description: 'Get a particular task from a TaskQueue (does not lease it).',
    parameters: { project, taskqueue, task },
    parameterOrder: ['project', 'taskqueue', 'task'],
    response: 'Task',
  },
  {
    id: 'tasks.list',
    action: 'list',
    httpMethod: 'GET',
    path: '{project}/taskqueues/{taskqueue}/tasks',
    description: 'List the first 100 tasks of a TaskQueue in insertion order, without payloads.',
    parameters: { project, taskqueue },
    parameterOrder: ['project', 'taskqueue'],
    response: 'Tasks2',
  },
  {
    id: 'tasks.lease',
    action: 'lease',
    httpMethod: 'POST',
    path: '{project}/taskqueues/{taskqueue}/tasks/lease',
    description: 'Lease 1 or more tasks from a TaskQueue.',
    parameters: {
      project,
      taskqueue,
      numTasks: {
        type: 'integer',
        location: 'query',
        required: true,
        format: 'int32',
        minimum: 1,
        maximum: 1000,
        description: 'The number of tasks to lease.',
      },
      leaseSecs: {
        type: 'integer',
        location: 'query',
        required: true,
        format: 'int32',
        minimum: 0,
        maximum: 604800,
        description: 'The lease in seconds.',
      },
      groupByTag: {
        type: 'boolean',
        location: 'query',
        description: 'When true, all returned tasks will have the same tag.',
      },
      tag: {
        type: 'string',
        location: 'query',
        description:
          'The tag allowed for tasks in the response. Only with groupByTag; without a tag, ' +
          'the tag of the oldest available task is used (untagged tasks are a group too).',
      },
    },
    parameterOrder: ['project', 'taskqueue', 'numTasks', 'leaseSecs'],
    response: 'Tasks',
  },
  {
    id: 'tasks.update',
    action: 'update',
    httpMethod: 'POST',
    path: '{project}/taskqueues/{taskqueue}/tasks/{task}',
    description: `Change the lease of a leased task. ${leaseBody} The body's \`id\` names the task.`,
    parameters: { project, taskqueue, task, newLeaseSeconds },
    parameterOrder: ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    request: 'Task',
    response: 'Task',
  },
  {
    id: 'tasks.patch',
    action: 'update',
    httpMethod: 'PATCH',
    path: '{project}/taskqueues/{taskqueue}/tasks/{task}',
    description: `Change the lease of a leased task. ${leaseBody} \`queueName\` is required.`,
    parameters: { project, taskqueue, task, newLeaseSeconds },
    parameterOrder: ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    request: 'Task',
    response: 'Task',
  },
  {
    id: 'tasks.delete',
    action: 'delete',
    httpMethod: 'DELETE',
    path: '{project}/taskqueues/{taskqueue}/tasks/{task}',
    description: 'Delete a task from a TaskQueue, leased or not.',
    parameters: { project, taskqueue, task },
    parameterOrder: ['project', 'taskqueue', 'task'],
  },
];

/** Query parameters every method accepts; pullq honours `fields` and ignores the rest. */
export const STANDARD_PARAMETERS: Record<string, ParameterSpec> = {
  alt: {
    type: 'string',
    location: 'query',
    default: 'json',
    description: 'Data format for the response (only json).',
  },
  fields: {
    type: 'string',
    location: 'query',
    description: 'Selector specifying which fields to include in a partial response.',
  },
  key: {
    type: 'string',
    location: 'query',
    description: 'The access token, when neither an Authorization header nor oauth_token is sent.',
  },
  oauth_token: {
    type: 'string',
    location: 'query',
    description: 'The access token, when no Authorization header is sent.',
  },
  prettyPrint: {
    type: 'boolean',
    location: 'query',
    default: 'true',
    description: 'Returns response with indentations and line breaks (ignored).',
  },
  quotaUser: { type: 'string', location: 'query', description: 'Ignored.' },
  userIp: { type: 'string', location: 'query', description: 'Ignored.' },
};

/** The Fastify URL of a method: `/taskqueue/v1beta2/projects/:project/...`. */
export function routeUrl(method: MethodSpec): string {
  return `/${V1BETA2_SERVICE_PATH}${method.path.replace(/\{(\w+)\}/g, ':$1')}`;
}
