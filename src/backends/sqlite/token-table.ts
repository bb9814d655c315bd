/**
 * The SQLite TokenStore: the `tokens` table (0002_tokens.sql). A token is looked up on every
 * authenticated request (the server caches what it verified for about a second), by the
 * UNIQUE index on token_hash: one index probe, a few microseconds.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { TokenStore } from '../../auth/token-store.ts';
import {
  checkTokenRecord,
  normalizeRoles,
  tokenHashTaken,
  tokenNameTaken,
  type TokenRecord,
} from '../../auth/tokens.ts';
import { sqliteError } from './sqlite-error.ts';

interface TokenRow {
  name: string;
  token_hash: string;
  roles: string;
  queue_pattern: string;
  created_at: number;
  expires_at: number | null;
}

const COLUMNS = 'name, token_hash, roles, queue_pattern, created_at, expires_at';

export class TokenTable implements TokenStore {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #byName: StatementSync;
  readonly #byHash: StatementSync;
  readonly #insert: StatementSync;
  readonly #list: StatementSync;
  readonly #delete: StatementSync;
  readonly #count: StatementSync;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
    this.#byName = db.prepare('SELECT 1 FROM tokens WHERE name = ?');
    this.#byHash = db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = ?`);
    this.#insert = db.prepare(`INSERT INTO tokens (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    this.#list = db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY name`);
    this.#delete = db.prepare('DELETE FROM tokens WHERE name = ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM tokens');
  }

  async createToken(record: TokenRecord): Promise<void> {
    checkTokenRecord(record);
    // BEGIN IMMEDIATE: the two checks and the insert see no other writer in between, so a
    // taken name is refused with already_exists rather than a constraint error.
    this.#run(() => {
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
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const row = this.#run(() => this.#byHash.get(tokenHash) as TokenRow | undefined);
    return row ? toRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.#run(() => this.#list.all() as unknown as TokenRow[]).map(toRecord);
  }

  async revokeToken(name: string): Promise<boolean> {
    return this.#run(() => Number(this.#delete.run(name).changes) > 0);
  }

  async countTokens(): Promise<number> {
    return this.#run(() => (this.#count.get() as { n: number }).n);
  }

  #run<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw sqliteError(error, this.#path);
    }
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
