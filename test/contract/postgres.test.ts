/**
 * The backend contract against real PostgreSQL ($PULLQ_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test), then what PostgreSQL adds: servers sharing one
 * schema (migrations once, no task leased twice, wake-ups across backends, no task left in a
 * deleted queue), lease plans that never sort the backlog, the hot table and tombstones, and
 * a database that goes away. Contract tests share one schema made for this run (their queue
 * names are unique per run); the others make their own. All are dropped at the end. An
 * unreachable database fails the file under CI=true and skips it otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { LeasedTask } from '../../src/backends/backend.ts';
import { SESSION_SETTINGS } from '../../src/backends/postgres/database.ts';
import { postgresMigrations } from '../../src/backends/postgres/migrate.ts';
import { postgresOptions } from '../../src/backends/postgres/open.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { buildStatements } from '../../src/backends/postgres/statements.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { ManualClock, backendContract } from '../../src/testing/index.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `pq_contract_${process.pid}_${Date.now().toString(36)}`;

async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client(URL);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const unreachable = await sql('SELECT 1').then(
  () => null,
  (error: unknown) => `PostgreSQL at ${URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('postgres backend contract', { skip: unreachable }, () => {});
} else {
  before(async () => {
    // Migrates the schema once; every test then opens it as an existing one.
    await (await PostgresBackend.open({ connection: URL, schema: SCHEMA, poolSize: 1 })).close();
  });
  after(async () => {
    for (const schema of [SCHEMA, ...ownSchemas]) {
      await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  backendContract('postgres', (clock) =>
    PostgresBackend.open({ connection: URL, schema: SCHEMA, clock, poolSize: 4 }),
  );
  postgresAdditions();
}

const ownSchemas: string[] = [];
/** A schema of one test's own. */
function freshSchema(): string {
  const schema = `${SCHEMA}_${ownSchemas.length + 1}`;
  ownSchemas.push(schema);
  return schema;
}

const encoder = new TextEncoder();
const payload = (text: string): Uint8Array => encoder.encode(text);
const refOf = (task: LeasedTask) => ({ id: task.id, token: task.leaseToken });

/** How long a lease waiting on `waiter` takes to return once `inserter` inserts, 50 ms into
 * its wait: far below LONG_POLL_RECHECK_MS (250) only when NOTIFY woke it. */
