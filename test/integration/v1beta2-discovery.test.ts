/**
 * The served discovery document against Google's v1beta2 method list and against the routes
 * the server really answers.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { V1beta2Inject, googleError, ok, type Json } from './v1beta2-inject.ts';

const s = new V1beta2Inject();

describe('v1beta2 discovery document', () => {
  beforeEach(() => s.start());
  afterEach(s.stop);

  /** The v1beta2 methods as Google's discovery document (revision 20130318) lists them. */
  const GOOGLE_METHODS = {
    'taskqueue.taskqueues.get': [
      'GET',
      '{project}/taskqueues/{taskqueue}',
      ['project', 'taskqueue', 'getStats'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.insert': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks',
      ['project', 'taskqueue'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.get': [
      'GET',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task'],
      ['project', 'taskqueue', 'task'],
    ],
    'taskqueue.tasks.list': [
      'GET',
      '{project}/taskqueues/{taskqueue}/tasks',
      ['project', 'taskqueue'],
      ['project', 'taskqueue'],
    ],
    'taskqueue.tasks.lease': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks/lease',
      ['project', 'taskqueue', 'numTasks', 'leaseSecs', 'groupByTag', 'tag'],
      ['project', 'taskqueue', 'numTasks', 'leaseSecs'],
    ],
    'taskqueue.tasks.update': [
      'POST',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    ],
    'taskqueue.tasks.patch': [
      'PATCH',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
      ['project', 'taskqueue', 'task', 'newLeaseSeconds'],
    ],
    'taskqueue.tasks.delete': [
      'DELETE',
      '{project}/taskqueues/{taskqueue}/tasks/{task}',
      ['project', 'taskqueue', 'task'],
      ['project', 'taskqueue', 'task'],
    ],
  } as const;

  interface Method {
    id: string;
    httpMethod: string;
    path: string;
    parameters: Record<string, { location: string; required?: boolean; type: string }>;
    parameterOrder: string[];
    request?: { $ref: string };
    response?: { $ref: string };
  }

  async function document(
    host = 'queues.example:8443',
  ): Promise<Json & { resources: Record<string, { methods: Record<string, Method> }> }> {
    return ok(
      await s.app.inject({
        method: 'GET',
        url: '/discovery/v1/apis/taskqueue/v1beta2/rest',
        headers: { host },
      }),
    ) as never;
  }

  it('points rootUrl at the server as the request reached it, with Google’s service path', async () => {
    const doc = await document();
    assert.equal(doc['rootUrl'], 'http://queues.example:8443/');
    assert.equal(doc['servicePath'], 'taskqueue/v1beta2/projects/');
    assert.equal(doc['baseUrl'], 'http://queues.example:8443/taskqueue/v1beta2/projects/');
    assert.equal(doc['id'], 'taskqueue:v1beta2');
    assert.equal(doc['discoveryVersion'], 'v1');
  });

  it('lists exactly Google’s v1beta2 methods, ids, verbs, paths and parameter names', async () => {
    const doc = await document();
    const methods = Object.values(doc.resources).flatMap((resource) =>
      Object.values(resource.methods),
    );
    assert.deepEqual(methods.map((m) => m.id).sort(), Object.keys(GOOGLE_METHODS).sort());
    for (const method of methods) {
      const [httpMethod, path, parameters, order] =
        GOOGLE_METHODS[method.id as keyof typeof GOOGLE_METHODS];
      assert.equal(method.httpMethod, httpMethod, method.id);
      assert.equal(method.path, path, method.id);
      assert.deepEqual(Object.keys(method.parameters).sort(), [...parameters].sort(), method.id);
      assert.deepEqual(method.parameterOrder, order, method.id);
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const parameter = method.parameters[name.slice(1, -1)];
        assert.equal(parameter?.location, 'path', `${method.id} ${name}`);
        assert.equal(parameter?.required, true, `${method.id} ${name}`);
      }
      for (const ref of [method.request?.$ref, method.response?.$ref]) {
        if (ref) assert.ok((doc['schemas'] as Json)[ref], `${method.id} refers to schema ${ref}`);
      }
    }
  });

  it('every method it lists is a route the server answers with its verb', async () => {
    const doc = await document();
    await s.insert('q', { id: 't' });
    for (const resource of Object.values(doc.resources)) {
      for (const method of Object.values(resource.methods)) {
        const url = `/${String(doc['servicePath'])}${method.path}`
          .replace('{project}', 's~app')
          .replace('{taskqueue}', 'q')
          .replace('{task}', 't');
        const res = await s.app.inject({ method: method.httpMethod as 'GET', url });
        const message = res.statusCode === 404 ? googleError(res, 404, 'notFound') : '';
        assert.doesNotMatch(message, /^no route/, `${method.httpMethod} ${url}`);
      }
    }
  });

  it('types int64 fields as strings and int32 fields as integers in the schemas', async () => {
    const doc = await document();
    const task = (doc['schemas'] as Record<string, { properties: Record<string, Json> }>)['Task'];
    assert.deepEqual(task?.properties['leaseTimestamp'], {
      ...task?.properties['leaseTimestamp'],
      type: 'string',
      format: 'int64',
    });
    assert.deepEqual(task?.properties['enqueueTimestamp'], {
      ...task?.properties['enqueueTimestamp'],
      type: 'string',
      format: 'int64',
    });
    assert.deepEqual(task?.properties['retry_count'], {
      ...task?.properties['retry_count'],
      type: 'integer',
      format: 'int32',
    });
  });
});
