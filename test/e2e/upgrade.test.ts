/**
 * Upgrade safety: data written under an older schema opens under the current code. For each
 * older schema version v (1 .. newest; the newest checks the fixture itself, so a failure at
 * an older one points at a migration), the migration runner brings a fresh SQLite file or
 * PostgreSQL schema to v with the first v migration files, the fixture (fixtures/upgrade)
 * writes tasks in every state with plain SQL, and then the current backend opens it: it runs
 * the remaining migrations, and every task, queue setting, lease, tombstone, lease count and
 * token must read as written and keep working. A database of a newer schema than the code
 * knows must be refused with a clear error, by the backend and by `pullq serve`.
 *
 * PostgreSQL runs at $PULLQ_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
 * in schemas of this run, dropped at the end; unreachable, it fails the file under CI=true and
 * skips its part otherwise. Redis has no schema migrations (nothing to test here).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Database } from '../../src/backends/postgres/database.ts';
import {
  migrate as migratePostgres,
  postgresMigrations,
} from '../../src/backends/postgres/migrate.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { loadMigrations, migrate as migrateSqlite } from '../../src/backends/sqlite/migrate.ts';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { isPullqError } from '../../src/protocol/errors.ts';
import { ManualClock } from '../../src/testing/index.ts';
import { checkUpgraded } from './fixtures/upgrade/check-upgraded.ts';
import { writeFixture, type Fixture, type SqlWriter } from './fixtures/upgrade/old-schema.ts';
import { bearer, startServe } from './serve-process.ts';

const PG_URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `pq_upgrade_${process.pid}_${Date.now().toString(36)}`;

/** 1 .. the newest version: the tasks table exists from version 1 on. */
const versions = (newest: number): number[] => Array.from({ length: newest }, (_, i) => i + 1);

// ---- SQLite: a file brought to a version by the runner, written with plain SQL ----

function sqliteWriter(db: DatabaseSync): SqlWriter {
  return {
    dialect: 'sqlite',
    run: async (text, values) => {
      db.prepare(text).run(...(values as (string | number | null | Buffer)[]));
    },
    hasTable: async (name) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
      undefined,
  };
}

async function sqliteAtVersion(path: string, version: number, now: number): Promise<Fixture> {
  const db = new DatabaseSync(path);
  try {
    assert.deepEqual(migrateSqlite(db, now, loadMigrations().slice(0, version)), versions(version));
    return await writeFixture(sqliteWriter(db), now);
  } finally {
    db.close();
  }
}

function sqliteVersions(path: string): number[] {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare('SELECT version FROM migrations ORDER BY version').all();
    return rows.map((row) => Number(row['version']));
  } finally {
    db.close();
  }
}

describe('upgrade: a SQLite file of an older schema opens under the current code', () => {
  let dir: string;
  const newest = loadMigrations().length;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullq-upgrade-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const version of versions(newest)) {
    it(`schema version ${version} of ${newest}: every task, lease, tombstone and token survives`, async () => {
      const clock = new ManualClock();
      const path = join(dir, `v${version}.db`);
      const data = await sqliteAtVersion(path, version, clock.now());
      assert.deepEqual(sqliteVersions(path), versions(version));
      const backend = new SqliteBackend({ path, clock });
      try {
        assert.deepEqual(sqliteVersions(path), versions(newest), 'the upgrade ran the rest');
        await checkUpgraded(backend, data, clock);
      } finally {
        await backend.close();
      }
    });
  }

  it('a file of a newer schema than this code knows is refused, naming both versions', async () => {
    const path = join(dir, 'future.db');
    const now = Date.now();
    await sqliteAtVersion(path, newest, now);
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      newest + 1,
      'from_the_future',
      now,
    );
    db.close();
    assert.throws(
      () => new SqliteBackend({ path }),
      (error: unknown) =>
        isPullqError(error, 'internal') &&
        error.message.includes(
          `schema version ${newest + 1}, newer than this pullq knows (${newest})`,
        ),
    );
    // Refusing changed nothing: the future version is still the newest recorded.
    assert.deepEqual(sqliteVersions(path), [...versions(newest), newest + 1]);
  });

  it('pullq serve starts on a file of the previous schema and serves its tasks', async () => {
    const data = join(dir, 'serve-previous');
    const previous = Math.max(1, newest - 1);
    await mkdir(data);
    await sqliteAtVersion(join(data, 'pullq.db'), previous, Date.now());
    const server = await startServe(['--data', data]);
    try {
      const response = await fetch(`${server.url}/v1/queues/alpha/stats`, { headers: bearer() });
      assert.equal(response.status, 200);
      const stats = (await response.json()) as Record<string, number>;
      assert.deepEqual(
        [stats['ready'], stats['delayed'], stats['leased'], stats['dead']],
        [4, 1, 1, 0],
      );
    } finally {
      await server.stop();
    }
    assert.deepEqual(sqliteVersions(join(data, 'pullq.db')), versions(newest));
  });

  it('pullq serve refuses a file of a newer schema and says to upgrade pullq', async () => {
    const data = join(dir, 'serve-future');
    await mkdir(data);
    await sqliteAtVersion(join(data, 'pullq.db'), newest, Date.now());
    const db = new DatabaseSync(join(data, 'pullq.db'));
    db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
      newest + 1,
      'from_the_future',
      Date.now(),
    );
    db.close();
    await assert.rejects(
      startServe(['--data', data]),
      /newer than this pullq knows.*upgrade pullq/s,
    );
  });
});

