/**
 * The `tokens` table (0002_tokens.sql) behind the SQLite backend's TokenStore verbs. A token
 * is looked up on every authenticated request (the server caches what it verified for about
 * a second), by the UNIQUE index on token_hash: one index probe, a few microseconds.
 *
 * Synchronous, and SQLite's errors pass through: the backend runs these on its current
 * connection (./connection.ts), which turns them into the catalog and reopens the file after
 * a disk fault.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  checkTokenRecord,
  normalizeRoles,
  tokenHashTaken,
  tokenNameTaken,
  type TokenRecord,
} from '../../auth/tokens.ts';

interface TokenRow {
  name: string;
  token_hash: string;
  roles: string;
  queue_pattern: string;
  created_at: number;
  expires_at: number | null;
}

const COLUMNS = 'name, token_hash, roles, queue_pattern, created_at, expires_at';

export class TokenTable {
  readonly #db: DatabaseSync;
  readonly #byName: StatementSync;
  readonly #byHash: StatementSync;
  readonly #insert: StatementSync;
  readonly #list: StatementSync;
  readonly #delete: StatementSync;
  readonly #count: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#byName = db.prepare('SELECT 1 FROM tokens WHERE name = ?');
    this.#byHash = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = ?`);
    this.#insert = db.prepare(`INSERT INTO tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY name`);
    this.#delete = db.prepare('DELETE FROM tokens WHERE name = ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM tokens');
  }

  createToken(record: TokenRecord): void {
    checkTokenRecord(record);
    // BEGIN IMMEDIATE: the two checks and the insert see no other writer in between, so a
    // taken name is refused with already_exists rather than a constraint error.
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      if (this.#byName.get(record.name)) throw tokenNameTaken(record.name);
      if (this.#byHash.get(record.tokenHash)) throw tokenHashTaken();
      this.#insert.run(
        record.name,
        record.tokenHash,
        record.roles.join(','),
        record.queuePattern,
        record.createdAt,
        record.expiresAt,
      );
      this.#db.exec('COMMIT');
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      } catch {
        // The first error is the one to report; a transaction left open closes the
        // connection (./connection.ts).
      }
      throw error;
    }
  }

  findTokenByHash(tokenHash: string): TokenRecord | null {
    const row = this.#byHash.get(tokenHash) as TokenRow | undefined;
    return row ? toRecord(row) : null;
  }

  listTokens(): TokenRecord[] {
    return (this.#list.all() as unknown as TokenRow[]).map(toRecord);
  }

  revokeToken(name: string): boolean {
    return Number(this.#delete.run(name).changes) > 0;
  }

  countTokens(): number {
    return (this.#count.get() as { n: number }).n;
  }
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    tokenHash: row.token_hash,
    roles: normalizeRoles(row.roles.split(',')),
    queuePattern: row.queue_pattern,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
