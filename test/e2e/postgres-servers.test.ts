/**
 * Two `pullq serve` processes on one PostgreSQL database and schema, as behind a load
 * balancer: tasks put through either are drained through both, each exactly once, and a
 * long-poll on one server wakes when a task arrives through the other (LISTEN/NOTIFY).
 * The database is $PULLQ_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
 * in a schema of this run, dropped at the end. An unreachable database fails the file under
 * CI=true and skips it otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Backend } from '../../src/backends/backend.ts';
import { HttpBackend } from '../../src/backends/http.ts';
import { startServe, type ServeProcess } from './serve-process.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `pq_servers_${process.pid}_${Date.now().toString(36)}`;
const TASKS = 20_000;
/** Long enough that no lease runs out during the drain: a task seen twice is a bug. */
const LEASE_SECONDS = 600;

async function sql(text: string): Promise<void> {
  const client = new pg.Client(URL);
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const unreachable = await sql('SELECT 1').then(
  () => null,
  (error: unknown) => `PostgreSQL at ${URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

describe('two pullq serve on one PostgreSQL', { skip: unreachable ?? false }, () => {
  const servers: ServeProcess[] = [];
  const clients: Backend[] = [];
  let a: HttpBackend;
  let b: HttpBackend;

  before(async () => {
    const backend = `${URL}${URL.includes('?') ? '&' : '?'}schema=${SCHEMA}&poolSize=4`;
    // Both start at once: the schema is migrated by one while the other waits for it.
    servers.push(
      ...(await Promise.all([
        startServe(['--backend', backend, '--no-auth'], { env: { PULLQ_ADMIN_TOKEN: '' } }),
        startServe(['--backend', backend, '--no-auth'], { env: { PULLQ_ADMIN_TOKEN: '' } }),
      ])),
    );
    a = new HttpBackend({ url: servers[0]?.url ?? '' });
    b = new HttpBackend({ url: servers[1]?.url ?? '' });
    clients.push(a, b);
  });

  after(async () => {
    for (const client of clients) await client.close();
    const codes = await Promise.all(servers.map((server) => server.stop('SIGTERM')));
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    assert.deepEqual(
      codes,
      servers.map(() => 0),
      'both servers stopped cleanly',
    );
  });

  it(`${TASKS.toLocaleString('en-US')} tasks put through both are drained through both by 4 consumers, each exactly once`, async () => {
    await a.createQueue('drain');
    const producer = async (via: Backend, first: number, count: number): Promise<void> => {
      for (let start = first; start < first + count; start += 500) {
        const tasks = Array.from({ length: 500 }, (_, n) => ({
          payload: Buffer.from(String(start + n)),
        }));
        const results = await via.insert('drain', tasks);
        assert.ok(results.every((result) => result.ok));
      }
    };
    await Promise.all([producer(a, 0, TASKS / 2), producer(b, TASKS / 2, TASKS / 2)]);

    const seen = new Uint8Array(TASKS);
    const perServer = [0, 0];
    let processed = 0;
    let ackFailures = 0;
    const consumer = async (via: Backend, server: number): Promise<void> => {
      while (processed < TASKS) {
        const tasks = await via.lease('drain', {
          max: 100,
          leaseSeconds: LEASE_SECONDS,
          waitSeconds: 1,
        });
        for (const task of tasks) {
          const n = Number(Buffer.from(task.payload).toString());
          seen[n] = (seen[n] ?? 0) + 1;
        }
        const acked =
          tasks.length === 0
            ? []
            : await via.ack(
                'drain',
                tasks.map((task) => ({ id: task.id, token: task.leaseToken })),
              );
        ackFailures += acked.filter((result) => !result.ok).length;
        processed += tasks.length;
        perServer[server] = (perServer[server] ?? 0) + tasks.length;
        if (tasks.length === 0 && processed < TASKS) {
          const stats = await via.stats('drain');
          if (stats.ready + stats.delayed + stats.leased === 0) return;
        }
      }
    };
    await Promise.all([consumer(a, 0), consumer(a, 0), consumer(b, 1), consumer(b, 1)]);

    const missing = seen.reduce((sum, count) => sum + (count === 0 ? 1 : 0), 0);
    const twice = seen.reduce((sum, count) => sum + (count > 1 ? 1 : 0), 0);
    assert.equal(missing, 0, `${missing} tasks were never delivered`);
    assert.equal(twice, 0, `${twice} tasks were delivered more than once`);
    assert.equal(ackFailures, 0);
    assert.equal(processed, TASKS);
    assert.ok(
      (perServer[0] ?? 0) > 0 && (perServer[1] ?? 0) > 0,
      `both servers handed out tasks: ${perServer.join(' and ')}`,
    );
    const stats = await b.stats('drain');
    assert.deepEqual([stats.ready, stats.delayed, stats.leased, stats.dead], [0, 0, 0, 0]);
  });

  it('a long-poll on server A returns promptly when a task is put through server B', async () => {
    await a.createQueue('wake');
    const times: number[] = [];
    for (let trial = 0; trial < 3; trial += 1) {
      const waiting = a.lease('wake', { max: 1, leaseSeconds: 60, waitSeconds: 10 });
      // Without NOTIFY, A would see the task only at its next look, 250 ms into its wait.
      await new Promise((resolve) => setTimeout(resolve, 30));
      const putAt = performance.now();
      await b.insert('wake', [{ payload: Buffer.from(`wake ${trial}`) }]);
      const leased = await waiting;
      times.push(performance.now() - putAt);
      assert.equal(leased.length, 1);
      assert.equal(Buffer.from(leased[0]?.payload ?? []).toString(), `wake ${trial}`);
    }
    times.sort((x, y) => x - y);
    assert.ok((times[1] ?? Infinity) < 150, `wake-ups took ${times.map(Math.round).join(', ')} ms`);
  });
});
