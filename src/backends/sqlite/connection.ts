/**
 * The SQLite backend's connection to its file, and how it lives through disk faults. Every
 * verb runs through `transaction()` or `run()` here, which turn SQLite's errors into the
 * catalog (./sqlite-error.ts) and decide whether the connection is kept.
 *
 * Disk full (SQLITE_FULL): the connection is kept. SQLite rolls a transaction whose writes or
 * COMMIT failed with SQLITE_FULL back by itself (test/e2e/disk-faults.test.ts checks it for a
 * COMMIT and a checkpoint), so the next BEGIN starts clean, and writes succeed again as soon
 * as space is freed. Closing it would be worse: the
 * last connection to close checkpoints and deletes the -wal and -shm files, and opening again
 * must create a 32 KiB -shm file, which a full disk refuses: reads would fail too.
 *
 * Read-only or failing disk (SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN): the connection
 * is closed at once and the next call opens the file again. Linux refuses to unmount or
 * remount read-only a file system on which a process holds a file open for writing (EBUSY),
 * and a disk the kernel turned read-only after an error (ext4 `errors=remount-ro`) cannot be
 * made writable without unmounting it: a connection held open would make the operator stop
 * the server to repair the disk. Until a write succeeds again, each call opens the file and
 * closes it when done, so nothing is held between calls: 0.5 ms of CPU more per call (1 to
 * 2.5 ms wall on a shared 2-core VM, ext4), most of it preparing the ~40 statements. Reads
 * are served meanwhile: SQLite opens a file it cannot write read-only.
 *
 * A transaction left open because its ROLLBACK failed too would make every later BEGIN fail
 * ("cannot start a transaction within a transaction"): such a connection is closed as well.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { PullqError } from '../../protocol/errors.ts';
import type { Clock } from '../backend.ts';
import { openDatabase, type SqliteBackendOptions } from './open-database.ts';
import { needsReopen, sqliteError } from './sqlite-error.ts';
import { Statements } from './statements.ts';
import { TaskStore } from './task-store.ts';
import { TokenTable } from './token-table.ts';

/** One open connection and what is prepared on it. */
export interface Handles {
  db: DatabaseSync;
  sql: Statements;
  store: TaskStore;
  tokens: TokenTable;
}

export class SqliteConnection {
  readonly #options: SqliteBackendOptions;
  readonly #clock: Clock;
  /** An in-memory database lives only as long as its connection: it is never closed early. */
  readonly #reopenable: boolean;
  #handles: Handles | null;
  /** A disk fault was seen and no write has succeeded since: close after each call. */
  #faulty = false;

  /** Opens the file (creating it when missing); throws the catalog error if it cannot. */
  constructor(options: SqliteBackendOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
    this.#reopenable = options.path !== ':memory:';
    this.#handles = prepare(openDatabase(options, clock.now()));
  }

  /**
   * Runs `body` in one transaction: `write` takes the write lock up front (BEGIN IMMEDIATE,
   * see sqlite-backend.ts), `read` sees one snapshot. Commits, or rolls back and throws the
   * catalog error.
   */
  transaction<T>(kind: 'read' | 'write', body: (handles: Handles) => T): T {
    return this.run(kind, (handles) => {
      const db = handles.db;
      db.exec(kind === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN');
      try {
        const result = body(handles);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        rollbackQuietly(db);
        throw error;
      }
    });
  }

  /** Runs `work` on the connection as it is (it runs its own transaction, if any). */
  run<T>(kind: 'read' | 'write', work: (handles: Handles) => T): T {
    let handles: Handles | null = null;
    try {
      handles = this.#acquire();
      const result = work(handles);
      if (kind === 'write') this.#faulty = false;
      return result;
    } catch (error) {
      throw this.#failed(error, handles);
    } finally {
      if (this.#faulty) this.#drop();
    }
  }

  close(): void {
    this.#drop();
  }

  #acquire(): Handles {
    this.#handles ??= prepare(openDatabase(this.#options, this.#clock.now(), { create: false }));
    return this.#handles;
  }

  #failed(error: unknown, handles: Handles | null): PullqError {
    const mapped = sqliteError(error, this.#options.path);
    if (!this.#reopenable) return mapped;
    if (needsReopen(error) || needsReopen(mapped)) this.#faulty = true;
    // A failed ROLLBACK leaves the transaction open: this connection can begin no other.
    else if (handles?.db.isOpen && handles.db.isTransaction) this.#drop();
    return mapped;
  }

  #drop(): void {
    if (!this.#reopenable) return;
    const handles = this.#handles;
    this.#handles = null;
    if (!handles) return;
    try {
      handles.db.close();
    } catch {
      // Closing checkpoints the WAL; on a read-only or full disk that fails, and the file
      // is closed all the same. The WAL is replayed by the next open.
    }
  }
}

/**
 * ROLLBACK when a transaction is still open. Its own failure is not thrown: the error that
 * caused the rollback is the one to report, and `isTransaction` staying true tells `run()`
 * to close the connection.
 */
function rollbackQuietly(db: DatabaseSync): void {
  if (!db.isTransaction) return;
  try {
    db.exec('ROLLBACK');
  } catch {
    // Seen by #failed through isTransaction.
  }
}

function prepare(db: DatabaseSync): Handles {
  try {
    const sql = new Statements(db);
    return { db, sql, store: new TaskStore(sql), tokens: new TokenTable(db) };
  } catch (error) {
    db.close();
    throw error;
  }
}
