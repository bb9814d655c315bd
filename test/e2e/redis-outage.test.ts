/**
 * `pullq serve --backend redis://...` through Redis outages. The test runs a redis-server of
 * its own (its own port and data folder, appendonly yes, appendfsync always), producers that
 * insert named tasks and consumers that lease and ack them, all over HTTP. Redis is stopped
 * twice while they run, once gracefully (SIGTERM) and once as a crash (SIGKILL), for a few
 * seconds each, then started again on the same folder. While it is down the server answers
 * 503 with the catalog's `unavailable` error, quickly; it recovers by itself; and every insert
 * answered 2xx is still there: in the end each was acked (or was in an ack whose answer
 * never came, the one case where a caller cannot know).
 *
 * Needs redis-server on PATH ($PULLQ_TEST_REDIS_SERVER to name another): missing, it fails
 * the file under CI=true and skips it otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { startServe } from './serve-process.ts';

const REDIS_SERVER = process.env['PULLQ_TEST_REDIS_SERVER'] ?? 'redis-server';
const QUEUE = 'outage';
const PRODUCERS = 2;
const CONSUMERS = 2;
/** Short leases, so tasks whose lease answer was lost in an outage come back soon. */
const LEASE_SECONDS = 2;
const DOWN_MS = 3000;
/** "Quickly": a request made while Redis is down is answered within this. */
const ANSWER_WITHIN_MS = 2500;
/** The server serves again this soon after Redis is back (it reconnects at least every 1 s). */
const RECOVER_WITHIN_MS = 5000;

const found = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
const missing = found.error ? `${REDIS_SERVER} cannot be run: ${String(found.error)}` : null;
if (missing !== null && process.env['CI'] === 'true') throw new Error(missing);

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** Starts redis-server on `dir` and resolves once it accepts connections. */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start:\n${output}`)),
      10_000,
    );
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${String(code)}):\n${output}`));
    });
  });
  return child;
}

