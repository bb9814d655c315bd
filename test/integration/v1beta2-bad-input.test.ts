/**
 * Every bad v1beta2 input answers its exact status and the Google error envelope, changes
 * nothing, and the server keeps serving.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  START,
  V1beta2Inject,
  googleError,
  ok,
  type Json,
  type V1beta2Request,
  type Verb,
} from './v1beta2-inject.ts';

const MiB = 1024 * 1024;
const s = new V1beta2Inject();

describe('v1beta2 bad input: exact status and Google envelope, and the server keeps serving', () => {
  beforeEach(async () => {
    await s.start();
    await s.insert('q', { id: 'existing' });
  });
  afterEach(s.stop);

  const leaseQuery = (query: Json): V1beta2Request => ({ query: query as V1beta2Request['query'] });
  const bigPayload = Buffer.alloc(MiB + 1).toString('base64url');
  const cases: [
    name: string,
    method: Verb,
    path: string,
    request: V1beta2Request,
    status: number,
    reason: string,
  ][] = [
    [
      'malformed JSON',
      'POST',
      'q/tasks',
      { body: '{"payloadBase64": ', headers: { 'content-type': 'application/json' } },
      400,
      'parseError',
    ],
    ['a JSON array body', 'POST', 'q/tasks', { body: [] }, 400, 'invalid'],
    [
      'a JSON string body',
      'POST',
      'q/tasks',
      { body: '"text"', headers: { 'content-type': 'application/json' } },
      400,
      'invalid',
    ],
    ['no body on insert', 'POST', 'q/tasks', {}, 400, 'required'],
    ['payloadBase64 missing', 'POST', 'q/tasks', { body: { id: 'x' } }, 400, 'required'],
    ['payloadBase64 a number', 'POST', 'q/tasks', { body: { payloadBase64: 12 } }, 400, 'invalid'],
    ['id a number', 'POST', 'q/tasks', { body: { payloadBase64: 'eA', id: 7 } }, 400, 'invalid'],
    [
      'tag an object',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', tag: {} } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp not an integer',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: 'soon' } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp a fraction',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: 1.5 } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp negative',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: '-5' } },
      400,
      'invalid',
    ],
    [
      'payload over 1 MiB decoded',
      'POST',
      'q/tasks',
      { body: { payloadBase64: bigPayload } },
      413,
      'uploadTooLarge',
    ],
    [
      'a body over the route limit',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'A'.repeat(5 * MiB) } },
      413,
      'uploadTooLarge',
    ],
    [
      'base64 with +',
      'POST',
      'q/tasks',
      { body: { payloadBase64: '+NDQaWRvMm+1UQ==' } },
      400,
      'invalid',
    ],
    [
      'base64 with /',
      'POST',
      'q/tasks',
      { body: { payloadBase64: '/NDQaWRvMm/1UQ==' } },
      400,
      'invalid',
    ],
    [
      'base64 with #',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'invalid#payload' } },
      400,
      'invalid',
    ],
    [
      'base64 of impossible length',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'abcde' } },
      400,
      'invalid',
    ],
    [
      'a queue name with _',
      'POST',
      'bad_queue/tasks',
      { body: { payloadBase64: 'eA' } },
      400,
      'invalid',
    ],
    ['a queue name of 101 characters', 'GET', `${'q'.repeat(101)}/tasks`, {}, 400, 'invalid'],
    [
      'a task id with .',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'a.b' } },
      400,
      'invalid',
    ],
    [
      'a task id of 501 characters',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'a'.repeat(501) } },
      400,
      'invalid',
    ],
    ['a task id with . in the path', 'GET', 'q/tasks/a.b', {}, 400, 'invalid'],
    [
      'a tag over 500 bytes',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', tag: 'é'.repeat(251) } },
      400,
      'invalid',
    ],
    [
      'an ETA over 30 days ahead',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', leaseTimestamp: (START + 31 * 86_400_000) * 1000 } },
      400,
      'invalid',
    ],
    [
      'a duplicate name',
      'POST',
      'q/tasks',
      { body: { payloadBase64: 'eA', id: 'existing' } },
      400,
      'duplicate',
    ],
    ['numTasks missing', 'POST', 'q/tasks/lease', leaseQuery({ leaseSecs: 60 }), 400, 'required'],
    ['leaseSecs missing', 'POST', 'q/tasks/lease', leaseQuery({ numTasks: 1 }), 400, 'required'],
    [
      'numTasks 0',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 0, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks 1001',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1001, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks not a number',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 'many', leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'numTasks a fraction',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1.5, leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'leaseSecs -1',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: -1 }),
      400,
      'invalid',
    ],
    [
      'leaseSecs 604801',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 604801 }),
      400,
      'invalid',
    ],
    [
      'numTasks given twice',
      'POST',
      'q/tasks/lease?numTasks=1&numTasks=2',
      leaseQuery({ leaseSecs: 60 }),
      400,
      'invalid',
    ],
    [
      'a tag without groupByTag',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, tag: 'x' }),
      400,
      'invalid',
    ],
    [
      'a lease tag over 500 bytes',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, groupByTag: true, tag: 'x'.repeat(501) }),
      400,
      'invalid',
    ],
    [
      'groupByTag not a boolean',
      'POST',
      'q/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60, groupByTag: 'yes' }),
      400,
      'invalid',
    ],
    ['getStats not a boolean', 'GET', 'q', { query: { getStats: 'maybe' } }, 400, 'invalid'],
    [
      'newLeaseSeconds missing on update',
      'POST',
      'q/tasks/existing',
      { body: { leaseTimestamp: '1' } },
      400,
      'required',
    ],
    [
      'newLeaseSeconds missing on patch',
      'PATCH',
      'q/tasks/existing',
      { body: { leaseTimestamp: '1', queueName: 'q' } },
      400,
      'required',
    ],
    [
      'newLeaseSeconds -1',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: -1 }, body: { leaseTimestamp: '1' } },
      400,
      'invalid',
    ],
    [
      'newLeaseSeconds 604801',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 604801 }, body: { leaseTimestamp: '1' } },
      400,
      'invalid',
    ],
    [
      'leaseTimestamp missing on update',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 60 }, body: { id: 'existing' } },
      400,
      'required',
    ],
    [
      'a stale leaseTimestamp on update',
      'POST',
      'q/tasks/existing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: String(START * 1000) } },
      400,
      'invalid',
    ],
    [
      'a stale leaseTimestamp on patch',
      'PATCH',
      'q/tasks/existing',
      {
        query: { newLeaseSeconds: 60 },
        body: { leaseTimestamp: String(START * 1000), queueName: 'q' },
      },
      400,
      'invalid',
    ],
    ['an unknown task on get', 'GET', 'q/tasks/missing', {}, 404, 'notFound'],
    [
      'an unknown task on update',
      'POST',
      'q/tasks/missing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1' } },
      404,
      'notFound',
    ],
    [
      'an unknown task on patch',
      'PATCH',
      'q/tasks/missing',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1', queueName: 'q' } },
      404,
      'notFound',
    ],
    ['an unknown queue on taskqueues.get', 'GET', 'nope', {}, 404, 'notFound'],
    ['an unknown queue on get', 'GET', 'nope/tasks/a', {}, 404, 'notFound'],
    ['an unknown queue on list', 'GET', 'nope/tasks', {}, 404, 'notFound'],
    [
      'an unknown queue on lease',
      'POST',
      'nope/tasks/lease',
      leaseQuery({ numTasks: 1, leaseSecs: 60 }),
      404,
      'notFound',
    ],
    [
      'an unknown queue on update',
      'POST',
      'nope/tasks/a',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1' } },
      404,
      'notFound',
    ],
    [
      'an unknown queue on patch',
      'PATCH',
      'nope/tasks/a',
      { query: { newLeaseSeconds: 60 }, body: { leaseTimestamp: '1', queueName: 'nope' } },
      404,
      'notFound',
    ],
    ['an unknown queue on delete', 'DELETE', 'nope/tasks/a', {}, 404, 'notFound'],
    ['an unknown route', 'GET', 'q/tasks/a/b', {}, 404, 'notFound'],
  ];

  for (const [name, method, path, request, status, reason] of cases) {
    it(`${name}: ${status} ${reason}`, async () => {
      googleError(await s.call(method, path, request), status, reason);
      // Still serving, and nothing changed.
      const list = ok(await s.call('GET', 'q/tasks'));
      assert.deepEqual(
        (list['items'] as Json[]).map((t) => t['id']),
        ['existing'],
      );
    });
  }

  it('payloadBase64 in the standard alphabet is refused with a message naming the web-safe one', async () => {
    for (const payloadBase64 of ['+NDQaWRvMm+1UQ==', '/NDQaWRvMm/1UQ==']) {
      const message = googleError(
        await s.call('POST', 'q/tasks', { body: { payloadBase64 } }),
        400,
        'invalid',
      );
      assert.match(message, /web-safe base64 alphabet/);
    }
  });

  it('a tombstoned name is refused with 400 duplicate', async () => {
    ok(await s.call('DELETE', 'q/tasks/existing'), 204);
    googleError(
      await s.call('POST', 'q/tasks', { body: { payloadBase64: 'eA', id: 'existing' } }),
      400,
      'duplicate',
    );
  });
});