// ---- PostgreSQL: a schema brought to a version by the runner, written with plain SQL ----

async function pgClient(schema?: string): Promise<pg.Client> {
  const client = new pg.Client(PG_URL);
  await client.connect();
  if (schema !== undefined) await client.query(`SET search_path TO "${schema}"`);
  return client;
}

async function postgresAtVersion(schema: string, version: number, now: number): Promise<Fixture> {
  const db = new Database(pg, { connection: PG_URL, schema, poolSize: 1 });
  try {
    assert.deepEqual(
      await migratePostgres(db, now, postgresMigrations().slice(0, version)),
      versions(version),
    );
  } finally {
    await db.end();
  }
  const client = await pgClient(schema);
  try {
    return await writeFixture(
      {
        dialect: 'postgres',
        run: async (text, values) => {
          let n = 0;
          await client.query(
            text.replace(/\?/g, () => `$${++n}`),
            values,
          );
        },
        hasTable: async (name) =>
          (
            await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
              `"${schema}".${name}`,
            ])
          ).rows[0]?.found === true,
      },
      now,
    );
  } finally {
    await client.end();
  }
}

async function postgresVersions(schema: string): Promise<number[]> {
  const client = await pgClient(schema);
  try {
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM migrations ORDER BY version',
    );
    return rows.map((row) => row.version);
  } finally {
    await client.end();
  }
}

const unreachable = await pgClient().then(
  async (client) => {
    await client.end();
    return null;
  },
  (error: unknown) => `PostgreSQL at ${PG_URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

describe(
  'upgrade: a PostgreSQL schema of an older version opens under the current code',
  {
    skip: unreachable ?? false,
  },
  () => {
    const newest = postgresMigrations().length;
    const schemas: string[] = [];
    const freshSchema = (label: string): string => {
      const schema = `${RUN}_${label}`;
      schemas.push(schema);
      return schema;
    };
    after(async () => {
      const client = await pgClient();
      try {
        for (const schema of schemas)
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    });

    for (const version of versions(newest)) {
      it(`schema version ${version} of ${newest}: every task, lease, tombstone and token survives`, async () => {
        const clock = new ManualClock();
        const schema = freshSchema(`v${version}`);
        const data = await postgresAtVersion(schema, version, clock.now());
        assert.deepEqual(await postgresVersions(schema), versions(version));
        const backend = await PostgresBackend.open({
          connection: PG_URL,
          schema,
          clock,
          poolSize: 2,
        });
        try {
          assert.deepEqual(
            await postgresVersions(schema),
            versions(newest),
            'the upgrade ran the rest',
          );
          await checkUpgraded(backend, data, clock);
        } finally {
          await backend.close();
        }
      });
    }

    it('a schema of a newer version than this code knows is refused, naming both versions', async () => {
      const schema = freshSchema('future');
      const now = Date.now();
      await postgresAtVersion(schema, newest, now);
      const client = await pgClient(schema);
      await client.query('INSERT INTO migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        newest + 1,
        'from_the_future',
        now,
      ]);
      await client.end();
      await assert.rejects(
        PostgresBackend.open({ connection: PG_URL, schema, poolSize: 1 }),
        (error: unknown) =>
          isPullqError(error, 'internal') &&
          error.message.includes(
            `has version ${newest + 1}, newer than this pullq knows (${newest})`,
          ),
      );
      assert.deepEqual(await postgresVersions(schema), [...versions(newest), newest + 1]);
    });
  },
);
