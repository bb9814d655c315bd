/**
 * The two ends of `pullq migrate`: each opened from a connection URL through the transport
 * registry, like a Connection, with its own token, and every failure on it named by its flag
 * (`--from` or `--to`) and URL, so "nothing answers" or "unauthenticated" says which end.
 *
 * Tokens (pullq servers only): `--from-token` / `--to-token`, else `PULLQ_FROM_TOKEN` /
 * `PULLQ_TO_TOKEN`, else the credentials file's token when the file is for that server.
 * `PULLQ_TOKEN` is not used: with two servers in play it would go to both, and a token must
 * never reach a server it was not made for.
 */
import { existsSync } from 'node:fs';
import { CredentialsError, readCredentials, sameServer, type Env } from '../auth/credentials.ts';
import type { Backend } from '../backends/backend.ts';
import { MemoryBackend } from '../backends/memory.ts';
import { Connection } from '../client/connection.ts';
import { isPullqError } from '../protocol/errors.ts';
import { UsageError, networkCode } from './errors.ts';

export type SideFlag = '--from' | '--to';

const SERVER_SCHEMES = new Set(['pullq:', 'pullqs:', 'http:', 'https:']);

/** A failure a migration reports itself: one error line with its code, one hint line. */
export class MigrateError extends Error {
  override readonly name = 'MigrateError';
  /** A catalog code, or `failed` for an error that is not a PullqError. */
  readonly code: string;
  readonly hint: string | null;

  constructor(code: string, message: string, hint: string | null, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.hint = hint;
  }
}

/** One end of the migration: a backend behind a Connection (retries of transient failures). */
export class MigrateSide {
  readonly flag: SideFlag;
  readonly connection: Connection;
  /** The URL with any password masked. */
  readonly url: string;
  readonly #tokenSource: string | null;
  #backend: Backend | undefined;

  constructor(
    flag: SideFlag,
    connection: Connection,
    tokenSource: string | null,
    url: string = connection.url,
  ) {
    this.flag = flag;
    this.connection = connection;
    this.#tokenSource = tokenSource;
    this.url = url;
  }

  get backend(): Backend {
    if (this.#backend === undefined) throw new Error(`${this.flag} is not open yet`);
    return this.#backend;
  }

  /**
   * Opens the backend and lists its queues once, without retries: a URL that leads nowhere
   * is reported at once rather than after the ~8 s of retries a running migration gets.
   */
  async open(): Promise<void> {
    try {
      this.#backend = await this.connection.connect();
      await this.#backend.listQueues();
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** Runs one backend call with the Connection's retries; a failure names this side. */
  async call<T>(operation: (backend: Backend) => Promise<T>): Promise<T> {
    try {
      return await this.connection.ensure(operation);
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** `error` as a MigrateError naming this side, with what to do about it. */
  failure(error: unknown): MigrateError {
    if (error instanceof MigrateError) return error;
    const where = `${this.flag} ${this.url}`;
    const network = networkCode(error);
    const message = error instanceof Error ? error.message : String(error);
    if (isPullqError(error)) {
      const hint = network ? networkHint(network, this.url) : this.#hint(error.code);
      return new MigrateError(error.code, `${where}: ${message}`, hint, error);
    }
    if (network) {
      return new MigrateError(
        'unavailable',
        `${where}: cannot be reached (${network})`,
        networkHint(network, this.url),
        error,
      );
    }
    return new MigrateError('failed', `${where}: ${message}`, null, error);
  }

  #hint(code: string): string | null {
    const tokenFlag = `${this.flag}-token`;
    const tokenEnv = this.flag === '--from' ? 'PULLQ_FROM_TOKEN' : 'PULLQ_TO_TOKEN';
    switch (code) {
      case 'unauthenticated':
        return this.#tokenSource === null
          ? `this server needs a token: pass ${tokenFlag} or ${tokenEnv}, or run \`pullq login --server ...\` for it`
          : `the token from ${this.#tokenSource} was refused (revoked, expired or mistyped): pass a valid one`;
      case 'permission_denied':
        return `a migration reads every task and creates queues: the token for ${this.flag} needs the admin role on the queues migrated`;
      case 'unavailable':
      case 'timeout':
      case 'rate_limited':
        return 'try again shortly: `pullq migrate` can be run again, and copies nothing twice';
      default:
        return null;
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

function networkHint(code: string, url: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing answers at ${url}: is the server running there?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host of ${url} is not known: check the URL`;
    default:
      return `check that ${url} is up and reachable; \`pullq migrate\` can be run again, and copies nothing twice`;
  }
}

/**
 * Makes the side for `href` (nothing is opened yet). Bad URLs, tokens for backends that take
 * none, and a source SQLite file that does not exist are usage errors. A dry run to a SQLite
 * file that does not exist yet reads an empty store instead of creating the file.
 */
export function makeSide(
  flag: SideFlag,
  href: string,
  explicitToken: string | undefined,
  env: Env,
  dryRun: boolean,
): MigrateSide {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw new UsageError(
      `${flag} must be a connection URL (sqlite:///path/to/pullq.db, pullq://host:port, postgres://...), got ${JSON.stringify(href)}`,
    );
  }
  if (url.protocol === 'memory:') {
    throw new UsageError(
      `${flag} memory:// lives inside one process, and \`pullq migrate\` runs in its own: there is nothing to copy from or to`,
    );
  }
  const missingFile = url.protocol === 'sqlite:' && !existsSync(sqliteFile(href));
  if (flag === '--from' && missingFile && sqliteFile(href) !== '') {
    throw new UsageError(
      `--from ${href}: no such file (the database of \`pullq serve\` is pullq.db in its --data folder)`,
    );
  }
  if (flag === '--to' && missingFile && dryRun && sqliteFile(href) !== '') {
    // Opening the file would create it: a dry run reads an empty store in its place instead.
    return new MigrateSide(flag, new Connection({ backend: new MemoryBackend() }), null, href);
  }
  const { token, source } = resolveToken(flag, url, explicitToken, env);
  let connection: Connection;
  try {
    connection = new Connection(href, token === undefined ? {} : { token });
  } catch (error) {
    if (isPullqError(error, 'invalid_argument')) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
  return new MigrateSide(flag, connection, source);
}

/** The file of a `sqlite://` URL, as the sqlite transport reads it. */
function sqliteFile(href: string): string {
  return decodeURIComponent(href.slice('sqlite://'.length).split('?')[0] ?? '');
}

function resolveToken(
  flag: SideFlag,
  url: URL,
  explicit: string | undefined,
  env: Env,
): { token: string | undefined; source: string | null } {
  const envName = flag === '--from' ? 'PULLQ_FROM_TOKEN' : 'PULLQ_TO_TOKEN';
  const fromEnv = env[envName];
  const isServer = SERVER_SCHEMES.has(url.protocol);
  if (!isServer) {
    if (explicit !== undefined) {
      throw new UsageError(`${flag}-token is for pullq servers; ${url.protocol}// takes none`);
    }
    return { token: undefined, source: null };
  }
  if (explicit !== undefined && explicit !== '') {
    return { token: explicit, source: `${flag}-token` };
  }
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv, source: envName };
  let saved;
  try {
    saved = readCredentials(env);
  } catch (error) {
    if (error instanceof CredentialsError) throw new UsageError(error.message);
    throw error;
  }
  const scheme = url.protocol === 'pullqs:' || url.protocol === 'https:' ? 'https:' : 'http:';
  if (saved && sameServer(saved.server, `${scheme}//${url.host}${url.pathname}`)) {
    return { token: saved.token, source: 'the credentials file' };
  }
  return { token: undefined, source: null };
}
