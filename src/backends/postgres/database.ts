/**
 * The PostgreSQL connection pool of one backend, and the two ways the backend runs SQL: one
 * statement on any pooled connection, or a transaction on one connection. Every error comes
 * out as a catalog error (pg-error.ts); a connection that broke is thrown away, and the pool
 * opens a new one on the next request, so the backend recovers by itself once the database
 * is back.
 *
 * Statements are named (prepared once per connection, then only bound and executed): for the
 * lease statement that saves parsing and planning, about a third of its server time.
 */
import type pg from 'pg';
import { PullqError } from '../../protocol/errors.ts';
import { checkInt } from '../../protocol/limits.ts';
import { breaksConnection, pgError, type Place } from './pg-error.ts';

type PgModule = typeof pg;

export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database`, or a `pg` pool configuration. */
  connection: string | pg.PoolConfig;
  /** Where pullq's tables live; created when missing. Lower-case letters, digits and `_`,
   * at most 57 characters. Default `pullq`. */
  schema?: string;
  /** Connections this backend may open (default 10). */
  poolSize?: number;
  /** How long opening a connection may take before the request fails with `unavailable`
   * (default 5000 ms). */
  connectTimeoutMs?: number;
}

export interface Statement {
  /** The prepared statement's name, unique per text. Without one, a statement with no
   * values may hold several statements (migrations). */
  name?: string;
  text: string;
}

/** Runs one statement and returns its rows. */
export type Run = <R>(statement: Statement, values: readonly unknown[]) => Promise<R[]>;

export const DEFAULT_SCHEMA = 'pullq';
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,56}$/;
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const INT8_OID = 20;

/**
 * Set on every pooled connection. Without bitmap scans, the lease statement always reads
 * tasks_ready in order and stops after its batch. With them, a planner that underestimates a
 * queue (a table never analyzed yet, a queue that grew since the last ANALYZE) may choose to
 * collect every ready row of the queue and sort them (EXPLAIN on a fresh table of 40,000
 * tasks: a bitmap scan of all of them, then a sort), which on a backlog of 1,000,000 is a
 * sort of the whole backlog per lease. No statement of pullq gains from a bitmap scan.
 */
export const SESSION_SETTINGS = 'SET enable_bitmapscan = off';

/**
 * The pool's onConnect hook. pg-pool (3.14, which pg 8.23 requires) awaits it before it hands
 * the new connection out, and fails the request that opened it if it rejects; @types/pg still
 * declares it as returning void, hence the cast.
 */
const applySessionSettings = ((client: pg.ClientBase) =>
  client.query(SESSION_SETTINGS).then(() => undefined)) as unknown as (
  client: pg.ClientBase,
) => void;

export function checkSchema(schema: string): void {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new PullqError(
      'invalid_argument',
      `schema must be 1 to 57 lower-case letters, digits or _ (not starting with a digit), got ${JSON.stringify(schema)}`,
      { details: { field: 'schema' } },
    );
  }
}

/** host:port/database for messages: never the password. */
function placeOf(config: pg.PoolConfig): Place {
  if (config.connectionString !== undefined) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
    } catch {
      return 'the configured database';
    }
  }
  const host = typeof config.host === 'string' ? config.host : 'localhost';
  return `${host}:${config.port ?? 5432}/${config.database ?? ''}`;
}

export class Database {
  readonly place: Place;
  /** The schema, validated: safe to put into SQL text. */
  readonly schema: string;
  /** The configuration of every connection (the LISTEN client's too). */
  readonly clientConfig: pg.ClientConfig;
  readonly #pool: pg.Pool;

  constructor(driver: PgModule, options: PostgresConnectionOptions) {
    const schema = options.schema ?? DEFAULT_SCHEMA;
    checkSchema(schema);
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    checkInt(poolSize, 'poolSize', 1, 1000);
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    checkInt(connectTimeoutMs, 'connectTimeoutMs', 1, 600_000);
    const given: pg.PoolConfig =
      typeof options.connection === 'string'
        ? { connectionString: options.connection }
        : options.connection;
    // Times and seqs are bigint columns; as numbers they are exact up to 2^53 (year 287396).
    const parserOf = driver.types.getTypeParser as (oid: number, format?: string) => unknown;
    const types = {
      getTypeParser: ((oid: number, format?: string): unknown =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : parserOf(oid, format)) as typeof driver.types.getTypeParser,
    };
    this.schema = schema;
    this.place = placeOf(given);
    this.clientConfig = {
      application_name: 'pullq',
      // Finds a dead peer (a database host that vanished) in seconds rather than hours.
      keepAlive: true,
      ...given,
      connectionTimeoutMillis: connectTimeoutMs,
      types,
    };
    this.#pool = new driver.Pool({
      ...this.clientConfig,
      max: poolSize,
      onConnect: applySessionSettings,
    });
    // An idle connection that the server closed (restart, admin shutdown) errors here; the
    // pool has already dropped it, and the next request opens a new one.
    this.#pool.on('error', () => {});
  }

  /** Runs one statement on any pooled connection (its own transaction). */
  readonly run: Run = async <R>(statement: Statement, values: readonly unknown[]) => {
    try {
      const result = await this.#pool.query({ ...statement, values: [...values] });
      return result.rows as R[];
    } catch (error) {
      throw pgError(error, this.place);
    }
  };

  /**
   * Runs `work` in one transaction on one connection: COMMIT when it returns, ROLLBACK when it
   * throws. A connection that broke on the way is discarded, not returned to the pool.
   */
  async transaction<T>(work: (run: Run) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw pgError(error, this.place);
    }
    let broken: PullqError | undefined;
    try {
      await client.query('BEGIN');
      const run: Run = async <R>(statement: Statement, values: readonly unknown[]) => {
        const result = await client.query({ ...statement, values: [...values] });
        return result.rows as R[];
      };
      const value = await work(run);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      const failure = pgError(error, this.place);
      if (breaksConnection(failure)) broken = failure;
      else {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = failure;
        }
      }
      throw failure;
    } finally {
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}
