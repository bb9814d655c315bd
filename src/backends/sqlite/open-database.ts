/**
 * Opens a SQLite database for the backend: creates its folder, sets the pragmas (busy
 * timeout, WAL, synchronous) and brings its schema up to date.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PullqError } from '../../protocol/errors.ts';
import { checkInt } from '../../protocol/limits.ts';
import type { Clock } from '../backend.ts';
import { migrate } from './migrate.ts';
import { sqliteError } from './sqlite-error.ts';

export interface SqliteBackendOptions {
  /** The database file, or `:memory:`. */
  path: string;
  /** Default: the system clock. */
  clock?: Clock;
  /** `NORMAL` (default): survives a process crash. `FULL`: also survives power loss. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a write waits for another connection's lock before failing with
   * `unavailable` (default 5000 ms). */
  busyTimeoutMs?: number;
}

/** Writes are short (a lease of 100 holds the lock for about 1 ms), so a wait this long
 * means a stuck or crashed peer rather than load. */
const BUSY_TIMEOUT_MS = 5000;

export function openDatabase(options: SqliteBackendOptions, now: number): DatabaseSync {
  const synchronous = options.synchronous ?? 'NORMAL';
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new PullqError('invalid_argument', 'synchronous must be NORMAL or FULL', {
      details: { field: 'synchronous' },
    });
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  checkInt(busyTimeoutMs, 'busyTimeoutMs', 0, 600_000);
  const inMemory = options.path === ':memory:';
  let db: DatabaseSync | undefined;
  try {
    // A `file:` URI names its file itself (and may be read-only: `?mode=ro`).
    if (!inMemory && !options.path.startsWith('file:')) {
      mkdirSync(dirname(options.path), { recursive: true });
    }
    db = new DatabaseSync(options.path);
    // busy_timeout first: switching to WAL and migrating may wait for another process.
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${synchronous}`);
    migrate(db, now);
    return db;
  } catch (error) {
    db?.close();
    throw sqliteError(error, options.path);
  }
}
