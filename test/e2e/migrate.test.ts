/**
 * `pullq migrate` as a real process: from a SQLite file to another SQLite file, and to a real
 * `pullq serve`. Sources are seeded, and targets read, in this process through the backends
 * themselves; every migration runs through the CLI.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backend, QueueInfo, Task } from '../../src/backends/backend.ts';
import { HttpBackend } from '../../src/backends/http.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { TEST_ADMIN_TOKEN, runCli, startServe, type CliResult } from './serve-process.ts';

interface Summary {
  copied: number;
  alreadyPresent: number;
  skippedLeased: number;
  deadCopied: number;
  deadSkipped: number;
  deadNotDeadOnTarget: number;
  failed: { queue: string; id: string; code: string }[];
  queues: { queue: string; created: boolean; copied: number }[];
}

const MINUTE = 60_000;

describe('pullq migrate', () => {
  let dir: string;
  let files = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullq-migrate-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A database file of this test run that does not exist yet, and its URL. */
  const newDb = (): { path: string; url: string } => {
    files += 1;
    const path = join(dir, `db-${files}.db`);
    return { path, url: `sqlite://${path}` };
  };

  const open = (path: string): SqliteBackend => new SqliteBackend({ path });

  async function using<T>(path: string, body: (backend: SqliteBackend) => Promise<T>): Promise<T> {
    const backend = open(path);
    try {
      return await body(backend);
    } finally {
      await backend.close();
    }
  }

  const migrate = async (...args: string[]): Promise<CliResult> => runCli(['migrate', ...args]);

  async function migrateJson(...args: string[]): Promise<{ code: number; summary: Summary }> {
    const result = await migrate(...args, '--json');
    assert.ok(result.stdout !== '', `no JSON printed: ${result.stderr}`);
    return { code: result.code, summary: JSON.parse(result.stdout) as Summary };
  }

  /** The source's wait for a lease: leases the one task with this id (it has the oldest ETA). */
  async function leaseOldest(backend: Backend, queue: string, id: string) {
    const [leased] = await backend.lease(queue, { max: 1, leaseSeconds: 600 });
    assert.equal(leased?.id, id, 'the seeded task to hold leased has the oldest ETA');
    return leased;
  }

  it('copies every queue with its settings and every ready, delayed and tagged task with its id, ETA and payload bytes; a leased task is skipped, reported, and makes the exit code 1', async () => {
    const source = newDb();
    const target = newDb();
    const now = Date.now();
    const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
    await using(source.path, async (backend) => {
      await backend.createQueue('orders', {
        maxLeases: 5,
        deadLetterQueue: 'orders-dead',
        dedupWindowSeconds: 120,
      });
      await backend.createQueue('orders-dead', { paused: true });
      await backend.insert('orders', [
        { id: 'held', payload: Buffer.from('leased by a worker'), eta: now - 5 * MINUTE },
        { id: 'ready-1', payload: Buffer.from('{"order":1}'), tag: 'eu', eta: now - MINUTE },
        { id: 'later', payload: everyByte, eta: now + 10 * MINUTE, tag: 'us' },
        { payload: Buffer.from('an id the source generated') },
      ]);
      await backend.insert('orders-dead', [{ id: 'parked', payload: new Uint8Array(0) }]);
      await leaseOldest(backend, 'orders', 'held');
    });

    const result = await migrate('--from', source.url, '--to', target.url);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /1 leased task\(s\) were not copied: .*Stop the workers/);
    assert.match(result.stdout, /^QUEUE\s+TARGET\s+COPIED/);
    assert.match(result.stdout, /orders\s+created\s+3\s+0\s+1\s/);

    const [sourceQueues, sourceTasks] = await using(source.path, async (backend) => [
      await backend.listQueues(),
      await everyTask(backend, ['orders', 'orders-dead']),
    ]);
    const [targetQueues, targetTasks] = await using(target.path, async (backend) => [
      await backend.listQueues(),
      await everyTask(backend, ['orders', 'orders-dead']),
    ]);
    assert.deepEqual(targetQueues.map(settings), sourceQueues.map(settings));
    const expected = sourceTasks.filter((task) => task.state !== 'leased');
    assert.equal(expected.length, 4);
    assert.deepEqual(targetTasks.map(copyOf), expected.map(copyOf));
    assert.deepEqual(
      targetTasks.map((task) => task.attempts),
      [0, 0, 0, 0],
      'attempts start again on the target',
    );
    const later = targetTasks.find((task) => task.id === 'later');
    assert.deepEqual(Buffer.from(later?.payload ?? []), Buffer.from(everyByte));
    assert.equal(later?.state, 'delayed');
  });

  it('a rerun copies nothing twice (a task finished on the target is not copied back), and copies a formerly leased task once its lease is given back', async () => {
    const source = newDb();
    const target = newDb();
    const token = await using(source.path, async (backend) => {
      await backend.insert(
        'jobs',
        [
          { id: 'a', payload: Buffer.from('a'), eta: Date.now() - MINUTE },
          { id: 'b', payload: Buffer.from('b') },
          { id: 'c', payload: Buffer.from('c') },
        ],
        { createQueue: true },
      );
      return (await leaseOldest(backend, 'jobs', 'a'))?.leaseToken ?? '';
    });

    const first = await migrateJson('--from', source.url, '--to', target.url);
    assert.equal(first.code, 1);
    assert.deepEqual([first.summary.copied, first.summary.skippedLeased], [2, 1]);
    // A worker on the target finishes b before the migration is run again.
    await using(target.path, async (backend) => {
      const [leased] = await backend.lease('jobs', { max: 1, leaseSeconds: 60 });
      assert.equal(leased?.id, 'b');
      await backend.ack('jobs', [{ id: 'b', token: leased.leaseToken }]);
    });

    const second = await migrateJson('--from', source.url, '--to', target.url);
    assert.equal(second.code, 1, 'a is still leased on the source');
    assert.deepEqual(
      [second.summary.copied, second.summary.alreadyPresent, second.summary.skippedLeased],
      [0, 2, 1],
    );

    await using(source.path, async (backend) => {
      const [released] = await backend.release('jobs', [{ ref: { id: 'a', token } }]);
      assert.equal(released?.ok, true);
    });
    const third = await migrateJson('--from', source.url, '--to', target.url);
    assert.equal(third.code, 0);
    assert.deepEqual(
      [third.summary.copied, third.summary.alreadyPresent, third.summary.skippedLeased],
      [1, 2, 0],
    );
    const ids = await using(target.path, async (backend) =>
      (await everyTask(backend, ['jobs'])).map((task) => task.id),
    );
    assert.deepEqual(ids.sort(), ['a', 'c'], 'b stays done; a and c are there once each');
  });

  it('--dry-run counts what a run would copy and writes nothing, not even the target file', async () => {
    const source = newDb();
    const target = newDb();
    await using(source.path, async (backend) => {
      await backend.insert('one', [{ id: 'x', payload: Buffer.from('x') }], { createQueue: true });
      await backend.insert(
        'two',
        [
          { id: 'y', payload: Buffer.from('y') },
          { id: 'z', payload: Buffer.from('z') },
        ],
        { createQueue: true },
      );
    });

    const dry = await migrateJson('--from', source.url, '--to', target.url, '--dry-run');
    assert.equal(dry.code, 0);
    assert.equal(dry.summary.copied, 3);
    assert.deepEqual(
      dry.summary.queues.map((queue) => [queue.queue, queue.created]),
      [
        ['one', true],
        ['two', true],
      ],
    );
    assert.equal(existsSync(target.path), false, 'a dry run creates no database file');

    const real = await migrate('--from', source.url, '--to', target.url, '--queue', 'one');
    assert.equal(real.code, 0, real.stderr);
    const again = await migrateJson('--from', source.url, '--to', target.url, '--dry-run');
    assert.deepEqual([again.summary.copied, again.summary.alreadyPresent], [2, 1]);
    const queues = await using(target.path, async (backend) =>
      (await backend.listQueues()).map((queue) => queue.name),
    );
    assert.deepEqual(queues, ['one'], 'the dry run created no queue');
  });

  it('--queue copies only the named queues; an unknown one fails with queue_not_found, names the source queues, and writes nothing', async () => {
    const source = newDb();
    const target = newDb();
    await using(source.path, async (backend) => {
      for (const queue of ['alpha', 'beta', 'gamma']) {
        await backend.insert(queue, [{ payload: Buffer.from(queue) }], { createQueue: true });
      }
    });

    const unknown = await migrate('--from', source.url, '--to', target.url, '--queue', 'delta');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error: queue_not_found: --queue delta: no such queue on --from/);
    assert.match(unknown.stderr, /hint: its queues are: alpha, beta, gamma/);
    assert.equal(existsSync(target.path), false);

    const some = await migrateJson(
      '--from',
      source.url,
      '--to',
      target.url,
      '--queue',
      'gamma',
      '--queue',
      'alpha',
    );
    assert.equal(some.code, 0);
    const names = await using(target.path, async (backend) =>
      (await backend.listQueues()).map((queue) => queue.name),
    );
    assert.deepEqual(names, ['alpha', 'gamma']);
    assert.equal(some.summary.copied, 2);
  });

  it('a queue the target has with other settings stops the migration before anything is copied', async () => {
    const source = newDb();
    const target = newDb();
    await using(source.path, async (backend) => {
      await backend.createQueue('a', {});
      await backend.insert('a', [{ payload: Buffer.from('1') }]);
      await backend.createQueue('b', { maxLeases: 3 });
    });
    await using(target.path, async (backend) => {
      await backend.createQueue('b', { maxLeases: 10 });
    });
    const result = await migrate('--from', source.url, '--to', target.url);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /error: already_exists: .*b: maxLeases 3 on --from, 10 on --to.*nothing was copied/,
    );
    assert.match(result.stderr, /hint: make the settings agree/);
    const queues = await using(target.path, async (backend) => backend.listQueues());
    assert.deepEqual(
      queues.map((queue) => queue.name),
      ['b'],
    );
  });

  it('bad URLs, a missing source file and an unreachable server fail with errors naming the side and what to do', async () => {
    const source = newDb();
    await using(source.path, async (backend) => backend.createQueue('q', {}));

    const scheme = await migrate('--from', source.url, '--to', 'ftp://example.com/queues');
    assert.equal(scheme.code, 2);
    assert.match(scheme.stderr, /error: usage: --to: no transport for the URL scheme "ftp:\/\/"/);
    assert.match(scheme.stderr, /sqlite:\/\/\/path\/to\/db/, 'the known schemes are listed');

    const missing = await migrate('--from', newDb().url, '--to', newDb().url);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error: usage: --from sqlite:\/\/.*: no such file/);

    const port = await closedPort();
    const down = await migrate('--from', source.url, '--to', `pullq://127.0.0.1:${port}`);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`error: unavailable: --to pullq://127.0.0.1:${port}: `));
    assert.match(down.stderr, /hint: nothing answers at pullq:\/\/127\.0\.0\.1:\d+/);
  });

  it('--include-dead recreates dead tasks as dead on the target with their last error (a paused queue stays paused); without it they stay on the source and are counted', async () => {
    const source = newDb();
    const target = newDb();
    const bytes = Buffer.from([0xde, 0xad, 0x00, 0xff]);
    await using(source.path, async (backend) => {
      await backend.createQueue('jobs', { maxLeases: 2 });
      await backend.insert('jobs', [
        { id: 'doomed', payload: bytes, tag: 'video', eta: Date.now() - MINUTE },
        { id: 'fine', payload: Buffer.from('fine') },
      ]);
      const leased = await leaseOldest(backend, 'jobs', 'doomed');
      await backend.release('jobs', [
        { ref: { id: 'doomed', token: leased?.leaseToken ?? '' }, deadLetter: true, error: 'boom' },
      ]);
      await backend.updateQueue('jobs', { paused: true });
      // Dead before its queue got a dead-letter queue: dead-lettering there would move it.
      await backend.insert('mail', [{ id: 'lost', payload: Buffer.from('m') }], {
        createQueue: true,
      });
      const mail = await leaseOldest(backend, 'mail', 'lost');
      await backend.release('mail', [
        { ref: { id: 'lost', token: mail?.leaseToken ?? '' }, deadLetter: true },
      ]);
      await backend.updateQueue('mail', { deadLetterQueue: 'mail-dlq' });
    });

    const without = await migrateJson('--from', source.url, '--to', target.url);
    assert.equal(without.code, 0, 'leaving dead tasks behind unasked is not a failure');
    assert.deepEqual([without.summary.copied, without.summary.deadSkipped], [1, 2]);

    const withDead = await migrate('--from', source.url, '--to', target.url, '--include-dead');
    assert.equal(withDead.code, 1, 'a dead task that could not be copied makes it 1');
    assert.match(withDead.stderr, /queue 1\/2 jobs: 0 copied, 1 already there, 1 dead copied/);
    assert.match(
      withDead.stderr,
      /1 dead task\(s\) of mail stay on the source: dead-lettering on the target would move them to mail-dlq/,
    );

    await using(target.path, async (backend) => {
      const doomed = await backend.get('jobs', 'doomed');
      assert.equal(doomed?.state, 'dead');
      assert.equal(doomed?.lastError, 'boom');
      assert.equal(doomed?.tag, 'video');
      assert.deepEqual(Buffer.from(doomed?.payload ?? []), bytes);
      assert.equal((await backend.getQueue('jobs'))?.paused, true);
      assert.equal(await backend.get('mail', 'lost'), null);
      assert.equal(await backend.redrive('jobs'), 1, 'a real dead letter: redrive takes it');
    });

    const rerun = await migrateJson('--from', source.url, '--to', target.url, '--include-dead');
    assert.equal(rerun.summary.deadCopied, 0, 'the redriven task is not dead-lettered again');
    assert.equal(rerun.summary.deadNotDeadOnTarget, 1, 'and it is reported');
    assert.equal(rerun.code, 1);
  });

  it('reads the source in pages of 1000 and keeps lease order: 2,500 tasks lease from the target in the order they lease from the source', async () => {
    const source = newDb();
    const target = newDb();
    const now = Date.now();
    await using(source.path, async (backend) => {
      for (let batch = 0; batch < 5; batch += 1) {
        await backend.insert(
          'bulk',
          Array.from({ length: 500 }, (_, index) => ({
            payload: Buffer.from(`task ${batch}-${index}`),
            // ETAs out of insertion order, so lease order is not insertion order.
            eta: now - ((index * 7919 + batch) % 1000) * 1000,
          })),
          { createQueue: true },
        );
      }
    });
    const result = await migrate('--from', source.url, '--to', target.url);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /queue 1\/1 bulk \(created\): 2,500 copied/);
    const order = async (path: string): Promise<string[]> =>
      using(path, async (backend) => {
        const ids: string[] = [];
        for (let page = 0; page < 3; page += 1) {
          const leased = await backend.lease('bulk', { max: 1000, leaseSeconds: 60 });
          ids.push(...leased.map((task) => task.id));
        }
        return ids;
      });
    const sourceOrder = await order(source.path);
    assert.equal(sourceOrder.length, 2500);
    assert.deepEqual(await order(target.path), sourceOrder);
  });

  it('copies from SQLite to a real pullq serve with --to-token, dead tasks included; without a token it fails unauthenticated, naming --to', async () => {
    const source = newDb();
    // A loaded machine (2 shared cores) can take longer than the default 15 s to start it.
    const server = await startServe(['--data', join(dir, 'serve-data')], { timeoutMs: 30_000 });
    const to = server.url.replace(/^http:/, 'pullq:');
    try {
      await using(source.path, async (backend) => {
        await backend.createQueue('remote', { maxLeases: 4, dedupWindowSeconds: 30 });
        await backend.insert('remote', [
          { id: 'gone-wrong', payload: Buffer.from('x'), eta: Date.now() - MINUTE },
          { id: 'bin', payload: Buffer.from([1, 2, 3, 250]), tag: 't' },
          { id: 'soon', payload: Buffer.from('soon'), eta: Date.now() + 5 * MINUTE },
        ]);
        const leased = await leaseOldest(backend, 'remote', 'gone-wrong');
        await backend.release('remote', [
          { ref: { id: 'gone-wrong', token: leased?.leaseToken ?? '' }, deadLetter: true },
        ]);
      });

      const refused = await migrate('--from', source.url, '--to', to);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /error: unauthenticated: --to pullq:\/\/127\.0\.0\.1:\d+: /);
      assert.match(refused.stderr, /hint: .*--to-token or PULLQ_TO_TOKEN/);

      const result = await migrate(
        '--from',
        source.url,
        '--to',
        to,
        '--to-token',
        TEST_ADMIN_TOKEN,
        '--include-dead',
      );
      assert.equal(result.code, 0, result.stderr);

      const remote = new HttpBackend({ url: server.url, token: TEST_ADMIN_TOKEN });
      try {
        const queue = await remote.getQueue('remote');
        assert.deepEqual([queue?.maxLeases, queue?.dedupWindowSeconds], [4, 30]);
        const tasks = await everyTask(remote, ['remote']);
        const sourceTasks = await using(source.path, async (backend) =>
          everyTask(backend, ['remote']),
        );
        assert.deepEqual(
          tasks.filter((task) => task.state !== 'dead').map(copyOf),
          sourceTasks.filter((task) => task.state !== 'dead').map(copyOf),
        );
        assert.equal((await remote.get('remote', 'gone-wrong'))?.state, 'dead');
      } finally {
        await remote.close();
      }

      const rerun = await runCli(['migrate', '--from', source.url, '--to', to, '--json'], {
        env: { PULLQ_TO_TOKEN: TEST_ADMIN_TOKEN },
      });
      assert.equal(rerun.code, 0, rerun.stderr);
      const summary = JSON.parse(rerun.stdout) as Summary;
      assert.deepEqual([summary.copied, summary.alreadyPresent], [0, 2]);
    } finally {
      await server.stop();
    }
  });
});

/** Every task of these queues, payloads included, in insertion order. */
async function everyTask(backend: Backend, queues: readonly string[]): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const queue of queues) {
    let cursor: string | undefined;
    do {
      const request = { limit: 1000, includePayload: true };
      const page = await backend.list(
        queue,
        cursor === undefined ? request : { ...request, cursor },
      );
      tasks.push(...page.tasks);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }
  return tasks;
}

/** What a migration keeps of a queue. */
function settings(queue: QueueInfo): Omit<QueueInfo, 'createdAt'> {
  const { name, maxLeases, deadLetterQueue, dedupWindowSeconds, paused } = queue;
  return { name, maxLeases, deadLetterQueue, dedupWindowSeconds, paused };
}

/** What a migration keeps of a ready or delayed task. */
function copyOf(task: Task): Record<string, unknown> {
  return {
    queue: task.queue,
    id: task.id,
    payload: Buffer.from(task.payload).toString('hex'),
    tag: task.tag,
    eta: task.eta,
    state: task.state,
  };
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
