/**
 * Schema migrations: numbered `.sql` files in `./migrations/` (`0001_init.sql`, ...), applied
 * in order, each recorded in the `migrations` table.
 *
 * All pending files run in one `BEGIN IMMEDIATE` transaction: when two processes open a new
 * database at once, the second waits for the write lock (busy_timeout), then reads the
 * `migrations` table the first one filled and has nothing left to do.
 */
import type { DatabaseSync } from 'node:sqlite';
import { PullqError } from '../../protocol/errors.ts';
import { loadMigrations as loadMigrationFiles, type Migration } from '../migration-files.ts';

export type { Migration } from '../migration-files.ts';

/** Reads the migration files shipped beside this module (copied to dist/ by the build). */
export function loadMigrations(): Migration[] {
  return loadMigrationFiles(new URL('./migrations/', import.meta.url));
}

/** Applies the migrations `db` lacks; returns the versions it applied (empty: up to date). */
export function migrate(
  db: DatabaseSync,
  now: number,
  migrations: Migration[] = loadMigrations(),
): number[] {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const rows = db.prepare('SELECT version FROM migrations').all() as { version: number }[];
    const applied = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    const known = migrations.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new PullqError(
        'internal',
        `the database has schema version ${newest}, newer than this pullq knows (${known}): upgrade pullq`,
        { details: { schemaVersion: newest, knownVersion: known } },
      );
    }
    const record = db.prepare(
      'INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now);
      done.push(migration.version);
    }
    db.exec('COMMIT');
    return done;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
