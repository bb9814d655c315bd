/**
 * The credentials file: where the CLI and the client library find the server and the token
 * when the command line does not say, the way the seed's `pullqueue_authenticate` left a file
 * for its workers.
 *
 * Path: `$XDG_CONFIG_HOME/pullq/credentials.json`, else `~/.config/pullq/credentials.json`.
 * Content: `{ "server": "http://127.0.0.1:8080", "token": "pq_..." }`, mode 0600 in a folder
 * of mode 0700, written whole or not at all (a temporary file renamed over the old one).
 *
 * The file's token goes only to the file's server: a command pointed elsewhere (`--server`,
 * `PULLQ_SERVER`) sends no token unless one is given for it, so a token never leaks to a
 * server it was not made for.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

export type Env = Record<string, string | undefined>;

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export interface Credentials {
  /** The server's root URL, without a trailing slash. */
  server: string;
  token: string;
}

/** The file exists but cannot be used: says which file and why. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  readonly path: string;

  constructor(path: string, message: string, cause?: unknown) {
    super(`${path}: ${message}`, cause === undefined ? undefined : { cause });
    this.path = path;
  }
}

export function credentialsPath(env: Env): string {
  // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
  const xdg = env['XDG_CONFIG_HOME'];
  const configHome =
    xdg !== undefined && xdg !== '' && isAbsolute(xdg)
      ? xdg
      : join(env['HOME'] || homedir(), '.config');
  return join(configHome, 'pullq', 'credentials.json');
}

/** The saved credentials; null when there is no file. */
export function readCredentials(env: Env): Credentials | null {
  return readCredentialsFile(credentialsPath(env));
}

/** `readCredentials` from a path given by the caller (the client's `credentialsFile`). */
export function readCredentialsFile(path: string): Credentials | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CredentialsError(path, 'cannot be read', error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CredentialsError(
      path,
      'is not valid JSON; run `pullq login` to write it again',
      error,
    );
  }
  const { server, token } = (parsed ?? {}) as Partial<Record<string, unknown>>;
  if (typeof server !== 'string' || typeof token !== 'string' || !isHttpUrl(server)) {
    throw new CredentialsError(
      path,
      'needs {"server": "http(s)://...", "token": "..."}; run `pullq login` to write it again',
    );
  }
  return { server: normalizeServer(server), token };
}

/** Writes the file (mode 0600, folder 0700), replacing any earlier one. Returns its path. */
export function writeCredentials(env: Env, credentials: Credentials): string {
  return writeCredentialsFile(credentialsPath(env), credentials);
}

/** `writeCredentials` to a path resolved earlier (by `pullq serve`, at its edge). */
export function writeCredentialsFile(path: string, credentials: Credentials): string {
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing folder's mode alone; this one is ours.
  chmodSync(folder, 0o700);
  const temporary = `${path}.${process.pid}.tmp`;
  const content = `${JSON.stringify({ server: normalizeServer(credentials.server), token: credentials.token }, null, 2)}\n`;
  try {
    // `wx`: a file left at this name by someone else is not reused with its mode.
    writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new CredentialsError(path, 'cannot be written', error);
  }
  return path;
}

/** Where a setting came from, for hints ("the token from ... was refused"). */
export type CredentialSource = 'option' | 'environment' | 'file' | 'default';

export interface ClientCredentials {
  server: string;
  token: string | undefined;
  serverSource: CredentialSource;
  /** Null when no token was found. */
  tokenSource: Exclude<CredentialSource, 'default'> | null;
  /** The credentials file looked at, whether or not it existed. */
  file: string;
}

/**
 * Resolves the server and token of a client: an explicit option, else `PULLQ_SERVER` /
 * `PULLQ_TOKEN`, else the credentials file, else the default server and no token. The file's
 * token is used only when the server in use is the file's server.
 */
export function resolveClientCredentials(
  explicit: { server?: string | undefined; token?: string | undefined },
  env: Env,
): ClientCredentials {
  const file = credentialsPath(env);
  const given = (value: string | undefined): string | undefined =>
    value === undefined || value === '' ? undefined : value;
  let saved: Credentials | null | undefined;
  const fromFile = (): Credentials | null => (saved ??= readCredentials(env));

  let server: string;
  let serverSource: CredentialSource;
  const explicitServer = given(explicit.server);
  const envServer = given(env['PULLQ_SERVER']);
  if (explicitServer !== undefined) {
    [server, serverSource] = [explicitServer, 'option'];
  } else if (envServer !== undefined) {
    [server, serverSource] = [envServer, 'environment'];
  } else if (fromFile()) {
    [server, serverSource] = [fromFile()?.server ?? DEFAULT_SERVER, 'file'];
  } else {
    [server, serverSource] = [DEFAULT_SERVER, 'default'];
  }
  server = normalizeServer(server);

  let token: string | undefined;
  let tokenSource: ClientCredentials['tokenSource'] = null;
  const explicitToken = given(explicit.token);
  const envToken = given(env['PULLQ_TOKEN']);
  if (explicitToken !== undefined) {
    [token, tokenSource] = [explicitToken, 'option'];
  } else if (envToken !== undefined) {
    [token, tokenSource] = [envToken, 'environment'];
  } else {
    const credentials = fromFile();
    if (credentials && sameServer(credentials.server, server)) {
      [token, tokenSource] = [credentials.token, 'file'];
    }
  }
  return { server, token, serverSource, tokenSource, file };
}

/** `http://host:8080/` and `http://HOST:8080` are the same server; the path matters. */
export function sameServer(a: string, b: string): boolean {
  try {
    return normalizeServer(new URL(a).href) === normalizeServer(new URL(b).href);
  } catch {
    return false;
  }
}

function normalizeServer(server: string): string {
  return server.replace(/\/+$/, '');
}

function isHttpUrl(value: string): boolean {
  return /^https?:\/\/[^/]+/.test(value);
}
