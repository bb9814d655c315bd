/**
 * The v1beta2 resource schemas in discovery form: what ../../protocol/v1beta2.ts emits
 * (int64 as strings, times in microseconds, `retry_count` snake_case).
 */
import type { V1beta2SchemaName } from '../routes/v1beta2-methods.ts';

export interface JsonSchema {
  id?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  format?: 'int32' | 'int64';
  description?: string;
  default?: string;
  $ref?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
}

const int64 = (description: string): JsonSchema => ({
  type: 'string',
  format: 'int64',
  description,
});
const int32 = (description: string): JsonSchema => ({
  type: 'integer',
  format: 'int32',
  description,
});
const string = (description: string): JsonSchema => ({ type: 'string', description });
const emails = (description: string): JsonSchema => ({
  type: 'array',
  description,
  items: { type: 'string' },
});

const tasksList = (id: string, description: string): JsonSchema => ({
  id,
  type: 'object',
  properties: {
    items: { type: 'array', description, items: { $ref: 'Task' } },
    kind: {
      ...string('The kind of object returned, a list of tasks.'),
      default: 'taskqueues#tasks',
    },
  },
});

export const V1BETA2_SCHEMAS: Record<V1beta2SchemaName, JsonSchema> = {
  Task: {
    id: 'Task',
    type: 'object',
    properties: {
      enqueueTimestamp: int64(
        'Time (in microseconds since the epoch) at which the task was enqueued.',
      ),
      id: string('Name of the task.'),
      kind: {
        ...string('The kind of object returned, in this case set to task.'),
        default: 'taskqueues#task',
      },
      leaseTimestamp: int64(
        'Time (in microseconds since the epoch) at which the task lease will expire; while the ' +
          'task is not leased, the time it becomes leasable (its ETA).',
      ),
      payloadBase64: string('The task payload, web-safe base64 (left out by tasks.list).'),
      queueName: string(
        'Name of the queue that the task is in (projects/<project>/taskqueues/<queue> in lease responses).',
      ),
      retry_count: int32('The number of leases applied to this task.'),
      tag: string('Tag for the task, to lease tasks grouped by tag later.'),
    },
  },
  TaskQueue: {
    id: 'TaskQueue',
    type: 'object',
    properties: {
      acl: {
        type: 'object',
        description: 'ACLs that are applicable to this TaskQueue object.',
        properties: {
          adminEmails: emails('Email addresses of users who can administer the queue.'),
          consumerEmails: emails(
            'Email addresses of users who can list, get, lease, update and delete tasks.',
          ),
          producerEmails: emails('Email addresses of users who can insert tasks.'),
        },
      },
      id: string('Name of the taskqueue.'),
      kind: {
        ...string('The kind of REST object returned, in this case taskqueue.'),
        default: 'taskqueues#taskqueue',
      },
      maxLeases: int32('The number of times a task may be leased; unset means unlimited.'),
      stats: {
        type: 'object',
        description: 'Statistics for the TaskQueue object in question (with getStats=true).',
        properties: {
          leasedLastHour: int64('Number of tasks leased in the last hour.'),
          leasedLastMinute: int64('Number of tasks leased in the last minute.'),
          oldestTask: int64(
            'The ETA of the oldest unfinished task, in SECONDS since the epoch (0: none).',
          ),
          totalTasks: int32('Number of tasks in the queue (ready, delayed and leased).'),
        },
      },
    },
  },
  Tasks: tasksList('Tasks', 'The tasks leased by the lease operation.'),
  Tasks2: tasksList('Tasks2', 'The first 100 tasks of the queue, without payloads.'),
};
