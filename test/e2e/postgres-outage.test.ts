/**
 * `pullq serve` on a PostgreSQL that goes away: the test starts a PostgreSQL of its own
 * (initdb into a temporary folder, a free port), runs the server on it, keeps inserting and
 * draining, and stops the database for a few seconds (pg_ctl stop -m fast, then start).
 * While it is down, requests answer 503 with the catalog's `unavailable` error (retryable);
 * once it is back the server recovers by itself; and every insert answered 2xx is still there.
 *
 * PostgreSQL's binaries come from $PULLQ_TEST_PG_BIN (default /usr/lib/postgresql/15/bin).
 * As root they run as the `postgres` OS user (PostgreSQL refuses to run as root). Without
 * them the file fails under CI=true and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { fetch } from 'undici';
import type { LeasedTask } from '../../src/backends/backend.ts';
import { HttpBackend } from '../../src/backends/http.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { startServe, type ServeProcess } from './serve-process.ts';

const run = promisify(execFile);
const BIN = process.env['PULLQ_TEST_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const QUEUE = 'outage';
const DOWN_MS = 3000;

const missing = existsSync(join(BIN, 'pg_ctl'))
  ? null
  : `PostgreSQL binaries not found in ${BIN} (set PULLQ_TEST_PG_BIN)`;
if (missing !== null && process.env['CI'] === 'true') throw new Error(missing);

/** Runs a PostgreSQL binary, as the postgres OS user when this process is root. */
async function pg(tool: string, args: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args]]
    : [join(BIN, tool), args];
  await run(command, argv, { timeout: 60_000 });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

type Phase = 'before' | 'down' | 'after';

interface Answer {
  status: number;
  code: string | null;
  retryable: boolean | null;
}

describe('pullq serve when PostgreSQL goes away', { skip: missing ?? false }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('answers 503 unavailable while the database is down, recovers by itself, and keeps every insert answered 2xx', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-pg-outage-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout), Number(group));
    }
    const data = join(dir, 'data');
    const port = await freePort();
    await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    const start = (): Promise<void> =>
      pg('pg_ctl', [
        'start',
        '-w',
        '-D',
        data,
        '-l',
        join(dir, 'postgres.log'),
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      ]);
    const stop = (): Promise<void> => pg('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', data]);
    await start();
    cleanups.push(() => pg('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', data]));

    const server: ServeProcess = await startServe(
      ['--backend', `postgres://postgres@127.0.0.1:${port}/postgres`, '--no-auth'],
      { env: { PULLQ_ADMIN_TOKEN: '' } },
    );
    cleanups.push(() => server.stop('SIGKILL'));
    const client = new HttpBackend({ url: server.url });
    cleanups.push(() => client.close());
    await client.createQueue(QUEUE);

    let phase: Phase = 'before';
    const acknowledged = new Set<string>();
    const answers: Record<Phase, Answer[]> = { before: [], down: [], after: [] };
    let producing = true;
    const producer = async (worker: number): Promise<void> => {
      for (let n = 0; producing; n += 1) {
        const ids = [0, 1, 2].map((index) => `w${worker}-${n}-${index}`);
        const at = phase;
        const response = await fetch(`${server.url}/v1/queues/${QUEUE}/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ tasks: ids.map((id) => ({ id, text: id })) }),
        });
        const body = (await response.json()) as {
          results?: { ok: boolean }[];
          error?: { code: string; retryable: boolean };
        };
        answers[at].push({
          status: response.status,
          code: body.error?.code ?? null,
          retryable: body.error?.retryable ?? null,
        });
        if (response.ok && body.results?.every((result) => result.ok)) {
          for (const id of ids) acknowledged.add(id);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    // Drains alongside; a lease or ack lost to the outage leaves its tasks to the final drain.
    const drained = new Set<string>();
    const drain = async (leaseSeconds: number): Promise<LeasedTask[]> => {
      const tasks = await client.lease(QUEUE, { max: 50, leaseSeconds });
      if (tasks.length === 0) return tasks;
      const results = await client.ack(
        QUEUE,
        tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
      );
      tasks.forEach((task, index) => results[index]?.ok && drained.add(task.id));
      return tasks;
    };
    const consumer = async (): Promise<void> => {
      while (producing) {
        try {
          if ((await drain(2)).length === 0) await new Promise((r) => setTimeout(r, 20));
        } catch (error) {
          assert.ok(isPullqError(error, 'unavailable'), String(error));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const workers = [producer(1), producer(2), consumer()];
    cleanups.push(async () => {
      producing = false;
      await Promise.allSettled(workers);
    });

    const waitFor = async (ready: () => boolean, what: string, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!ready()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await waitFor(() => acknowledged.size >= 300, '300 acknowledged inserts', 20_000);
    phase = 'down';
    await stop();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    await start();
    phase = 'after';
    const ok = (): number => answers.after.filter((answer) => answer.status === 200).length;
    await waitFor(() => ok() >= 50, '50 inserts answered 200 after the restart', 20_000);
    producing = false;
    await Promise.all(workers);

    // Whatever is left (and leases the outage cut short, once they run out) drains now.
    for (let empty = 0; empty < 3;) {
      empty = (await drain(60)).length === 0 ? empty + 1 : 0;
      if (empty > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    }

    const down = answers.down;
    assert.ok(down.length > 0, 'requests were made while the database was down');
    assert.ok(
      down.some((answer) => answer.status !== 200),
      'some requests failed while the database was down',
    );
    // Any failure, in any phase (a request under way as the database stopped, too), is
    // the catalog's retryable unavailable.
    for (const answer of [...answers.before, ...down, ...answers.after]) {
      if (answer.status === 200) continue;
      assert.deepEqual(answer, { status: 503, code: 'unavailable', retryable: true });
    }
    t.diagnostic(
      `${acknowledged.size} inserts acknowledged; while down: ${down.length} answers, ` +
        `${down.filter((answer) => answer.status === 503).length} of them 503`,
    );
    const lost = [...acknowledged].filter((id) => !drained.has(id));
    assert.deepEqual(lost, [], `${lost.length} inserts answered 2xx were lost`);
    const stats = await client.stats(QUEUE);
    assert.deepEqual([stats.ready, stats.delayed, stats.leased], [0, 0, 0]);
    assert.equal(await server.stop('SIGTERM'), 0);
  });
});
