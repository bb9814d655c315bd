/**
 * NatsBackend rules the transport contract does not reach: leases against JetStream's ack wait
 * (expiry, +WPI renewal, stale tokens), maxLeases and dead letters with the last note, what is
 * unsupported and says so, queue settings read back from the stream, and durability and
 * reconnection (against a nats-server of this file's own, started and stopped here).
 * Real NATS: $PULLQ_TEST_NATS_URL (default nats://127.0.0.1:4222), with a stream prefix made
 * for this run and deleted at the end; unreachable, the file fails under CI=true and is
 * skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Backend, LeasedTask } from '../../src/backends/backend.ts';
import { loadNatsDrivers } from '../../src/backends/nats/drivers.ts';
import { dropNatsPrefix } from '../../src/backends/nats/drop-prefix.ts';
import type { NatsBackend } from '../../src/backends/nats/nats-backend.ts';
import {
  connectNats,
  natsOptionsFromUrl,
  type NatsBackendOptions,
} from '../../src/backends/nats/open.ts';
import { PullqError } from '../../src/protocol/errors.ts';
import { rejectsWith } from '../../src/testing/transport/harness.ts';

const URL_TEXT = process.env['PULLQ_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const OPTIONS = natsOptionsFromUrl(new URL(URL_TEXT), 5000);
const PREFIX = `pqi-${process.pid}-${Date.now().toString(36)}`;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);

const unreachable = await dropNatsPrefix(OPTIONS, PREFIX).then(
  () => null,
  (error: unknown) => `NATS JetStream at ${URL_TEXT} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

/** A nats-server of this file's own (JetStream, a temp store), to stop and start again. */
async function startNatsServer(): Promise<{
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server = {
    url: `127.0.0.1:${port}`,
    async start() {
      const args = ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)];
      child = spawn('nats-server', args, { stdio: 'ignore' });
      try {
        await listening(port);
      } catch (error) {
        await server.stop();
        throw error;
      }
    },
    async stop() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      const exited = once(running, 'exit');
      running.kill('SIGTERM');
      await exited;
    },
  };
  await server.start();
  after(() => rmSync(dir, { recursive: true, force: true }));
  return server;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

