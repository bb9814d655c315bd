/**
 * Numbered schema migrations shipped as `.sql` files (`0001_init.sql`, ...) beside a SQL
 * backend, read in order; the SQLite and PostgreSQL backends each apply their own folder.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads the migration files in `dir` (copied to dist/ by the build), in order. */
export function loadMigrations(dir: URL): Migration[] {
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
