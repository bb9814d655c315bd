/**
 * The programs in examples/ run as their README says, as child processes against a real
 * `pullq serve`, with a producer+consumer token as a reader would make one: insert.ts then
 * worker.ts, insert.ts then pool.ts, and both stopped by a signal. Their stdout is the
 * evidence: every inserted id is processed once, by one process, and the queue ends empty.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { NO_CONFIG_HOME, bearer, startServe, type ServeProcess } from './serve-process.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

interface ExampleRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process ended and its output is read to the end. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('the examples against a running pullq serve', () => {
  let server: ServeProcess;
  let dataDir: string;
  let token: string;
  const agent = new Agent();
  const running = new Set<ChildProcess>();
  /** Workers pool.ts said it started: not our children, but ours to clean up. */
  const workerPids = new Set<number>();

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pullq-examples-'));
    server = await startServe(['--data', dataDir]);
    // A token as the README makes one: it may insert and consume, not create queues.
    const created = await request('POST', '/v1/tokens', {
      name: 'examples',
      roles: ['producer', 'consumer'],
      queue: 'examples-*',
    });
    token = (created as { token: string }).token;
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await Promise.all([...running].map(async (child) => once(child, 'close')));
    for (const pid of workerPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await server?.stop('SIGKILL');
    await agent.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  async function request(method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...bearer() },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      dispatcher: agent,
    });
    assert.ok(answer.ok, `${method} ${path}: ${answer.status} ${await answer.clone().text()}`);
    return answer.json();
  }

  /** `node --conditions=pullq-source examples/<file> ...args`, configured by environment. */
  function runExample(file: string, args: string[], queue: string): ExampleRun {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
    const child = spawn(
      process.execPath,
      ['--conditions=pullq-source', join(EXAMPLES, file), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...env,
          XDG_CONFIG_HOME: NO_CONFIG_HOME,
          PULLQ_URL: server.url.replace(/^http:/, 'pullq:'),
          PULLQ_TOKEN: token,
          PULLQ_QUEUE: queue,
        },
      },
    );
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const [, pid] of chunk.matchAll(/^pool started worker (\d+)$/gm)) {
        workerPids.add(Number(pid));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const ended = once(child, 'close').then(([code, signal]: unknown[]) => {
      running.delete(child);
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    return { child, stdout: () => stdout, stderr: () => stderr, ended };
  }

  /** Runs an example to its end; fails unless it exits 0. */
  async function runToEnd(file: string, args: string[], queue: string): Promise<string> {
    const run = runExample(file, args, queue);
    const end = await run.ended;
    assert.deepEqual(end, { code: 0, signal: null }, `${file} ended badly:\n${run.stderr()}`);
    return run.stdout();
  }

  /** Resolves once `pattern` has matched `count` lines of the example's stdout. */
  async function linesMatching(run: ExampleRun, pattern: RegExp, count: number): Promise<void> {
    const stdout = run.child.stdout!;
    await new Promise<void>((resolve, reject) => {
      const look = (): void => {
        if (matches(run.stdout(), pattern).length < count) return;
        stdout.off('data', look);
        resolve();
      };
      stdout.on('data', look);
      look();
      void run.ended.then(() => {
        stdout.off('data', look);
        reject(
          new Error(`ended before ${count} lines ${pattern}:\n${run.stdout()}${run.stderr()}`),
        );
      });
    });
  }

  async function assertQueueEmpty(queue: string): Promise<void> {
    const stats = (await request('GET', `/v1/queues/${queue}/stats`)) as Record<string, unknown>;
    const { ready, delayed, leased, dead } = stats;
    assert.deepEqual(
      { ready, delayed, leased, dead },
      { ready: 0, delayed: 0, leased: 0, dead: 0 },
    );
  }

  it('worker.ts processes each task insert.ts put exactly once, then stops when idle', async () => {
    const queue = 'examples-worker';
    const inserted = insertedIds(await runToEnd('insert.ts', ['5'], queue));
    assert.equal(inserted.length, 5);

    const output = await runToEnd('worker.ts', ['--idle', '1'], queue);
    const processed = processedTasks(output);
    assert.deepEqual(
      processed.map(({ id }) => id).sort(),
      [...inserted].sort(),
      'each inserted id processed exactly once',
    );
    assert.deepEqual(
      processed.map(({ body }) => body),
      [1, 2, 3, 4, 5].map((n) => ({ message: `hello ${n}` })),
    );
    assert.match(output, /^worker \d+ done \(idle for 1 s\): processed 5 tasks$/m);
    await assertQueueEmpty(queue);
  });

  it('pool.ts processes each task exactly once across its 3 workers and prints the total', async () => {
    const queue = 'examples-pool';
    const inserted = insertedIds(await runToEnd('insert.ts', ['30'], queue));
    assert.equal(inserted.length, 30);

    const output = await runToEnd('pool.ts', ['--workers', '3', '--idle', '1'], queue);
    const started = matches(output, /^pool started worker (\d+)$/gm).map(([, pid]) => Number(pid));
    assert.equal(new Set(started).size, 3);
    const processed = processedTasks(output);
    assert.deepEqual(
      processed.map(({ id }) => id).sort(),
      [...inserted].sort(),
      'each inserted id processed exactly once, by one worker',
    );
    for (const { pid } of processed) assert.ok(started.includes(pid), `${pid} is a pool worker`);
    const doneLines = matches(
      output,
      /^worker (\d+) done \(idle for 1 s\): processed (\d+) tasks$/gm,
    );
    assert.equal(doneLines.length, 3);
    for (const [, pid, count] of doneLines) {
      const own = processed.filter((task) => task.pid === Number(pid)).length;
      assert.equal(Number(count), own, `worker ${pid} counts the tasks it printed`);
    }
    assert.match(output, /^pool processed 30 tasks with 3 workers$/m);
    for (const pid of started) assert.equal(isAlive(pid), false, `worker ${pid} has ended`);
    await assertQueueEmpty(queue);
  });

  it('worker.ts stops on SIGTERM while it waits, and exits 0', async () => {
    const queue = 'examples-worker-signal';
    const [id] = insertedIds(await runToEnd('insert.ts', ['1'], queue));

    const run = runExample('worker.ts', ['--idle', '600'], queue);
    await linesMatching(run, /^worker \d+ processed task /gm, 1);
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.ended, { code: 0, signal: null }, run.stderr());
    assert.deepEqual(
      processedTasks(run.stdout()).map((task) => task.id),
      [id],
    );
    assert.match(run.stdout(), /^worker \d+ done \(stopped\): processed 1 tasks$/m);
    await assertQueueEmpty(queue);
  });

  it('pool.ts passes SIGTERM on to its workers, which stop; it exits 0', async () => {
    const queue = 'examples-pool-signal';
    await runToEnd('insert.ts', ['1'], queue); // a consumer token cannot create the queue

    const run = runExample('pool.ts', ['--workers', '3', '--idle', '600'], queue);
    await linesMatching(run, /^worker \d+ waiting for tasks /gm, 3);
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.ended, { code: 0, signal: null }, run.stderr());
    const output = run.stdout();
    assert.equal(matches(output, /^worker \d+ done \(stopped\): processed \d+ tasks$/gm).length, 3);
    assert.equal(processedTasks(output).length, 1);
    assert.match(output, /^pool processed 1 tasks with 3 workers$/m);
    const started = matches(output, /^pool started worker (\d+)$/gm).map(([, pid]) => Number(pid));
    for (const pid of started) assert.equal(isAlive(pid), false, `worker ${pid} has ended`);
    await assertQueueEmpty(queue);
  });
});

function matches(text: string, pattern: RegExp): RegExpExecArray[] {
  return [...text.matchAll(pattern)];
}

/** The ids of insert.ts's `inserted task <id>: <body>` lines. */
function insertedIds(output: string): string[] {
  return matches(output, /^inserted task (\S+): /gm).map(([, id]) => id as string);
}

/** The `worker <pid> processed task <id>: <body>` lines, in order. */
function processedTasks(output: string): { pid: number; id: string; body: unknown }[] {
  return matches(output, /^worker (\d+) processed task (\S+): (.*)$/gm).map(
    ([, pid, id, body]) => ({
      pid: Number(pid),
      id: id as string,
      body: JSON.parse(body as string) as unknown,
    }),
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
