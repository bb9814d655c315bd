/**
 * `pullq worker` as a real process against a real `pullq serve`: `--once` drains a queue and
 * exits 0, SIGTERM stops it within the grace period without losing a task, a second signal
 * forces it and lists what it gave back, and `--status` / `--metrics-port` show what it does.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import {
  NO_CONFIG_HOME,
  PULLQ_BIN,
  TEST_ADMIN_TOKEN,
  bearer,
  startServe,
  type ServeProcess,
} from './serve-process.ts';

const TASKS = 50;

/** Appends each id it handles to OUT; waits DELAY_MS first (from the environment). */
const HANDLER = `
import { appendFileSync } from 'node:fs';
const out = process.env.WORKER_TEST_OUT;
const delayMs = Number(process.env.WORKER_TEST_DELAY_MS ?? '0');
export default async function handle(message) {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  appendFileSync(out, message.id + '\\n');
}
`;

interface Setup {
  dir: string;
  server: ServeProcess;
  handler: string;
  out: string;
  ids: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(queue: string): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'pullq-worker-cli-'));
  cleanups.push(async () => rm(dir, { recursive: true, force: true }));
  const server = await startServe(['--data', join(dir, 'data')]);
  cleanups.push(async () => server.stop('SIGTERM'));
  const handler = join(dir, 'handler.mjs');
  await writeFile(handler, HANDLER);
  const out = join(dir, 'processed.txt');
  await writeFile(out, '');
  const ids = Array.from({ length: TASKS }, (_, n) => `task-${n}`);
  const response = await fetch(`${server.url}/v1/queues/${queue}/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer() },
    body: JSON.stringify({ tasks: ids.map((id) => ({ id, text: `payload of ${id}` })) }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const body = (await response.json()) as { results: { ok: boolean }[] };
  assert.ok(body.results.every((result) => result.ok));
  return { dir, server, handler, out, ids };
}

interface WorkerProcess {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | string>;
}

function startWorker(args: string[], env: Record<string, string>): WorkerProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('PULLQ_')) delete childEnv[name];
  const child = spawn(process.execPath, [PULLQ_BIN, 'worker', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...childEnv, XDG_CONFIG_HOME: NO_CONFIG_HOME, ...env },
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) =>
    code === null ? String(signal) : Number(code),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, stderr: () => stderr, exited };
}

async function processedIds(out: string): Promise<string[]> {
  return (await readFile(out, 'utf8')).split('\n').filter((line) => line !== '');
}

async function queueStats(server: ServeProcess, queue: string): Promise<Record<string, number>> {
  const response = await fetch(`${server.url}/v1/queues/${queue}/stats`, { headers: bearer() });
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, number>;
}

describe('pullq worker', () => {
  it('--once processes every task exactly once, empties the queue and exits 0', async () => {
    const { server, handler, out, ids } = await setup('q');
    const worker = startWorker(
      [
        handler,
        '--queue',
        'q',
        '--once',
        '--processes',
        '2',
        '--concurrency',
        '5',
        '--server',
        server.url,
        '--token',
        TEST_ADMIN_TOKEN,
        '--log-level',
        'warn',
      ],
      { WORKER_TEST_OUT: out },
    );
    assert.equal(await worker.exited, 0, worker.stderr());
    assert.match(
      worker.stderr(),
      /queue q at .*: 2 process\(es\) x 5 concurrency, prefetch auto \(10 to 1000\)/,
    );
    assert.match(worker.stderr(), /processed 50, failed 0, retried 0, dead 0/);
    const processed = await processedIds(out);
    assert.deepEqual([...processed].sort(), [...ids].sort(), 'each id exactly once');
    const stats = await queueStats(server, 'q');
    assert.deepEqual(
      [stats['ready'], stats['delayed'], stats['leased'], stats['dead']],
      [0, 0, 0, 0],
    );
  });

  it('SIGTERM finishes running tasks within the grace period, exits 0 and loses none', async () => {
    const { server, handler, out, ids } = await setup('slow');
    const graceSeconds = 10;
    const worker = startWorker(
      [
        handler,
        '--queue',
        'slow',
        '--processes',
        '2',
        '--concurrency',
        '2',
        '--grace',
        String(graceSeconds),
        '--server',
        server.url,
        '--token',
        TEST_ADMIN_TOKEN,
        '--log-level',
        'warn',
      ],
      { WORKER_TEST_OUT: out, WORKER_TEST_DELAY_MS: '200' },
    );
    while ((await processedIds(out)).length < 5) {
      assert.equal(worker.child.exitCode, null, `the worker exited early:\n${worker.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.stderr());
    // The timed assertion this test exists for: the exit comes within the grace period.
    assert.ok(Date.now() - signalledAt < graceSeconds * 1000, 'exited within the grace period');
    assert.match(worker.stderr(), /stopping: finishing \d+ running task\(s\), up to 10 s/);

    const processed = await processedIds(out);
    assert.equal(new Set(processed).size, processed.length, 'no task processed twice');
    assert.ok(processed.length < TASKS, 'the worker stopped before the queue was drained');
    const stats = await queueStats(server, 'slow');
    assert.equal(stats['leased'], 0, 'nothing is left leased');
    assert.equal(
      processed.length + (stats['ready'] ?? 0),
      ids.length,
      'every task was processed or is ready again',
    );
  });

  it('a second SIGTERM aborts running handlers, gives their tasks back at once, exits 1 and lists them', async () => {
    const { server, handler, out, ids } = await setup('stuck');
    const worker = startWorker(
      [
        handler,
        ...['--queue', 'stuck', '--processes', '2', '--concurrency', '2', '--grace', '60'],
        ...['--server', server.url, '--token', TEST_ADMIN_TOKEN, '--log-level', 'warn'],
      ],
      { WORKER_TEST_OUT: out, WORKER_TEST_DELAY_MS: '60000' },
    );
    while ((await queueStats(server, 'stuck'))['leased'] !== 4 + 4) {
      assert.equal(worker.child.exitCode, null, `the worker exited early:\n${worker.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    worker.child.kill('SIGTERM');
    while (!worker.stderr().includes('stopping:')) await new Promise((r) => setTimeout(r, 20));
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 1, worker.stderr());
    const listed = /released 4 running task\(s\) unfinished: (.*)/.exec(worker.stderr());
    assert.ok(listed !== null, worker.stderr());
    const released = (listed[1] ?? '').split(', ');
    assert.equal(released.length, 4);
    for (const id of released) assert.ok(ids.includes(id), `${id} is one of the tasks`);
    assert.deepEqual(await processedIds(out), [], 'no handler finished');
    const stats = await queueStats(server, 'stuck');
    assert.equal(stats['leased'], 0, 'nothing is left leased');
    assert.equal(stats['ready'], ids.length, 'every task is leasable again at once');
  });

  it('--status draws the live status line and --metrics-port serves Prometheus metrics while it runs', async () => {
    const { server, handler, out, ids } = await setup('watched');
    const worker = startWorker(
      [
        handler,
        ...['--queue', 'watched', '--processes', '1', '--concurrency', '2', '--once'],
        ...['--status', '--metrics-port', '0'],
        ...['--server', server.url, '--token', TEST_ADMIN_TOKEN],
      ],
      { WORKER_TEST_OUT: out, WORKER_TEST_DELAY_MS: '60' },
    );
    let url: string | undefined;
    while (url === undefined) {
      assert.equal(worker.child.exitCode, null, `the worker exited early:\n${worker.stderr()}`);
      url = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(worker.stderr())?.[1];
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const scrape = await fetch(url);
    assert.equal(scrape.status, 200);
    assert.match(
      await scrape.text(),
      /^pullq_worker_tasks_total\{queue="watched",outcome="processed"\} \d+$/m,
    );
    assert.equal(await worker.exited, 0, worker.stderr());
    assert.equal((await processedIds(out)).length, ids.length);
    assert.match(
      worker.stderr(),
      /processed [\d,]+ \([\d,]+\/s\) · in flight \d+ · buffered \d+ · failed 0 · retried 0 · dead 0 · renewals \d+ · processes 1/,
    );
  });

  it('--url works on a store directly, with no server: a SQLite file drained with --once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-worker-url-'));
    cleanups.push(async () => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'queue.db');
    const store = new SqliteBackend({ path });
    const ids = Array.from({ length: 20 }, (_, n) => `direct-${n}`);
    await store.insert(
      'direct',
      ids.map((id) => ({ id, payload: new TextEncoder().encode(id) })),
      {
        createQueue: true,
      },
    );
    await store.close();
    const handler = join(dir, 'handler.mjs');
    await writeFile(handler, HANDLER);
    const out = join(dir, 'processed.txt');
    await writeFile(out, '');
    const worker = startWorker(
      [handler, '--queue', 'direct', '--url', `sqlite://${path}`, '--once', '--processes', '1'],
      { WORKER_TEST_OUT: out },
    );
    assert.equal(await worker.exited, 0, worker.stderr());
    assert.deepEqual((await processedIds(out)).sort(), [...ids].sort());
    assert.match(worker.stderr(), /worker: queue direct at sqlite:\/\//);
    const both = startWorker(
      [handler, '--queue', 'q', '--url', 'memory://', '--server', 'http://x'],
      {},
    );
    assert.equal(await both.exited, 2);
    assert.match(both.stderr(), /give --url or --server, not both/);
  });
});
