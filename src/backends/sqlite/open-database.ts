/**
 * Opens a SQLite database for the backend: creates its folder, sets the pragmas (busy
 * timeout, WAL, synchronous), brings its schema up to date and checks that it can write.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { PullqError } from '../../protocol/errors.ts';
import { checkInt } from '../../protocol/limits.ts';
import type { Clock } from '../backend.ts';
import { migrate } from './migrate.ts';
import { faultError, sqliteError } from './sqlite-error.ts';

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
  /** Fail at once when the file cannot be written (read-only or full disk, permissions).
   * Default: true for a plain path, false for a `file:` URI (which may say `?mode=ro`). */
  requireWritable?: boolean;
}

/** Writes are short (a lease of 100 holds the lock for about 1 ms), so a wait this long
 * means a stuck or crashed peer rather than load. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * `create`: the first open of a backend makes the file (and its folders) when missing. An
 * open again after a disk fault does not: the folder of an unmounted disk is empty, and a new
 * database there would take writes that belong on the disk.
 */
export function openDatabase(
  options: SqliteBackendOptions,
  now: number,
  { create }: { create: boolean } = { create: true },
): DatabaseSync {
  const synchronous = options.synchronous ?? 'NORMAL';
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new PullqError('invalid_argument', 'synchronous must be NORMAL or FULL', {
      details: { field: 'synchronous' },
    });
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  checkInt(busyTimeoutMs, 'busyTimeoutMs', 0, 600_000);
  const inMemory = options.path === ':memory:';
  // A `file:` URI names its file itself (and may be read-only: `?mode=ro`).
  const plainPath = !inMemory && !options.path.startsWith('file:');
  if (plainPath && !create && !existsSync(options.path)) {
    throw faultError('missing_file', options.path, null);
  }
  let db: DatabaseSync | undefined;
  try {
    if (plainPath && create) mkdirSync(dirname(options.path), { recursive: true });
    db = new DatabaseSync(options.path);
    // busy_timeout first: switching to WAL and migrating may wait for another process.
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    if (!inMemory) db.exec('PRAGMA journal_mode = WAL');
    db.exec(`PRAGMA synchronous = ${synchronous}`);
    migrate(db, now);
    if (create && (options.requireWritable ?? plainPath)) checkWritable(db);
    return db;
  } catch (error) {
    db?.close();
    throw sqliteError(error, options.path, create);
  }
}

/**
 * Commits one write, so that a server on a read-only or full disk fails at start rather than
 * at its first insert. SQLite opens a file it cannot write read-only without a word, and an
 * up-to-date schema needs no write, so nothing before this would have failed. Setting
 * user_version to its own value dirties the header page: the commit appends one 4 KiB page
 * to the WAL (one fsync with synchronous=FULL).
 */
function checkWritable(db: DatabaseSync): void {
  const { user_version: version } = db.prepare('PRAGMA user_version').get() as {
    user_version: number;
  };
  db.exec(`PRAGMA user_version = ${version}`);
}
