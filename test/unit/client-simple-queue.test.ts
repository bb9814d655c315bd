/**
 * SimpleQueue rules that need no server: prefetched leases kept alive as they are handed out,
 * lost ones skipped, large batches split, bad puts refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Connection } from '../../src/client/connection.ts';
import { PullqError } from '../../src/protocol/errors.ts';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SimpleQueue prefetch', () => {
  it('a buffered task past half its lease is extended as it is handed out', async () => {
    await using connection = new Connection('memory://', { numTasks: 3, leaseSeconds: 1 });
    const queue = connection.simpleQueue<number>('q');
    await queue.putMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const first = await queue.get({ timeout: 1 });
    assert.equal(first?.body, 1);
    await delay(600);
    const second = await queue.get({ timeout: 1 });
    assert.equal(second?.body, 2);
    const left = second.leaseExpiresAt.getTime() - Date.now();
    assert.ok(left > 700, `the handed-out lease has only ${left} ms left`);
  });

  it('a buffered task whose lease ran out and went to another consumer is skipped', async () => {
    await using connection = new Connection('memory://prefetch-lost', {
      numTasks: 2,
      leaseSeconds: 1,
    });
    const queue = connection.simpleQueue<number>('q');
    await queue.putMany([{ body: 1 }, { body: 2 }]);
    assert.equal((await queue.get({ timeout: 1 }))?.body, 1);
    await delay(1200);
    await using other = new Connection('memory://prefetch-lost');
    const stolen = await other.simpleQueue<number>('q').get({ timeout: 1 });
    assert.ok(stolen, 'the other consumer got nothing');
    // Task 1's lease ran out too; whichever it got, the first consumer must not hand out the
    // one the other consumer holds.
    const next = await queue.get({ timeout: 0.3 });
    assert.notEqual(next?.id, stolen.id);
  });
});

describe('SimpleQueue put', () => {
  it('putMany of more than 1000 messages goes in several requests, all inserted', async () => {
    await using connection = new Connection('memory://');
    const queue = connection.simpleQueue<number>('big');
    const results = await queue.putMany(Array.from({ length: 2500 }, (_, n) => ({ body: n })));
    assert.equal(results.length, 2500);
    assert.ok(results.every((result) => result.ok));
    assert.equal(await queue.qsize(), 2500);
  });

  it('a body the serializer cannot encode is refused and nothing is inserted', async () => {
    await using connection = new Connection('memory://');
    const queue = connection.simpleQueue<unknown>('q');
    await assert.rejects(queue.putMany([{ body: 'fine' }, { body: { n: 10n } }]), {
      code: 'invalid_argument',
    });
    assert.equal(await queue.qsize(), 0);
  });

  it('eta and delaySeconds together are refused', async () => {
    await using connection = new Connection('memory://');
    await assert.rejects(
      connection.simpleQueue('q').put('x', { eta: new Date(), delaySeconds: 1 }),
      { code: 'invalid_argument' },
    );
  });

  it('an eta as a Date holds the task until then', async () => {
    await using connection = new Connection('memory://', { pollingInterval: 0.05 });
    const queue = connection.simpleQueue('q');
    await queue.put('x', { eta: new Date(Date.now() + 400) });
    assert.equal(await queue.getNowait(), null);
    assert.ok(await queue.get({ timeout: 2 }));
  });
});

describe('SimpleQueue on a missing queue', () => {
  it('a consumer that may not create its queue fails queue_not_found saying what to do', async () => {
    await using connection = new Connection('memory://', { autoCreateQueues: false });
    await assert.rejects(connection.simpleQueue('absent').get({ timeout: 1 }), (error: unknown) => {
      assert.ok(error instanceof PullqError);
      assert.equal(error.code, 'queue_not_found');
      assert.match(error.message, /autoCreateQueues is off.*pullq queue create absent/);
      return true;
    });
  });
});

describe('what connection.close gives back', () => {
  it('a message held from a queue closed earlier is still given back', async () => {
    const connection = new Connection('memory://held-after-queue-close');
    await using other = new Connection('memory://held-after-queue-close');
    const queue = connection.simpleQueue<string>('q');
    await queue.put('in hand');
    const message = await queue.get({ timeout: 1 });
    assert.ok(message);
    await queue.close();
    await connection.close();
    assert.equal(message.state, 'released');
    assert.equal((await other.simpleQueue<string>('q').get({ timeout: 1 }))?.body, 'in hand');
  });

  it('a task leased by a getNowait under way when its queue closes is given back', async () => {
    await using connection = new Connection('memory://nowait-close');
    const queue = connection.simpleQueue<string>('q');
    await queue.put('caught in the middle');
    const nowait = queue.getNowait();
    await queue.close();
    const got = await nowait;
    if (got === null) {
      const again = await connection.simpleQueue<string>('q').get({ timeout: 1 });
      assert.equal(
        again?.body,
        'caught in the middle',
        'the task was neither handed out nor given back',
      );
    } else {
      assert.equal(got.body, 'caught in the middle');
    }
  });
});