async function wakeUpMs(waiter: PostgresBackend, inserter: PostgresBackend, queue: string) {
  const waiting = waiter.lease(queue, { max: 1, leaseSeconds: 60, waitSeconds: 5 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const insertedAt = performance.now();
  await inserter.insert(queue, [{ payload: payload('wake') }]);
  const leased = await waiting;
  assert.equal(leased.length, 1);
  return performance.now() - insertedAt;
}

function postgresAdditions(): void {
  describe('postgres: servers on one database', () => {
    it('several backends opening a new schema at once migrate it once', async () => {
      const schema = freshSchema();
      const opened = await Promise.all(
        Array.from({ length: 4 }, () =>
          PostgresBackend.open({ connection: URL, schema, poolSize: 1 }),
        ),
      );
      await Promise.all(opened.map((backend) => backend.close()));
      const rows = await sql<{ version: number }>(
        `SELECT version FROM ${schema}.migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((row) => row.version),
        postgresMigrations().map((migration) => migration.version),
      );
    });

    it('a schema from a newer pullq is refused with a message that says to upgrade', async () => {
      const schema = freshSchema();
      await (await PostgresBackend.open({ connection: URL, schema, poolSize: 1 })).close();
      await sql(`INSERT INTO ${schema}.migrations VALUES (999, 'future', 0)`);
      await assert.rejects(
        PostgresBackend.open({ connection: URL, schema, poolSize: 1 }),
        (error) => isPullqError(error, 'internal') && /upgrade pullq/.test(error.message),
      );
    });

    it('a user with only the rights to use the tables opens a migrated schema, and cannot create one', async () => {
      const schema = freshSchema();
      const role = `${schema}_user`;
      await (await PostgresBackend.open({ connection: URL, schema, poolSize: 1 })).close();
      await sql(`CREATE ROLE ${role} LOGIN`);
      try {
        await sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role};
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
        const url = new globalThis.URL(URL);
        url.username = role;
        const limited = await PostgresBackend.open({ connection: url.href, schema, poolSize: 1 });
        try {
          await limited.createQueue('q');
          assert.equal((await limited.insert('q', [{ payload: payload('x') }]))[0]?.ok, true);
        } finally {
          await limited.close();
        }
        await assert.rejects(
          PostgresBackend.open({ connection: url.href, schema: `${schema}_new`, poolSize: 1 }),
          (error) => isPullqError(error, 'unavailable') && /privilege/.test(error.message),
        );
      } finally {
        await sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
      }
    });

    it('two backends leasing one queue at once never hand out a task twice', async () => {
      const schema = freshSchema();
      const one = await PostgresBackend.open({ connection: URL, schema, poolSize: 3 });
      const two = await PostgresBackend.open({ connection: URL, schema, poolSize: 3 });
      try {
        await one.createQueue('shared');
        for (let batch = 0; batch < 4; batch += 1) {
          const tasks = Array.from({ length: 500 }, (_, n) => ({
            payload: payload(`${batch}:${n}`),
          }));
          await one.insert('shared', tasks);
        }
        const seen = new Map<string, number>();
        const consume = async (backend: PostgresBackend): Promise<void> => {
          for (;;) {
            const leased = await backend.lease('shared', { max: 25, leaseSeconds: 300 });
            if (leased.length === 0) return;
            for (const task of leased) seen.set(task.id, (seen.get(task.id) ?? 0) + 1);
            const acked = await backend.ack('shared', leased.map(refOf));
            assert.ok(acked.every((result) => result.ok));
          }
        };
        await Promise.all([one, two, one, two, one, two].map(consume));
        assert.equal(seen.size, 2000);
        assert.deepEqual([...new Set(seen.values())], [1]);
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('a waiting lease on one backend wakes at once when another backend inserts', async () => {
      const schema = freshSchema();
      const waiter = await PostgresBackend.open({ connection: URL, schema, poolSize: 2 });
      const inserter = await PostgresBackend.open({ connection: URL, schema, poolSize: 2 });
      try {
        await waiter.createQueue('wake');
        const times = [];
        for (let trial = 0; trial < 3; trial += 1) {
          times.push(await wakeUpMs(waiter, inserter, 'wake'));
        }
        times.sort((a, b) => a - b);
        assert.ok((times[1] ?? Infinity) < 150, `wake-ups took ${times.join(', ')} ms`);
      } finally {
        await waiter.close();
        await inserter.close();
      }
    });

    it('a queue deleted while tasks are inserted into it keeps none of them', async () => {
      const schema = freshSchema();
      const admin = await PostgresBackend.open({ connection: URL, schema, poolSize: 2 });
      const producer = await PostgresBackend.open({ connection: URL, schema, poolSize: 4 });
      try {
        await admin.createQueue('doomed');
        let stop = false;
        const produce = async (): Promise<void> => {
          while (!stop) {
            const tasks = Array.from({ length: 50 }, () => ({ payload: payload('x') }));
            try {
              await producer.insert('doomed', tasks);
            } catch (error) {
              assert.ok(isPullqError(error, 'queue_not_found'), String(error));
              return;
            }
          }
        };
        const producers = [produce(), produce(), produce()];
        await new Promise((resolve) => setTimeout(resolve, 150));
        await admin.deleteQueue('doomed');
        stop = true;
        await Promise.all(producers);
        const [left] = await sql<{ n: string }>(
          `SELECT count(*) AS n FROM ${schema}.tasks WHERE queue = 'doomed'`,
        );
        assert.equal(left?.n, '0');
      } finally {
        await admin.close();
        await producer.close();
      }
    });
  });

  describe('postgres: storage', () => {
    it('lease, ack and extend read their index, and never scan or sort the backlog, before and after ANALYZE', async () => {
      const schema = freshSchema();
      const backend = await PostgresBackend.open({ connection: URL, schema, poolSize: 1 });
      const client = new pg.Client(URL);
      await client.connect();
      try {
        await backend.createQueue('big');
        for (let batch = 0; batch < 20; batch += 1) {
          const tasks = Array.from({ length: 1000 }, (_, n) => ({
            payload: payload('x'),
            ...(n % 3 === 0 ? { tag: `t${n % 7}` } : {}),
          }));
          await backend.insert('big', tasks);
        }
        await client.query(SESSION_SETTINGS);
        const statements = buildStatements(schema);
        const now = Date.now();
        const ids = (await backend.list('big', { limit: 100 })).tasks.map((task) => task.id);
        const tokens = ids.map(() => 'token');
        const refs = [ids, tokens, ids.map(() => null)];
        for (const analyzed of [false, true]) {
          if (analyzed) await client.query(`ANALYZE ${schema}.tasks`);
          for (const [statement, index, values] of [
            [statements.leaseFast, 'tasks_ready', ['big', now, 100, now + 60_000, tokens]],
            [statements.leaseFastOfTag, 'tasks_by_tag', ['big', now, 100, now, tokens, 't1']],
            [statements.ack, 'tasks_by_id', ['big', now, ...refs]],
            [statements.extend, 'tasks_by_id', ['big', now, ...refs, now + 60_000]],
          ] as const) {
            const { rows } = await client.query<{ 'QUERY PLAN': unknown }>(
              `EXPLAIN (FORMAT JSON) ${statement.text}`,
              [...values],
            );
            const plan = JSON.stringify(rows[0]?.['QUERY PLAN']);
            assert.ok(
              plan.includes(`"Index Name":"${index}"`),
              `analyzed=${analyzed}: no scan of ${index}: ${plan}`,
            );
            assert.doesNotMatch(plan, /"Sort Key":\["tasks\.eta/, `analyzed=${analyzed}: ${plan}`);
            assert.doesNotMatch(
              plan,
              /"Node Type":"(Seq Scan|Bitmap Heap Scan)"[^{}]*"Relation Name":"tasks"/,
              `analyzed=${analyzed}: ${plan}`,
            );
          }
        }
      } finally {
        await client.end();
        await backend.close();
      }
    });

    it('acked and deleted tasks leave the tasks table; expired tombstones are pruned by a later write', async () => {
      const schema = freshSchema();
      const clock = new ManualClock();
      const backend = await PostgresBackend.open({ connection: URL, schema, clock, poolSize: 1 });
      try {
        await backend.createQueue('q', { dedupWindowSeconds: 10 });
        await backend.insert('q', [
          { payload: payload('a'), id: 'named-a' },
          { payload: payload('b'), id: 'named-b' },
          { payload: payload('c') },
        ]);
        const leased = await backend.lease('q', { max: 2, leaseSeconds: 60 });
        await backend.ack('q', leased.map(refOf));
        await backend.delete('q', ['named-b']);
        const count = async (table: string): Promise<string | undefined> =>
          (await sql<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`))[0]?.n;
        assert.equal(await count('tasks'), '1');
        assert.equal(await count('tombstones'), '2');
        clock.advance(10_000 + 1000);
        await backend.insert('q', [{ payload: payload('d') }]);
        assert.equal(await count('tombstones'), '0');
      } finally {
        await backend.close();
      }
    });
  });

  describe('postgres: connections', () => {
    it('a database that cannot be reached fails open with unavailable, naming where', async () => {
      await assert.rejects(
        PostgresBackend.open({ connection: 'postgres://postgres@127.0.0.1:1/test' }),
        (error) =>
          isPullqError(error, 'unavailable') &&
          error.retryable &&
          error.message.includes('127.0.0.1:1/test'),
      );
    });

    it('connections killed under the backend: verbs fail unavailable at worst, then it recovers by itself, wake-ups included', async () => {
      const schema = freshSchema();
      const name = `${schema}_app`;
      const killable = `${URL}${URL.includes('?') ? '&' : '?'}application_name=${name}`;
      const waiter = await PostgresBackend.open({ connection: killable, schema, poolSize: 2 });
      const inserter = await PostgresBackend.open({ connection: URL, schema, poolSize: 2 });
      try {
        await waiter.createQueue('q');
        const killed = await sql<{ pid: number }>(
          'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1',
          [name],
        );
        assert.ok(killed.length >= 2, 'the pool connection and the listener were killed');
        let stats;
        for (let attempt = 0; stats === undefined; attempt += 1) {
          try {
            stats = await waiter.stats('q');
          } catch (error) {
            assert.ok(isPullqError(error, 'unavailable') && attempt < 3, String(error));
          }
        }
        assert.equal(stats.ready, 0);
        // The listener reconnects after 100 ms; give it time, then it must wake a long-poll.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const ms = await wakeUpMs(waiter, inserter, 'q');
        assert.ok(ms < 150, `the wake-up took ${ms} ms`);
      } finally {
        await waiter.close();
        await inserter.close();
      }
    });
  });

  describe('postgres: URL', () => {
    it('schema, poolSize and connectTimeoutMs are pullq options; other parameters go to the driver', () => {
      const options = postgresOptions(
        'postgres://u:p%40ss@db.example:6543/queues?schema=jobs&poolSize=3&connectTimeoutMs=900&sslmode=require',
      );
      assert.deepEqual(options, {
        connection: 'postgres://u:p%40ss@db.example:6543/queues?sslmode=require',
        schema: 'jobs',
        poolSize: 3,
        connectTimeoutMs: 900,
      });
    });

    it('a poolSize that is not a whole number, or a schema that is not an identifier, fails with invalid_argument', async () => {
      assert.throws(
        () => postgresOptions('postgres://h/db?poolSize=ten'),
        (error) => isPullqError(error, 'invalid_argument'),
      );
      for (const schema of ['Upper', '1st', 'semi;colon', 'x'.repeat(58)]) {
        await assert.rejects(PostgresBackend.open({ connection: URL, schema }), (error) =>
          isPullqError(error, 'invalid_argument'),
        );
      }
    });
  });
}
