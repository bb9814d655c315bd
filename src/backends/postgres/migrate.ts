/**
 * Schema migrations of the PostgreSQL backend: numbered `.sql` files in `./migrations/`
 * (`0001_init.sql`, ...), applied in order inside the backend's schema, each recorded in its
 * `migrations` table.
 *
 * Several servers may start at once on one database: all pending files run in one transaction
 * that first takes a transaction-level advisory lock named after the schema. The second server
 * waits for the first one's COMMIT, then reads the `migrations` table it filled and has
 * nothing left to do; a failed migration rolls back whole, leaving no half-made schema. The
 * schema and the migrations table are created only when missing: a database user without
 * CREATE on the database can run pullq in a schema an administrator made for it, and once the
 * schema is up to date, starting needs no more than the rights to use its tables.
 */
import { PullqError } from '../../protocol/errors.ts';
import { loadMigrations, type Migration } from '../migration-files.ts';
import type { Database } from './database.ts';

/** The first key of pullq's advisory locks ("pulq" in ASCII); the second is the schema's hash. */
const LOCK_CLASS = 0x70756c71;

export function postgresMigrations(): Migration[] {
  return loadMigrations(new URL('./migrations/', import.meta.url));
}

/** Applies the migrations the schema lacks; returns the versions it applied (empty: none). */
export async function migrate(
  db: Database,
  now: number,
  migrations: Migration[] = postgresMigrations(),
): Promise<number[]> {
  const schema = db.schema;
  return db.transaction(async (run) => {
    await run({ text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))' }, [LOCK_CLASS, schema]);
    const [exists] = await run<{ found: boolean }>(
      { text: 'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS found' },
      [schema],
    );
    if (!exists?.found) await run({ text: `CREATE SCHEMA "${schema}"` }, []);
    // Only for this transaction: the migration files name tables without their schema.
    await run({ text: `SET LOCAL search_path TO "${schema}"` }, []);
    const [table] = await run<{ found: boolean }>(
      { text: `SELECT to_regclass('"${schema}".migrations') IS NOT NULL AS found` },
      [],
    );
    if (!table?.found) {
      await run(
        {
          text: `CREATE TABLE migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at bigint NOT NULL
          )`,
        },
        [],
      );
    }
    const rows = await run<{ version: number }>({ text: 'SELECT version FROM migrations' }, []);
    const applied = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    const known = migrations.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new PullqError(
        'internal',
        `the schema "${schema}" has version ${newest}, newer than this pullq knows (${known}): upgrade pullq`,
        { details: { schema, schemaVersion: newest, knownVersion: known } },
      );
    }
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await run({ text: migration.sql }, []);
      await run(
        { text: 'INSERT INTO migrations (version, name, applied_at) VALUES ($1, $2, $3)' },
        [migration.version, migration.name, now],
      );
      done.push(migration.version);
    }
    return done;
  });
}
