/**
 * The v1beta2 surface through `app.inject()`: App Engine's path and encoding quirks and the
 * behaviour of each method. Bad input is in v1beta2-bad-input.test.ts, the discovery
 * document in v1beta2-discovery.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { START, V1beta2Inject, b64, googleError, ok, type Json } from './v1beta2-inject.ts';

const s = new V1beta2Inject();

describe('v1beta2 paths', () => {
  beforeEach(() => s.start());
  afterEach(s.stop);

  it('accepts partition-prefixed, percent-encoded and domain-scoped project ids for the same queue', async () => {
    await s.insert('q', { id: 'one' });
    for (const project of [
      'app',
      's~app',
      'e~app',
      'dev~app',
      's%7Eapp',
      'example.com:app',
      'example.com%3Aapp',
    ]) {
      const task = ok(
        await s.call('GET', `/taskqueue/v1beta2/projects/${project}/taskqueues/q/tasks/one`),
      );
      assert.equal(task['id'], 'one', project);
    }
  });

  it('refuses a project id that is not an app id with 400 invalid', async () => {
    googleError(
      await s.call('GET', '/taskqueue/v1beta2/projects/bad%20app/taskqueues/q'),
      400,
      'invalid',
    );
    googleError(await s.call('GET', '/taskqueue/v1beta2/projects/s~/taskqueues/q'), 400, 'invalid');
  });

  it('POST .../tasks/lease is the lease even when a task is named "lease"; GET and DELETE reach the task', async () => {
    await s.insert('q', { id: 'lease', payloadBase64: b64('named lease') });
    googleError(await s.call('POST', 'q/tasks/lease'), 400, 'required');
    const task = ok(await s.call('GET', 'q/tasks/lease'));
    assert.equal(
      Buffer.from(task['payloadBase64'] as string, 'base64url').toString(),
      'named lease',
    );
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(leased?.['id'], 'lease');
    ok(await s.call('DELETE', 'q/tasks/lease'), 204);
    googleError(await s.call('GET', 'q/tasks/lease'), 404, 'notFound');
  });

  it('ignores the standard parameters alt, prettyPrint, prettyprint, key, quotaUser, userIp and oauth_token', async () => {
    await s.insert('q', { id: 'a' });
    const standard = {
      alt: 'json',
      prettyPrint: 'false',
      prettyprint: 'true',
      key: 'k',
      quotaUser: 'u',
      userIp: '10.0.0.1',
      oauth_token: 't',
    };
    assert.equal(ok(await s.call('GET', 'q/tasks/a', { query: standard }))['id'], 'a');
    const leased = await s.lease('q', { numTasks: 1, leaseSecs: 5, ...standard });
    assert.equal(leased.length, 1);
  });

  it('honours fields partial responses, and refuses a malformed selector before leasing', async () => {
    await s.insert('q', { id: 'a', tag: 't' });
    const list = ok(await s.call('GET', 'q/tasks', { query: { fields: 'items(id,tag)' } }));
    assert.deepEqual(list, { items: [{ id: 'a', tag: 't' }] });
    const queue = ok(
      await s.call('GET', 'q', { query: { getStats: true, fields: 'id,stats/totalTasks' } }),
    );
    assert.deepEqual(queue, { id: 'q', stats: { totalTasks: 1 } });
    googleError(
      await s.call('POST', 'q/tasks/lease', {
        query: { numTasks: 1, leaseSecs: 60, fields: 'items(id' },
      }),
      400,
      'invalidParameter',
    );
    assert.equal(
      (await s.lease('q', { numTasks: 1, leaseSecs: 60 })).length,
      1,
      'the bad lease leased nothing',
    );
  });
});

describe('v1beta2 tasks', () => {
  beforeEach(() => s.start());
  afterEach(s.stop);

  it('insert normalises a payload without padding and answers web-safe base64 with padding', async () => {
    assert.equal((await s.insert('q', { payloadBase64: 'asdf123' }))['payloadBase64'], 'asdf120=');
    assert.equal(
      (await s.insert('q', { payloadBase64: '_NDQaWRvMm_1UQ==' }))['payloadBase64'],
      '_NDQaWRvMm_1UQ==',
    );
    const bytes = Buffer.from([0xfb, 0xef, 0xff]);
    const task = await s.insert('q', { payloadBase64: bytes.toString('base64url') });
    assert.equal(task['payloadBase64'], '--__');
  });

  it('insert answers microsecond int64 strings and the ETA as leaseTimestamp; numbers are accepted on input', async () => {
    const task = await s.insert('q', { id: 'a' });
    assert.equal(task['enqueueTimestamp'], String(START * 1000));
    assert.equal(task['leaseTimestamp'], String(START * 1000));
    assert.equal(task['retry_count'], 0);
    const later = await s.insert('q', { id: 'b', leaseTimestamp: (START + 5000) * 1000 });
    assert.equal(later['leaseTimestamp'], String((START + 5000) * 1000));
    assert.deepEqual(
      (await s.lease('q', { numTasks: 10, leaseSecs: 60 })).map((t) => t['id']),
      ['a'],
    );
    s.now += 5000;
    assert.deepEqual(
      (await s.lease('q', { numTasks: 10, leaseSecs: 1 })).map((t) => t['id']),
      ['b'],
    );
  });

  it('insert treats an empty id and an empty tag as none, and accepts its own queue name short or long', async () => {
    const task = await s.insert('q', { id: '', tag: '', queueName: 'q' });
    assert.match(task['id'] as string, /^[A-Za-z0-9_-]+$/);
    assert.equal(task['tag'], undefined);
    await s.insert('q', { queueName: 'projects/s~app/taskqueues/q' });
    googleError(
      await s.call('POST', 'q/tasks', { body: { payloadBase64: 'eA', queueName: 'other' } }),
      400,
      'invalid',
    );
  });

  it('insert into an unknown queue creates it, unless auto-creation is off (404)', async () => {
    await s.insert('fresh', {});
    ok(await s.call('GET', 'fresh'));
    await s.stop();
    await s.start({ autoCreateQueues: false });
    googleError(
      await s.call('POST', 'fresh/tasks', { body: { payloadBase64: 'eA' } }),
      404,
      'notFound',
    );
  });

  it('list answers at most 100 tasks in insertion order, without payloads; an empty queue has no items', async () => {
    await s.backend.createQueue('empty');
    assert.deepEqual(ok(await s.call('GET', 'empty/tasks')), { kind: 'taskqueues#tasks' });
    for (let i = 0; i < 105; i += 1) await s.insert('q', { id: `t${i}` });
    const items = ok(await s.call('GET', 'q/tasks'))['items'] as Json[];
    assert.equal(items.length, 100);
    assert.deepEqual(
      items.slice(0, 3).map((t) => t['id']),
      ['t0', 't1', 't2'],
    );
    assert.ok(items.every((t) => t['payloadBase64'] === undefined));
  });

  it('lease takes numTasks and leaseSecs from a form or JSON body too, the query string first', async () => {
    for (let i = 0; i < 5; i += 1) await s.insert('q', {});
    const form = ok(
      await s.call('POST', 'q/tasks/lease', {
        body: 'numTasks=2&leaseSecs=60',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    assert.equal((form['items'] as Json[]).length, 2);
    const json = ok(
      await s.call('POST', 'q/tasks/lease', { body: { numTasks: 1, leaseSecs: 60 } }),
    );
    assert.equal((json['items'] as Json[]).length, 1);
    const both = ok(
      await s.call('POST', 'q/tasks/lease', {
        query: { numTasks: 1, leaseSecs: 60 },
        body: { numTasks: 5 },
      }),
    );
    assert.equal((both['items'] as Json[]).length, 1);
  });

  it('lease ignores an empty JSON body and a JSON-C body', async () => {
    await s.insert('q', {});
    await s.insert('q', {});
    assert.equal((await s.lease('q', { numTasks: 1, leaseSecs: 60 })).length, 1);
    const res = await s.call('POST', 'q/tasks/lease', {
      query: { numTasks: 1, leaseSecs: 60 },
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal((ok(res)['items'] as Json[]).length, 1);
    const jsonC = await s.call('POST', 'q/tasks/lease', {
      body: { data: { numTasks: 1, leaseSecs: 60 } },
    });
    assert.deepEqual(ok(jsonC), { kind: 'taskqueues#tasks' });
  });

  it('lease answers the long queue name with the project as the path gave it', async () => {
    await s.insert('q', {});
    const [task] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(task?.['queueName'], 'projects/s~app/taskqueues/q');
    assert.equal(task?.['leaseTimestamp'], String((START + 60_000) * 1000));
    assert.equal(task?.['retry_count'], 1);
  });

  it('lease with an empty tag and no groupByTag leases any task; groupByTag groups untagged tasks too', async () => {
    await s.insert('q', { id: 'plain1' });
    await s.insert('q', { id: 'tagged', tag: 'x' });
    await s.insert('q', { id: 'plain2' });
    const grouped = await s.lease('q', { numTasks: 10, leaseSecs: 60, groupByTag: true });
    assert.deepEqual(
      grouped.map((t) => t['id']),
      ['plain1', 'plain2'],
    );
    const rest = await s.lease('q', { numTasks: 10, leaseSecs: 60, tag: '' });
    assert.deepEqual(
      rest.map((t) => t['id']),
      ['tagged'],
    );
  });

  it('update takes the task id from the body, as App Engine did, and does not count an attempt', async () => {
    await s.insert('q', { id: 'real' });
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    s.now += 1000;
    const updated = ok(
      await s.call('POST', 'q/tasks/ignored', {
        query: { newLeaseSeconds: 300 },
        body: { id: 'real', leaseTimestamp: leased?.['leaseTimestamp'] },
      }),
    );
    assert.equal(updated['id'], 'real');
    assert.equal(updated['leaseTimestamp'], String((START + 1000 + 300_000) * 1000));
    assert.equal(updated['retry_count'], 1);
  });

  it('update accepts leaseTimestamp as a JSON number and the new one is the next fence', async () => {
    await s.insert('q', { id: 'a' });
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    const first = ok(
      await s.call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 120 },
        body: { leaseTimestamp: Number(leased?.['leaseTimestamp']) },
      }),
    );
    const again = await s.call('POST', 'q/tasks/a', {
      query: { newLeaseSeconds: 120 },
      body: { leaseTimestamp: leased?.['leaseTimestamp'] },
    });
    googleError(again, 400, 'invalid');
    ok(
      await s.call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 10 },
        body: { leaseTimestamp: first['leaseTimestamp'] },
      }),
    );
  });

  it('update with newLeaseSeconds=0 releases the task: leasable at once', async () => {
    await s.insert('q', { id: 'a' });
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 600 });
    const released = ok(
      await s.call('POST', 'q/tasks/a', {
        query: { newLeaseSeconds: 0 },
        body: { leaseTimestamp: leased?.['leaseTimestamp'] },
      }),
    );
    assert.equal(released['leaseTimestamp'], String(START * 1000));
    const [again] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    assert.equal(again?.['retry_count'], 2);
  });

  it('update and patch on an expired lease fail with 400 invalid even with the right leaseTimestamp', async () => {
    await s.insert('q', { id: 'a' });
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    s.now += 61_000;
    const fence = { leaseTimestamp: leased?.['leaseTimestamp'] };
    googleError(
      await s.call('POST', 'q/tasks/a', { query: { newLeaseSeconds: 60 }, body: fence }),
      400,
      'invalid',
    );
    googleError(
      await s.call('PATCH', 'q/tasks/a', {
        query: { newLeaseSeconds: 60 },
        body: { ...fence, queueName: 'q' },
      }),
      400,
      'invalid',
    );
  });

  it('patch needs queueName and refuses a changed queueName or id', async () => {
    await s.insert('q', { id: 'a' });
    const [leased] = await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    const fence = { leaseTimestamp: leased?.['leaseTimestamp'] };
    const query = { newLeaseSeconds: 30 };
    googleError(await s.call('PATCH', 'q/tasks/a', { query, body: fence }), 400, 'required');
    googleError(
      await s.call('PATCH', 'q/tasks/a', { query, body: { ...fence, queueName: 'other' } }),
      400,
      'invalid',
    );
    googleError(
      await s.call('PATCH', 'q/tasks/a', { query, body: { ...fence, queueName: 'q', id: 'b' } }),
      400,
      'invalid',
    );
    const patched = ok(
      await s.call('PATCH', 'q/tasks/a', {
        query,
        body: { ...fence, id: 'a', queueName: leased?.['queueName'] },
      }),
    );
    assert.equal(patched['leaseTimestamp'], String((START + 30_000) * 1000));
  });

  it('delete needs no lease, answers 204, 204 again while tombstoned, and 404 for a name never used', async () => {
    await s.insert('q', { id: 'a' });
    await s.lease('q', { numTasks: 1, leaseSecs: 60 });
    const res = await s.call('DELETE', 'q/tasks/a');
    ok(res, 204);
    assert.equal(res.body, '');
    ok(await s.call('DELETE', 'q/tasks/a'), 204);
    googleError(await s.call('DELETE', 'q/tasks/never'), 404, 'notFound');
  });

  it('taskqueues.get answers maxLeases when set and stats only with getStats', async () => {
    await s.backend.createQueue('limited', { maxLeases: 3 });
    await s.insert('limited', { id: 'a' });
    await s.insert('limited', { id: 'b', leaseTimestamp: (START + 60_000) * 1000 });
    await s.lease('limited', { numTasks: 1, leaseSecs: 60 });
    const queue = ok(await s.call('GET', 'limited', { query: { getStats: 'true' } }));
    assert.equal(queue['kind'], 'taskqueues#taskqueue');
    assert.equal(queue['maxLeases'], 3);
    assert.deepEqual(queue['stats'], {
      totalTasks: 2,
      oldestTask: String(START / 1000 + 60),
      leasedLastMinute: '1',
      leasedLastHour: '1',
    });
    assert.equal(
      ok(await s.call('GET', 'limited', { query: { getStats: false } }))['stats'],
      undefined,
    );
    await s.backend.createQueue('idle');
    const idle = ok(await s.call('GET', 'idle', { query: { getStats: true } }));
    assert.deepEqual(idle['stats'], {
      totalTasks: 0,
      oldestTask: '0',
      leasedLastMinute: '0',
      leasedLastHour: '0',
    });
  });
});