async function stopRedis(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

interface Answer {
  status: number;
  body: unknown;
  ms: number;
}

interface WireTask {
  id: string;
  leaseToken: string;
}

describe('pullq serve on Redis through outages', { skip: missing ?? false }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('answers 503 unavailable while Redis is down, recovers by itself, and loses no acknowledged insert', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-redis-outage-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    let redis = await startRedis(port, dir);
    cleanups.push(() => stopRedis(redis, 'SIGKILL'));
    const serve = await startServe(
      ['--backend', `redis://127.0.0.1:${port}/?prefix=outage`, '--no-auth'],
      { env: { PULLQ_ADMIN_TOKEN: '' } },
    );
    cleanups.push(() => serve.stop('SIGTERM'));
    const agent = new Agent({ connections: PRODUCERS + CONSUMERS + 2 });
    cleanups.push(() => agent.close());

    const post = async (path: string, body: unknown): Promise<Answer> => {
      const started = performance.now();
      const response = await fetch(`${serve.url}/v1/queues/${QUEUE}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        dispatcher: agent,
      });
      return {
        status: response.status,
        body: await response.json(),
        ms: performance.now() - started,
      };
    };

    const inserted = new Set<string>(); // answered 2xx
    const acked = new Set<string>(); // answered 2xx, item ok
    const ackUnknown = new Set<string>(); // in an ack answered 503: may or may not have landed
    const failures: Answer[] = [];
    let down = false;
    let running = true;
    /** performance.now() of the first 2xx after each restart, and of each restart. */
    const restarts: { at: number; servedAt: number | null }[] = [];

    const record = (answer: Answer): boolean => {
      if (answer.status === 200) {
        const restart = restarts.at(-1);
        if (restart && restart.servedAt === null) restart.servedAt = performance.now();
        return true;
      }
      failures.push(answer);
      return false;
    };

    const producer = async (worker: number): Promise<void> => {
      for (let n = 0; running; n += 1) {
        const ids = Array.from({ length: 1 + (n % 3) }, (_, index) => `p${worker}-${n}-${index}`);
        const answer = await post('tasks', { tasks: ids.map((id) => ({ id, text: id })) });
        if (!record(answer)) continue;
        const results = (answer.body as { results: { ok: boolean }[] }).results;
        assert.ok(
          results.every((result) => result.ok),
          JSON.stringify(answer.body),
        );
        for (const id of ids) inserted.add(id);
      }
    };

    const consume = async (): Promise<number> => {
      const answer = await post('lease', {
        max: 20,
        leaseSeconds: LEASE_SECONDS,
        waitSeconds: 0.5,
      });
      if (!record(answer)) return 0;
      const tasks = (answer.body as { tasks: WireTask[] }).tasks;
      if (tasks.length === 0) return 0;
      const leases = tasks.map((task) => ({ id: task.id, token: task.leaseToken }));
      const ack = await post('ack', { leases });
      if (!record(ack)) {
        for (const task of tasks) ackUnknown.add(task.id);
        return tasks.length;
      }
      (ack.body as { results: { ok: boolean }[] }).results.forEach((result, index) => {
        const id = tasks[index]?.id;
        if (result.ok && id !== undefined) acked.add(id);
      });
      return tasks.length;
    };

    const consumer = async (): Promise<void> => {
      while (running) await consume();
    };

    const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

    const outage = async (signal: NodeJS.Signals): Promise<void> => {
      const before = failures.length;
      down = true;
      await stopRedis(redis, signal);
      await sleep(DOWN_MS);
      const during = failures.slice(before);
      redis = await startRedis(port, dir);
      restarts.push({ at: performance.now(), servedAt: null });
      down = false;
      assert.ok(during.length > 0, `no request failed while Redis was down (${signal})`);
      for (const answer of during) {
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
        const error = (answer.body as { error: { code: string; retryable: boolean } }).error;
        assert.equal(error.code, 'unavailable');
        assert.equal(error.retryable, true);
        assert.ok(answer.ms < ANSWER_WITHIN_MS, `a 503 took ${Math.round(answer.ms)} ms`);
      }
    };

    const workers = [
      ...Array.from({ length: PRODUCERS }, (_, worker) => producer(worker)),
      ...Array.from({ length: CONSUMERS }, () => consumer()),
    ];
    await sleep(1500);
    await outage('SIGTERM');
    await sleep(1500);
    await outage('SIGKILL');
    await sleep(1500);
    running = false;
    await Promise.all(workers);
    assert.equal(down, false);

    // Drain: tasks whose lease answer was lost come back once their lease runs out.
    const deadline = performance.now() + 15_000;
    let left = Infinity;
    while (left > 0 && performance.now() < deadline) {
      if ((await consume()) > 0) continue;
      const stats = await fetch(`${serve.url}/v1/queues/${QUEUE}/stats`, { dispatcher: agent });
      const counts = (await stats.json()) as { ready: number; delayed: number; leased: number };
      left = counts.ready + counts.delayed + counts.leased;
      if (left > 0) await sleep(200);
    }
    assert.equal(left, 0, 'the queue drains once Redis is back');

    for (const restart of restarts) {
      assert.ok(restart.servedAt !== null, 'the server served again after Redis came back');
      const tookMs = restart.servedAt - restart.at;
      assert.ok(
        tookMs < RECOVER_WITHIN_MS,
        `served again ${Math.round(tookMs)} ms after the restart`,
      );
    }
    t.diagnostic(
      `${inserted.size} inserts acknowledged, ${acked.size} acks, ${ackUnknown.size} in acks ` +
        `answered 503, ${failures.length} answers 503; served again ` +
        `${restarts.map((r) => Math.round((r.servedAt ?? NaN) - r.at)).join(' and ')} ms after each restart`,
    );
    assert.ok(inserted.size > 50, `only ${inserted.size} inserts were acknowledged`);
    const lost = [...inserted].filter((id) => !acked.has(id) && !ackUnknown.has(id));
    assert.deepEqual(lost, [], 'every insert answered 2xx was delivered and acked');
    const unexpected = failures.filter((answer) => answer.status !== 503);
    assert.deepEqual(unexpected, [], 'every failure was a 503');
  });
});
