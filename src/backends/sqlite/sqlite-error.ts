/**
 * Turns what node:sqlite throws into the error catalog: a caller never sees a raw SQLite
 * error. Conditions of the machine (locked, disk full, read-only, I/O) are `unavailable`,
 * which callers retry; anything else is a bug or a damaged file, `internal`.
 */
import { PullqError } from '../../protocol/errors.ts';

/** Primary result codes (https://sqlite.org/rescode.html); node:sqlite gives extended ones. */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

const RETRYABLE: Record<number, string> = {
  [SQLITE_BUSY]: 'the database is locked by another connection (busy timeout ran out)',
  [SQLITE_LOCKED]: 'the database is locked by another connection (busy timeout ran out)',
  [SQLITE_NOMEM]: 'SQLite ran out of memory',
  [SQLITE_READONLY]: 'the database is read-only (file or folder permissions, or a read-only disk)',
  [SQLITE_IOERR]: 'a disk I/O error occurred',
  [SQLITE_FULL]: 'the disk is full',
  [SQLITE_CANTOPEN]: 'the database file cannot be opened (missing folder or permissions)',
};

const DAMAGED: Record<number, string> = {
  [SQLITE_CORRUPT]: 'the database file is corrupt',
  [SQLITE_NOTADB]: 'the file is not a SQLite database',
};

export function sqliteError(error: unknown, path: string): PullqError {
  if (error instanceof PullqError) return error;
  const system = error as { code?: unknown; syscall?: unknown };
  if (typeof system.code === 'string' && typeof system.syscall === 'string') {
    // A file system call of ours (creating the database's folder) failed.
    return new PullqError(
      'unavailable',
      `SQLite store ${path}: cannot prepare the database folder (${String(error)})`,
      { cause: error, details: { path, errno: system.code } },
    );
  }
  const sqlite = error as { errcode?: unknown; errstr?: unknown; message?: unknown };
  const errcode = typeof sqlite.errcode === 'number' ? sqlite.errcode : -1;
  const primary = errcode & 0xff;
  const detail = typeof sqlite.message === 'string' ? sqlite.message : String(error);
  const details = { path, sqliteCode: errcode };
  const retryable = RETRYABLE[primary];
  if (retryable !== undefined) {
    return new PullqError('unavailable', `SQLite store ${path}: ${retryable} (${detail})`, {
      cause: error,
      details,
    });
  }
  const damaged = DAMAGED[primary];
  return new PullqError(
    'internal',
    `SQLite store ${path}: ${damaged ?? 'unexpected error'} (${detail})`,
    { cause: error, details },
  );
}
