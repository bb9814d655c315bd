/**
 * Schema migrations: numbered `.sql` files in `./migrations/` (`0001_init.sql`, ...), applied
 * in order, each recorded in the `migrations` table.
 *
 * All pending files run in one `BEGIN IMMEDIATE` transaction: when two processes open a new
 * database at once, the second waits for the write lock (busy_timeout), then reads the
 * `migrations` table the first one filled and has nothing left to do.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { PullqError } from '../../protocol/errors.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads the migration files shipped beside this module (copied to dist/ by the build). */
export function loadMigrations(dir: URL = new URL('./migrations/', import.meta.url)): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const match = MIGRATION_FILE.exec(file);
    if (!match?.[1] || !match[2]) continue;
    migrations.push({
      version: Number(match[1]),
      name: match[2],
      sql: readFileSync(new URL(file, dir), 'utf8'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migration ${migration.version} is out of sequence (expected ${index + 1})`);
    }
  });
  return migrations;
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
