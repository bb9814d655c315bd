/**
 * Long-poll end to end: a `get()` parked on an empty queue of a real `pullq serve` (SQLite)
 * wakes as soon as another process's put lands, instead of at its next poll. The gap is
 * measured between two readings of the same machine clock: the producer's, taken right after
 * its put resolved, and the consumer's, taken when its get resolved.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '../../src/client/connection.ts';
import { TEST_ADMIN_TOKEN, startServe } from './serve-process.ts';

const PUT_ONE = fileURLToPath(new URL('fixtures/put-one.ts', import.meta.url));
const ROUNDS = 5;
const QUEUE = 'long-poll';
/** How far before the producer's reading the consumer's may fall without a clock mix-up. */
const CLOCK_SLACK_MS = 50;

/** Milliseconds since the epoch, sub-millisecond: what the producer process reports too. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

interface Putter {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<unknown>;
  /** Tells the process to put now; resolves with the time its put resolved. */
  put(): Promise<number>;
}

/** Starts fixtures/put-one.ts and waits until it has loaded the client, so that its startup
 * falls before the consumer's wait. */
async function startPutter(url: string, body: string): Promise<Putter> {
  const child = spawn(process.execPath, ['--conditions=pullq-source', PUT_ONE, url, QUEUE, body], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PULLQ_TEST_TOKEN: TEST_ADMIN_TOKEN },
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`put-one.ts ended early:\n${stderr}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  assert.deepEqual(await nextLine(), { ready: true });
  return {
    child,
    exited,
    put: async () => {
      child.stdin.write('go\n');
      const { putDoneAt } = await nextLine();
      assert.equal(typeof putDoneAt, 'number');
      return putDoneAt as number;
    },
  };
}

describe('long-poll get() against a running pullq serve', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('get({ timeout: 5 }) on an empty queue returns within 50 ms of another process putting a task', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-long-poll-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const server = await startServe(['--data', dir]);
    cleanups.push(() => server.stop('SIGKILL'));
    const connection = new Connection(server.url.replace(/^http:/, 'pullq:'), {
      token: TEST_ADMIN_TOKEN,
    });
    cleanups.push(() => connection.close());
    const queue = connection.simpleQueue<string>(QUEUE);
    // The queue exists, and the consumer's connection to the server is open.
    await queue.put('warm-up');
    await (await queue.get({ timeout: 2 }))?.ack();

    const gaps: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const body = `round ${round}`;
      const putter = await startPutter(server.url, body);
      cleanups.push(async () => {
        if (putter.child.exitCode === null) putter.child.kill('SIGKILL');
      });
      const got = queue.get({ timeout: 5 }).then((message) => ({ message, at: wallNow() }));
      await sleep(300); // parked on the server by now
      const putDoneAt = await putter.put();
      const { message, at } = await got;
      assert.ok(message !== null, `round ${round}: get() ended empty`);
      assert.equal(message.body, body);
      await message.ack();
      await putter.exited;
      const gap = at - putDoneAt;
      t.diagnostic(`round ${round}: get resolved ${gap.toFixed(2)} ms after the put`);
      // The get may win by a few ms: the server answers the parked lease from within the insert,
      // and the producer still has its answer to read. The body above already shows the get
      // saw this put; the floor only catches a clock mix-up (seen down to -5.3 ms under load).
      assert.ok(gap >= -CLOCK_SLACK_MS, `round ${round}: get resolved ${-gap} ms before the put`);
      assert.ok(gap < 50, `round ${round}: get resolved ${gap} ms after the put, not within 50`);
      gaps.push(gap);
    }
    const sorted = gaps.toSorted((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    const max = sorted.at(-1) as number;
    t.diagnostic(
      `gap from put resolved to get resolved over ${ROUNDS} rounds: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms`,
    );
  });
});
