/**
 * The PostgreSQL TokenStore: the `tokens` table of the backend's schema, shared by every
 * server on the database (a token made through one is known to all at once). A token is
 * looked up on every authenticated request (the server caches what it verified for about a
 * second) by the UNIQUE index on token_hash: one index probe.
 */
import type { TokenStore } from '../../auth/token-store.ts';
import {
  checkTokenRecord,
  normalizeRoles,
  tokenHashTaken,
  tokenNameTaken,
  type TokenRecord,
} from '../../auth/tokens.ts';
import type { Run, Statement } from './database.ts';

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
  readonly #run: Run;
  readonly #insert: Statement;
  readonly #byHash: Statement;
  readonly #list: Statement;
  readonly #delete: Statement;
  readonly #count: Statement;

  constructor(run: Run, schema: string) {
    const table = `"${schema}".tokens`;
    this.#run = run;
    // ON CONFLICT DO NOTHING covers both unique keys (name, token_hash) in one statement:
    // no row back means one was taken, and the caller learns which.
    this.#insert = {
      name: 'pullq_token_insert',
      text: `INSERT INTO ${table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT DO NOTHING RETURNING name`,
    };
    this.#byHash = {
      name: 'pullq_token_by_hash',
      text: `SELECT ${COLUMNS} FROM ${table} WHERE token_hash = $1`,
    };
    this.#list = {
      name: 'pullq_token_list',
      text: `SELECT ${COLUMNS} FROM ${table} ORDER BY name COLLATE "C"`,
    };
    this.#delete = {
      name: 'pullq_token_delete',
      text: `DELETE FROM ${table} WHERE name = $1 RETURNING name`,
    };
    this.#count = { name: 'pullq_token_count', text: `SELECT count(*) AS n FROM ${table}` };
  }

  async createToken(record: TokenRecord): Promise<void> {
    checkTokenRecord(record);
    const inserted = await this.#run(this.#insert, [
      record.name,
      record.tokenHash,
      record.roles.join(','),
      record.queuePattern,
      record.createdAt,
      record.expiresAt,
    ]);
    if (inserted.length > 0) return;
    if (await this.findTokenByHash(record.tokenHash)) throw tokenHashTaken();
    throw tokenNameTaken(record.name);
  }

  async findTokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const [row] = await this.#run<TokenRow>(this.#byHash, [tokenHash]);
    return row ? toRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.#run<TokenRow>(this.#list, [])).map(toRecord);
  }

  async revokeToken(name: string): Promise<boolean> {
    return (await this.#run(this.#delete, [name])).length > 0;
  }

  async countTokens(): Promise<number> {
    const [row] = await this.#run<{ n: number }>(this.#count, []);
    return row?.n ?? 0;
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
