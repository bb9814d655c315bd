/**
 * Turns what node:sqlite throws into the error catalog: a caller never sees a raw SQLite
 * error. Conditions of the machine (locked, disk full, read-only, I/O) are `unavailable`
 * (503, retryable): they pass once the lock is gone, space is freed or the disk is writable
 * again, and the server needs no restart for that (./connection.ts). Anything else is a bug
 * or a damaged file, `internal`.
 *
 * `details.fault` names the condition for programs (`disk_full`, `read_only`, ...); the
 * message says it to people, with what to do.
 *
 * node:sqlite errors carry `errcode` (the extended result code, e.g. 778 SQLITE_IOERR_WRITE)
 * and `errstr`. SQLite reports a write refused by a read-only file system as
 * SQLITE_IOERR_WRITE ("disk I/O error") when the file was opened for writing before the
 * disk turned read-only, so the file system is asked (open, statfs) to say which it is.
 */
import { closeSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
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

export type SqliteFault =
  | 'busy'
  | 'out_of_memory'
  | 'read_only'
  | 'io_error'
  | 'disk_full'
  | 'cannot_open'
  | 'missing_file'
  | 'corrupt'
  | 'not_a_database'
  | 'unexpected';

const FAULT_OF_CODE: Record<number, SqliteFault> = {
  [SQLITE_BUSY]: 'busy',
  [SQLITE_LOCKED]: 'busy',
  [SQLITE_NOMEM]: 'out_of_memory',
  [SQLITE_READONLY]: 'read_only',
  [SQLITE_IOERR]: 'io_error',
  [SQLITE_FULL]: 'disk_full',
  [SQLITE_CANTOPEN]: 'cannot_open',
  [SQLITE_CORRUPT]: 'corrupt',
  [SQLITE_NOTADB]: 'not_a_database',
};

/** What each fault is, in words. */
const SAYS: Record<SqliteFault, string> = {
  busy: 'the database is locked by another connection (busy timeout ran out)',
  out_of_memory: 'SQLite ran out of memory',
  read_only:
    'the database is read-only (its disk is read-only, or file or folder permissions forbid writing)',
  io_error: 'a disk I/O error occurred',
  disk_full: 'the disk is full',
  cannot_open: 'the database file cannot be opened (missing folder or permissions)',
  missing_file: 'the database file is gone (is the disk of its folder mounted?)',
  corrupt: 'the database file is corrupt',
  not_a_database: 'the file is not a SQLite database',
  unexpected: 'unexpected error',
};

/** What to do, while the store is in use: the connection recovers by itself. */
const ADVICE_IN_USE: Partial<Record<SqliteFault, string>> = {
  read_only:
    'make it writable (a disk the kernel turned read-only after an error: unmount, fsck, mount); the file is opened again by itself, without a restart',
  disk_full: 'free space on it; writes resume by themselves, without a restart',
  missing_file:
    'it is not created again: mount the disk or put the file back; it is opened again by itself',
};

/** What to do when the store cannot be opened in the first place. */
const ADVICE_OPENING: Partial<Record<SqliteFault, string>> = {
  read_only:
    'make it writable (a disk mounted read-only: mount -o remount,rw; one the kernel turned read-only after an error: unmount, fsck, mount), then try again',
  disk_full: 'free space on it, then try again',
};

/** Conditions that pass by themselves or by an operator's fix: the caller retries. */
const RETRYABLE = new Set<SqliteFault>([
  'busy',
  'out_of_memory',
  'read_only',
  'io_error',
  'disk_full',
  'cannot_open',
  'missing_file',
]);

/**
 * Faults after which the connection is closed and the file opened again on the next call:
 * the disk may have been unmounted, checked and mounted again, and a read-only or failing
 * disk cannot be unmounted while the server holds its files.
 */
const REOPEN = new Set<SqliteFault>(['read_only', 'io_error', 'cannot_open']);

/** `opening`: the error stopped the store from opening (the advice differs). */
export function sqliteError(error: unknown, path: string, opening = false): PullqError {
  if (error instanceof PullqError) return error;
  const system = error as { code?: unknown; syscall?: unknown };
  if (typeof system.code === 'string' && typeof system.syscall === 'string') {
    // A file system call of ours (creating the database's folder) failed.
    return new PullqError(
      'unavailable',
      `SQLite store ${path}: cannot prepare the database folder (${String(error)})`,
      { cause: error, details: { path, errno: system.code, fault: 'cannot_open' } },
    );
  }
  const errcode = sqliteCode(error);
  const fault = faultOf(errcode, path);
  const detail = error instanceof Error ? error.message : String(error);
  return faultError(fault, path, detail, { cause: error, sqliteCode: errcode, opening });
}

/** The catalog error of `fault` on the store at `path`; `detail`: what SQLite said. */
export function faultError(
  fault: SqliteFault,
  path: string,
  detail: string | null,
  extra: { cause?: unknown; sqliteCode?: number; opening?: boolean } = {},
): PullqError {
  const code = RETRYABLE.has(fault) ? 'unavailable' : 'internal';
  const said = detail === null ? '' : ` (${detail})`;
  const advice = (extra.opening ? ADVICE_OPENING : ADVICE_IN_USE)[fault];
  const details: Record<string, unknown> = { path, fault };
  if (extra.sqliteCode !== undefined) details['sqliteCode'] = extra.sqliteCode;
  const message = `SQLite store ${path}: ${SAYS[fault]}${said}${advice ? `: ${advice}` : ''}`;
  return new PullqError(code, message, {
    cause: extra.cause,
    details,
  });
}

/** Whether `error` (raw, or a PullqError made of it) calls for opening the file again. */
export function needsReopen(error: unknown): boolean {
  if (error instanceof PullqError) {
    const fault = error.details?.['fault'];
    return typeof fault === 'string' && REOPEN.has(fault as SqliteFault);
  }
  const errcode = sqliteCode(error);
  return errcode !== -1 && REOPEN.has(FAULT_OF_CODE[errcode & 0xff] ?? 'unexpected');
}

function sqliteCode(error: unknown): number {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode : -1;
}

function faultOf(errcode: number, path: string): SqliteFault {
  const fault = FAULT_OF_CODE[errcode & 0xff] ?? 'unexpected';
  if (fault !== 'io_error' && fault !== 'read_only' && fault !== 'cannot_open') return fault;
  return diskFault(path) ?? fault;
}

/**
 * What the file system says about a failed write: `read_only` when the database file cannot
 * be opened for writing (EROFS, which root gets too), `disk_full` when no block is free. Only
 * done after an error, so its cost (a few system calls) does not matter. access(W_OK) would
 * not do: on Linux 6.18 it passes on an ext4 disk turned read-only by an error, where an
 * open for writing fails.
 */
function diskFault(path: string): SqliteFault | null {
  if (path === ':memory:' || path.startsWith('file:')) return null;
  try {
    closeSync(openSync(path, 'r+'));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EROFS') return 'read_only';
  }
  try {
    if (statfsSync(dirname(path)).bavail === 0) return 'disk_full';
  } catch {
    // The folder is gone or unreadable: SQLite's own words are all there is.
  }
  return null;
}
