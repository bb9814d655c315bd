/**
 * Concurrent puts go out together: at most two insert requests of a queue under way, the puts
 * made meanwhile in the next one, each put with its own result.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InsertOptions, ItemResult, NewTask, Task } from '../../src/backends/backend.ts';
import { MemoryBackend } from '../../src/backends/memory.ts';
import { Connection } from '../../src/client/connection.ts';
import { decodeEnvelope } from '../../src/client/envelope.ts';
import { MAX_INSERTS_IN_FLIGHT, PutBatcher } from '../../src/client/put-batcher.ts';
import type { PutResult } from '../../src/client/put.ts';
import { PullqError } from '../../src/protocol/errors.ts';

/** A send whose answers the test releases one request at a time. */
function gatedSend() {
  const requests: {
    tasks: NewTask[];
    answer(results?: PutResult[]): void;
    fail(e: Error): void;
  }[] = [];
  const send = (tasks: NewTask[]): Promise<PutResult[]> =>
    new Promise((resolve, reject) => {
      requests.push({
        tasks,
        answer: (results) =>
          resolve(results ?? tasks.map((task) => ({ ok: true, id: task.id ?? '?' }))),
        fail: reject,
      });
    });
  return { send, requests };
}

function task(id: string): NewTask {
  return { id, payload: new Uint8Array([1]) };
}

/** Lets queued microtasks and promise callbacks run. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('PutBatcher', () => {
  it('sends a lone put at once, alone', async () => {
    const { send, requests } = gatedSend();
    const batcher = new PutBatcher(send, () => {});
    const put = batcher.put(task('a'));
    await settle();
    assert.deepEqual(
      requests.map((request) => request.tasks.map((t) => t.id)),
      [['a']],
    );
    requests[0]?.answer();
    assert.deepEqual(await put, { ok: true, id: 'a' });
    assert.equal(batcher.idle, true);
  });

  it('puts made in one turn go out in one request', async () => {
    const { send, requests } = gatedSend();
    const batcher = new PutBatcher(send, () => {});
    const puts = ['a', 'b', 'c'].map(async (id) => batcher.put(task(id)));
    await settle();
    assert.deepEqual(
      requests.map((request) => request.tasks.map((t) => t.id)),
      [['a', 'b', 'c']],
    );
    requests[0]?.answer();
    assert.deepEqual(
      (await Promise.all(puts)).map((result) => result.ok && result.id),
      ['a', 'b', 'c'],
    );
  });

  it(`keeps ${MAX_INSERTS_IN_FLIGHT} requests under way; later puts wait and go out together`, async () => {
    const { send, requests } = gatedSend();
    const batcher = new PutBatcher(send, () => {});
    const puts: Promise<PutResult>[] = [];
    for (let i = 0; i < MAX_INSERTS_IN_FLIGHT; i += 1) {
      puts.push(batcher.put(task(`first${i}`)));
      await settle();
    }
    for (const id of ['x', 'y', 'z']) puts.push(batcher.put(task(id)));
    await settle();
    assert.equal(requests.length, MAX_INSERTS_IN_FLIGHT, 'a third request went out early');
    requests[0]?.answer();
    await settle();
    assert.equal(requests.length, MAX_INSERTS_IN_FLIGHT + 1);
    assert.deepEqual(
      requests.at(-1)?.tasks.map((t) => t.id),
      ['x', 'y', 'z'],
    );
    for (const request of requests.slice(1)) request.answer();
    assert.equal((await Promise.all(puts)).length, MAX_INSERTS_IN_FLIGHT + 3);
  });

  it('a refused item fails only its own put; a failed request fails every put in it', async () => {
    const { send, requests } = gatedSend();
    const batcher = new PutBatcher(send, () => {});
    const good = batcher.put(task('a'));
    const taken = batcher.put(task('b'));
    await settle();
    const refusal = new PullqError('already_exists', 'b exists');
    requests[0]?.answer([
      { ok: true, id: 'a' },
      { ok: false, error: refusal },
    ]);
    assert.deepEqual(await good, { ok: true, id: 'a' });
    assert.deepEqual(await taken, { ok: false, error: refusal });

    const lost = [batcher.put(task('c')), batcher.put(task('d'))];
    await settle();
    requests[1]?.fail(new PullqError('unavailable', 'server gone'));
    for (const put of lost) await assert.rejects(put, /server gone/);
    assert.equal(batcher.idle, true);
  });

  it('flush() resolves once every put made so far is answered', async () => {
    const { send, requests } = gatedSend();
    let settledCalls = 0;
    const batcher = new PutBatcher(send, () => (settledCalls += 1));
    void batcher.put(task('a'));
    let flushed = false;
    const flush = batcher.flush().then(() => (flushed = true));
    await settle();
    assert.equal(flushed, false);
    requests[0]?.answer();
    await flush;
    assert.equal(settledCalls, 1);
  });
});

class CountingBackend extends MemoryBackend {
  readonly inserts: number[] = [];

  override async insert(
    queue: string,
    tasks: NewTask[],
    options?: InsertOptions,
  ): Promise<ItemResult<Task>[]> {
    this.inserts.push(tasks.length);
    return super.insert(queue, tasks, options);
  }
}

describe('SimpleQueue.put batching', () => {
  it('100 concurrent puts take a few requests, each put gets its own id', async () => {
    const backend = new CountingBackend();
    await using connection = new Connection({ backend });
    const queue = connection.simpleQueue<number>('q');
    const ids = await Promise.all(Array.from({ length: 100 }, async (_, i) => queue.put(i)));
    assert.equal(new Set(ids).size, 100);
    assert.equal(
      backend.inserts.reduce((a, b) => a + b, 0),
      100,
    );
    assert.ok(backend.inserts.length <= 2, `${backend.inserts.length} requests`);
    const bodies: number[] = [];
    for (const id of ids) {
      const stored = await backend.get('q', id);
      bodies.push(decodeEnvelope(stored?.payload ?? new Uint8Array()).body as number);
    }
    assert.deepEqual(
      bodies,
      Array.from({ length: 100 }, (_, i) => i),
      'each id names the put’s own body',
    );
  });

  it('a put refused by name fails alone; the others in its request land', async () => {
    const backend = new CountingBackend();
    await using connection = new Connection({ backend });
    const queue = connection.simpleQueue<string>('q');
    await queue.put('first', { name: 'taken' });
    const results = await Promise.allSettled([
      queue.put('a'),
      queue.put('b', { name: 'taken' }),
      queue.put('c'),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal(backend.inserts.at(-1), 3, 'the three went out in one request');
    assert.equal(await queue.qsize(), 3);
  });

  it('puts made before close() still land', async () => {
    const backend = new CountingBackend();
    const connection = new Connection({ backend });
    const queue = connection.simpleQueue<number>('q');
    const puts = Array.from({ length: 10 }, async (_, i) => queue.put(i));
    await connection.close();
    assert.equal((await Promise.all(puts)).length, 10);
    assert.equal((await backend.stats('q')).ready, 10);
  });
});
