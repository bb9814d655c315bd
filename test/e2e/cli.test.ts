/**
 * The `pullq` command line against a real `pullq serve` (SQLite in a temp folder), each
 * command a real process.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_ADMIN_TOKEN, runCli, startServe, type ServeProcess } from './serve-process.ts';

interface JsonTask {
  id: string;
  leaseToken?: string;
  text: string | null;
  payload: string;
  state: string;
  tag: string | null;
  attempts: number;
}

describe('pullq command line', { concurrency: true }, () => {
  let dir: string;
  let server: ServeProcess;
  const env = (): Record<string, string> => ({
    PULLQ_SERVER: server.url,
    PULLQ_TOKEN: TEST_ADMIN_TOKEN,
  });
  const cli = (...args: string[]) => runCli(args, { env: env() });
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args, '--json');
    assert.equal(result.code, 0, `pullq ${args.join(' ')} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullq-cli-'));
    server = await startServe(['--data', join(dir, 'data')]);
  });

  after(async () => {
    await server?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('put, lease and ack carry a task through its life', async () => {
    const put = await cli('put', 'life', 'hello world', '--tag', 'greeting');
    assert.equal(put.code, 0, put.stderr);
    const id = put.stdout.trim();
    assert.match(id, /^[a-zA-Z0-9_-]+$/);

    const { tasks } = await json<{ tasks: JsonTask[] }>('lease', 'life', '--max', '5');
    assert.equal(tasks.length, 1);
    const [task] = tasks;
    assert.equal(task?.id, id);
    assert.equal(task?.text, 'hello world');
    assert.equal(task?.tag, 'greeting');
    assert.equal(task?.attempts, 1);

    const ack = await cli('ack', 'life', `${id}:${task?.leaseToken ?? ''}`);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stderr, /acked 1 of 1/);
    const stats = await json<{ ready: number; leased: number }>('stats', 'life');
    assert.deepEqual([stats.ready, stats.leased], [0, 0]);
  });

  it('put reads the payload from stdin and lease shows bytes that are not text as base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const put = await runCli(['put', 'bytes'], {
      env: env(),
      input: bytes,
    });
    assert.equal(put.code, 0, put.stderr);
    const lease = await cli('lease', 'bytes');
    assert.equal(lease.code, 0, lease.stderr);
    assert.match(lease.stdout, /^ID\s+TOKEN\s+ATTEMPTS/);
    assert.match(
      lease.stdout,
      new RegExp(`base64:${bytes.toString('base64').replace(/\+/g, '\\+')}`),
    );
  });

  it('ack with a stale lease token fails with lease_lost and exit code 1', async () => {
    const id = (await cli('put', 'stale', 'x')).stdout.trim();
    await json('lease', 'stale');
    const ack = await cli('ack', 'stale', `${id}:not-the-token`);
    assert.equal(ack.code, 1);
    assert.match(ack.stderr, /error: lease_lost: /);
  });

  it('put --file imports every good line and reports a bad one by its line number', async () => {
    const file = join(dir, 'tasks.jsonl');
    await writeFile(
      file,
      [
        '{"text": "one", "tag": "a"}',
        '{"json": {"n": 2}}',
        '',
        '{"text": "unclosed',
        '{"to": "someone@example.com"}',
        '{"payload": "AAEC", "id": "chosen-id"}',
      ].join('\n') + '\n',
    );
    const human = await cli('put', 'bulk', '--file', file);
    assert.equal(human.code, 1, 'a failed line makes the exit code 1');
    assert.match(human.stderr, /imported 4 task\(s\) into bulk/);
    assert.match(human.stderr, /line 4: invalid_argument: not valid JSON/);

    // --json still exits 1 when a line failed; its document says which.
    const raw = await cli('put', 'bulk2', '--file', file, '--json');
    assert.equal(raw.code, 1);
    const summary = JSON.parse(raw.stdout) as {
      imported: number;
      failed: { line: number; code: string }[];
    };
    assert.equal(summary.imported, 4);
    assert.deepEqual(
      summary.failed.map((failure) => [failure.line, failure.code]),
      [[4, 'invalid_argument']],
    );

    const { tasks } = await json<{ tasks: JsonTask[] }>('list', 'bulk', '--payload');
    assert.deepEqual(
      tasks.map((task) => task.text),
      ['one', '{"n":2}', '{"to": "someone@example.com"}', null],
    );
    assert.equal(tasks[3]?.id, 'chosen-id');
    assert.equal(tasks[3]?.payload, 'AAEC');
  });

  it('list filters by state and by tag, and stats counts each state', async () => {
    await cli('put', 'filters', 'now', '--tag', 'red');
    await cli('put', 'filters', 'later', '--delay', '600');
    const delayed = await json<{ tasks: JsonTask[] }>('list', 'filters', '--state', 'delayed');
    assert.deepEqual(
      delayed.tasks.map((task) => task.state),
      ['delayed'],
    );
    const red = await json<{ tasks: JsonTask[] }>('list', 'filters', '--tag', 'red');
    assert.deepEqual(
      red.tasks.map((task) => task.tag),
      ['red'],
    );
    const stats = await json<{ ready: number; delayed: number }>('stats', 'filters');
    assert.deepEqual([stats.ready, stats.delayed], [1, 1]);

    const table = await cli('stats');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^QUEUE\s+READY\s+DELAYED\s+LEASED\s+DEAD/);
    assert.match(table.stdout, /\nfilters\s+1\s+1\s+0\s+0\s/);
  });

  it('queue create, update, list and delete manage a queue and its settings', async () => {
    const created = await json<{
      name: string;
      maxLeases: number | null;
      deadLetterQueue: string | null;
    }>('queue', 'create', 'admin', '--max-leases', '3', '--dead-letter-queue', 'admin-dead');
    assert.deepEqual(
      [created.name, created.maxLeases, created.deadLetterQueue],
      ['admin', 3, 'admin-dead'],
    );

    const updated = await json<{
      maxLeases: number | null;
      paused: boolean;
      dedupWindowSeconds: number;
    }>('queue', 'update', 'admin', '--max-leases', 'none', '--pause', '--dedup-window', '60');
    assert.deepEqual(
      [updated.maxLeases, updated.paused, updated.dedupWindowSeconds],
      [null, true, 60],
    );

    const { queues } = await json<{ queues: { name: string }[] }>('queue', 'list');
    assert.ok(queues.some((queue) => queue.name === 'admin'));

    const refused = await cli('queue', 'delete', 'admin');
    assert.equal(refused.code, 2, 'deleting without --yes off a terminal is a usage error');
    assert.match(refused.stderr, /--yes/);

    const deleted = await cli('queue', 'delete', 'admin', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await cli('queue', 'get', 'admin');
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^error: queue_not_found: /);
    assert.match(gone.stderr, /\nhint: /);
  });

  it('a task leased past maxLeases is dead, and redrive makes it ready again', async () => {
    await json('queue', 'create', 'fragile', '--max-leases', '1');
    await cli('put', 'fragile', 'x');
    await json('lease', 'fragile', '--lease-seconds', '0');
    const second = await json<{ tasks: JsonTask[] }>('lease', 'fragile');
    assert.equal(second.tasks.length, 0, 'the second lease dead-letters the task instead');
    assert.equal(
      (await json<{ tasks: JsonTask[] }>('list', 'fragile', '--state', 'dead')).tasks.length,
      1,
    );

    const redrive = await json<{ redriven: number }>('redrive', 'fragile');
    assert.equal(redrive.redriven, 1);
    const stats = await json<{ ready: number; dead: number }>('stats', 'fragile');
    assert.deepEqual([stats.ready, stats.dead], [1, 0]);
  });

  it('usage errors exit with code 2 and say what is wrong', async () => {
    const badMax = await cli('lease', 'q', '--max', '0');
    assert.equal(badMax.code, 2);
    assert.match(badMax.stderr, /--max must be an integer from 1 to 1000/);
    const missing = await cli('put');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'queue'/);
    const badAck = await cli('ack', 'q', 'no-colon-here');
    assert.equal(badAck.code, 2);
    assert.match(badAck.stderr, /is not ID:TOKEN/);
  });

  it('a client with no server listening says so, with a hint, and exits 1', async () => {
    const port = await closedPort();
    const result = await runCli(['stats', '--server', `http://127.0.0.1:${port}`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: unavailable: /);
    assert.match(
      result.stderr,
      /hint: nothing answers at http:\/\/127\.0\.0\.1:\d+: is `pullq serve` running there\?/,
    );
  });
});

/** A port that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