async function listening(port: number): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nats-server did not listen on port ${port} within 5 s`);
}

const hasServerBinary = spawnSync('nats-server', ['--version']).status === 0;
if (!hasServerBinary && process.env['CI'] === 'true') {
  throw new Error('nats-server is not on PATH: the reconnection test starts one of its own');
}

let counter = 0;
const queueName = (): string => `q${++counter}`;
const opened: Backend[] = [];

async function open(options: Partial<NatsBackendOptions> = {}): Promise<NatsBackend> {
  const backend = await connectNats({ ...OPTIONS, prefix: PREFIX, ...options });
  opened.push(backend);
  return backend;
}

async function put(backend: Backend, queue: string, body: string, id?: string): Promise<string> {
  const [result] = await backend.insert(queue, [{ payload: bytes(body), ...(id ? { id } : {}) }], {
    createQueue: true,
  });
  assert.ok(result?.ok, result?.ok === false ? result.error.message : 'no insert result');
  return result.value.id;
}

async function leaseOne(backend: Backend, queue: string, leaseSeconds = 30): Promise<LeasedTask> {
  const [task] = await backend.lease(queue, { max: 1, leaseSeconds, waitSeconds: 5 });
  assert.ok(task, `nothing leased from ${queue} within 5 s`);
  return task;
}

describe('nats:// URLs', () => {
  it('a user with a password is NATS user auth, a user alone a token; files turn TLS on', () => {
    const timeoutMs = 1000;
    const withUser = natsOptionsFromUrl(new URL('nats://ann:s%40cret@h:4333'), timeoutMs);
    assert.deepEqual(
      [withUser.servers, withUser.user, withUser.pass, withUser.token, withUser.tls],
      ['h:4333', 'ann', 's@cret', undefined, false],
    );
    const withToken = natsOptionsFromUrl(new URL('nats://t0k3n@h?tls=true&prefix=jobs'), timeoutMs);
    assert.deepEqual(
      [withToken.servers, withToken.token, withToken.tls, withToken.prefix],
      ['h:4222', 't0k3n', true, 'jobs'],
    );
    const withFiles = natsOptionsFromUrl(new URL('nats://h?ca=/etc/ca.pem&ackWait=5'), timeoutMs);
    assert.deepEqual([withFiles.tls, withFiles.ackWaitSeconds], [{ caFile: '/etc/ca.pem' }, 5]);
  });

  it('an unknown option or a bad value is invalid_argument naming it', async () => {
    assert.throws(() => natsOptionsFromUrl(new URL('nats://h?acwait=5'), 1000), {
      code: 'invalid_argument',
      message: /acwait.*ackWait/,
    });
    await rejectsWith(connectNats({ servers: 'h', prefix: 'a_b' }), 'invalid_argument');
    await rejectsWith(connectNats({ servers: 'h', ackWaitSeconds: 0 }), 'invalid_argument');
  });
});

describe('NatsBackend', { skip: unreachable ?? false }, () => {
  after(async () => {
    await Promise.all(opened.map(async (backend) => backend.close()));
    await dropNatsPrefix(OPTIONS, PREFIX);
  });

  describe('leases and the ack wait', () => {
    it('when the process holding a lease dies, the ack wait gives the task to another consumer', async () => {
      const holder = await open({ ackWaitSeconds: 1 });
      const queue = queueName();
      await holder.createQueue(queue);
      const id = await put(holder, queue, 'orphan');
      const first = await leaseOne(holder, queue, 300);
      await holder.close(); // no ack, no nak: like a crash
      const other = await open();
      const started = performance.now();
      const again = await leaseOne(other, queue);
      assert.equal(again.id, id);
      assert.equal(again.attempts, 2);
      assert.notEqual(again.leaseToken, first.leaseToken);
      assert.ok(performance.now() - started < 3000, 'the ack wait (1 s) did not end the lease');
      assert.deepEqual(await other.ack(queue, [{ id, token: again.leaseToken }]), [
        { ok: true, value: null },
      ]);
    });

    it('a lease longer than the ack wait is kept by working() until it is acked', async () => {
      const worker = await open({ ackWaitSeconds: 1 });
      const queue = queueName();
      await worker.createQueue(queue);
      await put(worker, queue, 'long job');
      const task = await leaseOne(worker, queue, 10);
      const other = await open();
      // Three ack waits pass; the holder's +WPI keeps the delivery its own.
      assert.deepEqual(await other.lease(queue, { max: 1, leaseSeconds: 30, waitSeconds: 3 }), []);
      const [acked] = await worker.ack(queue, [{ id: task.id, token: task.leaseToken }]);
      assert.equal(acked?.ok, true);
      assert.equal((await other.stats(queue)).leased, 0);
    });

    it('a lease shorter than the ack wait ends on time: the task is leasable again at once', async () => {
      const backend = await open();
      const queue = queueName();
      await put(backend, queue, 'short');
      const first = await leaseOne(backend, queue, 0.5);
      const started = performance.now();
      const second = await leaseOne(backend, queue);
      assert.ok(performance.now() - started < 1500, 'the 0.5 s lease outlived its length');
      assert.equal(second.attempts, 2);
      const [stale] = await backend.ack(queue, [{ id: first.id, token: first.leaseToken }]);
      assert.equal(stale?.ok === false && stale.error.code, 'lease_lost');
    });

    it('a stale token gets lease_lost and touches nothing; the current one still works', async () => {
      const backend = await open();
      const queue = queueName();
      await put(backend, queue, 'x');
      const first = await leaseOne(backend, queue);
      await backend.release(queue, [{ ref: { id: first.id, token: first.leaseToken } }]);
      const second = await leaseOne(backend, queue);
      const ref = { id: first.id, token: first.leaseToken };
      for (const [result] of [
        await backend.ack(queue, [ref]),
        await backend.extend(queue, [ref], 60),
        await backend.release(queue, [{ ref }]),
      ]) {
        assert.equal(result?.ok === false && result.error.code, 'lease_lost');
      }
      // The stale calls sent nothing: JetStream would have applied them to delivery 2.
      const stranger = await open();
      const [foreign] = await stranger.ack(queue, [{ id: second.id, token: second.leaseToken }]);
      assert.equal(foreign?.ok === false && foreign.error.code, 'lease_lost');
      assert.equal((await backend.stats(queue)).leased, 1);
      const [acked] = await backend.ack(queue, [{ id: second.id, token: second.leaseToken }]);
      assert.equal(acked?.ok, true);
      assert.equal(backend.leasesHeld, 0, 'the book still holds a settled lease');
    });
  });

  describe('maxLeases and dead letters', () => {
    it('a task over maxLeases is dead-lettered with the last release note, by any process', async () => {
      const releaser = await open();
      const queue = queueName();
      await releaser.createQueue(queue, { maxLeases: 2 });
      const id = await put(releaser, queue, 'poison');
      for (const note of ['first failure', 'second failure']) {
        const task = await leaseOne(releaser, queue);
        await releaser.release(queue, [{ ref: { id, token: task.leaseToken }, error: note }]);
      }
      const healthy = await put(releaser, queue, 'healthy');
      const other = await open(); // the third lease happens elsewhere
      // The poison comes first (redeliveries do); the same call goes on to the next task.
      const [next] = await other.lease(queue, { max: 1, leaseSeconds: 30 });
      assert.equal(next?.id, healthy);
      const dead = await other.get(queue, id);
      assert.equal(dead?.state, 'dead');
      assert.equal(dead.lastError, 'second failure');
      assert.equal(dead.attempts, 2);
      assert.equal((await other.stats(queue)).dead, 1);
      assert.equal(await other.redrive(queue), 1);
      const back = await leaseOne(other, queue);
      assert.equal(back.id, id);
      assert.equal(back.attempts, 1, 'a redriven task starts counting again');
      assert.equal((await other.stats(queue)).dead, 0);
    });

    it('with a dead-letter queue, the task moves there as a ready task that says where from', async () => {
      const backend = await open();
      const queue = queueName();
      const dlq = queueName();
      await backend.createQueue(queue, { maxLeases: 1, deadLetterQueue: dlq });
      const id = await put(backend, queue, 'fails once');
      const task = await leaseOne(backend, queue);
      const [rejected] = await backend.release(queue, [
        { ref: { id, token: task.leaseToken }, deadLetter: true, error: 'ValueError: bad input' },
      ]);
      assert.equal(rejected?.ok && rejected.value.queue, dlq);
      const moved = await leaseOne(backend, dlq);
      assert.equal(moved.id, id);
      assert.equal(text(moved.payload), 'fails once');
      assert.equal(moved.deadLetteredFrom, queue);
      assert.equal(moved.lastError, 'ValueError: bad input');
      assert.equal((await backend.stats(queue)).ready + (await backend.stats(queue)).leased, 0);
    });
  });

  describe('capabilities', () => {
    it('what JetStream cannot do throws unsupported and says what to use instead', async () => {
      const backend = await open();
      const queue = queueName();
      await backend.createQueue(queue);
      assert.deepEqual(backend.capabilities, {
        longPoll: true,
        tags: false,
        list: false,
        exactStats: false,
        deadLetters: true,
        queueAdmin: true,
        uniqueIds: true,
      });
      const calls = [
        async () => backend.list(queue, { limit: 10 }),
        async () => backend.lease(queue, { max: 1, leaseSeconds: 30, tag: 'blue' }),
        async () => backend.lease(queue, { max: 1, leaseSeconds: 30, groupByTag: true }),
      ];
      for (const call of calls) {
        const error = await rejectsWith(call(), 'unsupported');
        assert.match(error.message, /is not available over NATS JetStream: \S.+/);
      }
    });

    it('a tag is stored and read back though leases cannot select by it', async () => {
      const backend = await open();
      const queue = queueName();
      await backend.insert(queue, [{ payload: bytes('t'), tag: 'blue\nline' }], {
        createQueue: true,
      });
      assert.equal((await leaseOne(backend, queue)).tag, 'blue\nline');
    });

    it('without the drivers, the error names both packages to install', async () => {
      const missing = async (pkg: string): Promise<never> => {
        throw new PullqError('unsupported', `${pkg} is not installed`);
      };
      const error = await rejectsWith(loadNatsDrivers(missing), 'unsupported');
      assert.match(error.message, /npm install @nats-io\/jetstream @nats-io\/transport-node/);
    });
  });

  describe('queues', () => {
    it('queue settings are kept in the stream and read back by any connection', async () => {
      const backend = await open();
      const queue = queueName();
      const created = await backend.createQueue(queue, { maxLeases: 5 });
      assert.equal(created.dedupWindowSeconds, 120, "JetStream's default dedup window");
      await backend.updateQueue(queue, { deadLetterQueue: 'graveyard', dedupWindowSeconds: 60 });
      const info = await (await open()).getQueue(queue);
      assert.deepEqual(
        { ...info, createdAt: 0 },
        {
          name: queue,
          maxLeases: 5,
          deadLetterQueue: 'graveyard',
          dedupWindowSeconds: 60,
          paused: false,
          createdAt: 0,
        },
      );
      assert.ok((await backend.listQueues()).some((listed) => listed.name === queue));
      await rejectsWith(backend.createQueue(queue), 'already_exists');
      await backend.deleteQueue(queue);
      assert.equal(await backend.getQueue(queue), null);
      await rejectsWith(backend.lease(queue, { max: 1, leaseSeconds: 1 }), 'queue_not_found');
    });

    it('an id is refused while its task lives and, after the ack, for the dedup window', async () => {
      const backend = await open();
      const queue = queueName();
      await put(backend, queue, 'one', 'order-1');
      const [live] = await backend.insert(queue, [{ payload: bytes('two'), id: 'order-1' }]);
      assert.equal(live?.ok === false && live.error.code, 'already_exists');
      const task = await leaseOne(backend, queue);
      await backend.ack(queue, [{ id: task.id, token: task.leaseToken }]);
      const [tombstoned] = await backend.insert(queue, [{ payload: bytes('3'), id: 'order-1' }]);
      assert.equal(tombstoned?.ok === false && tombstoned.error.code, 'already_exists');
    });

    it('a paused queue leases nothing until it is resumed', async () => {
      const backend = await open();
      const queue = queueName();
      await put(backend, queue, 'waits');
      await backend.updateQueue(queue, { paused: true });
      assert.deepEqual(await backend.lease(queue, { max: 1, leaseSeconds: 30 }), []);
      await backend.updateQueue(queue, { paused: false });
      assert.equal(text((await leaseOne(backend, queue)).payload), 'waits');
    });

    it('a task published raw under a token that is no task id can still be leased and acked', async () => {
      const backend = await open();
      const queue = queueName();
      await backend.createQueue(queue);
      const raw = await connect({ servers: OPTIONS.servers });
      try {
        await jetstream(raw).publish(`${PREFIX}.${queue}.ready.a+b`, bytes('from a tool'));
      } finally {
        await raw.close();
      }
      const task = await leaseOne(backend, queue);
      assert.match(task.id, /^_[A-Za-z0-9_-]+$/);
      assert.equal(text(task.payload), 'from a tool');
      const [acked] = await backend.ack(queue, [{ id: task.id, token: task.leaseToken }]);
      assert.equal(acked?.ok, true);
      assert.equal((await backend.stats(queue)).ready + (await backend.stats(queue)).leased, 0);
    });

    it('get finds a task by id in any state, and delete removes it', async () => {
      const backend = await open();
      const queue = queueName();
      const id = await put(backend, queue, 'findable');
      assert.equal((await backend.get(queue, id))?.state, 'ready');
      await leaseOne(backend, queue);
      assert.equal((await backend.get(queue, id))?.state, 'leased');
      assert.deepEqual(await backend.delete(queue, [id]), [{ ok: true, value: null }]);
      assert.equal(await backend.get(queue, id), null);
      const [again] = await backend.delete(queue, [id]);
      assert.equal(again?.ok === false && again.error.code, 'task_not_found');
    });

    it('a delayed task inserted by another process is leased by a waiting lease at its ETA', async () => {
      const producer = await open();
      const consumer = await open();
      const queue = queueName();
      await producer.createQueue(queue);
      const waiting = consumer.lease(queue, { max: 1, leaseSeconds: 30, waitSeconds: 6 });
      const eta = Date.now() + 1500;
      await producer.insert(queue, [{ payload: bytes('later'), eta }]);
      const [task] = await waiting;
      assert.ok(task, 'the delayed task never came');
      assert.ok(Date.now() >= eta, 'leased before its ETA');
      assert.ok(Date.now() < eta + 1500, 'leased more than a recheck late');
      assert.equal(task.attempts, 1);
    });
  });

  describe('durability and connection loss', () => {
    it('an acknowledged insert survives closing every connection', async () => {
      const producer = await open();
      const queue = queueName();
      const id = await put(producer, queue, 'kept');
      await producer.close();
      const consumer = await open();
      const task = await leaseOne(consumer, queue);
      assert.equal(task.id, id);
      assert.equal(text(task.payload), 'kept');
    });

    it(
      'a lost server fails calls unavailable, and they work again once it is back',
      {
        skip: hasServerBinary ? false : 'nats-server is not on PATH',
      },
      async () => {
        const server = await startNatsServer();
        try {
          const backend = await connectNats({
            servers: server.url,
            prefix: PREFIX,
            timeoutMs: 1000,
          });
          opened.push(backend);
          const queue = queueName();
          const id = await put(backend, queue, 'before the outage');
          await server.stop();
          const error = await rejectsWith(backend.stats(queue), 'unavailable');
          assert.equal(error.retryable, true);
          await server.start();
          let task: LeasedTask | undefined;
          for (let tries = 0; task === undefined && tries < 20; tries++) {
            task = await backend
              .lease(queue, { max: 1, leaseSeconds: 30, waitSeconds: 1 })
              .then(([leased]) => leased)
              .catch(() => undefined);
          }
          assert.equal(task?.id, id, 'the stored task did not come back after the restart');
        } finally {
          await server.stop();
        }
      },
    );

    it('an unreachable server fails unavailable (retryable) with where it tried', async () => {
      const error = await rejectsWith(
        connectNats({ servers: '127.0.0.1:1', timeoutMs: 1000 }),
        'unavailable',
      );
      assert.match(error.message, /127\.0\.0\.1:1/);
    });
  });
});
