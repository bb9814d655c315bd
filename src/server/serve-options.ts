/**
 * The settings of `pullq serve`, typed and resolved once: defaults < environment < flags.
 * Only this function reads the environment; everything below gets a ServeOptions.
 */
import { isIP } from 'node:net';
import { credentialsPath, type Env } from '../auth/credentials.ts';
import { isWellFormedToken } from '../auth/tokens.ts';
import { withoutPassword } from '../client/registry.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const SYNCHRONOUS_MODES = ['NORMAL', 'FULL'] as const;
export type Synchronous = (typeof SYNCHRONOUS_MODES)[number];

export interface ServeOptions {
  /** Interface to bind. Default `127.0.0.1` (env `PULLQ_HOST`): nothing outside this machine. */
  host: string;
  /** Default 8080 (env `PULLQ_PORT`); 0 picks a free port (printed at start). */
  port: number;
  /** Where the SQLite database lives. Default `./pullq-data` (env `PULLQ_DATA`). */
  dataDir: string;
  /** `memory://`, `sqlite:///path/to/file.db`, `postgres://...` or `redis://...`; null:
   * `pullq.db` in `dataDir`. */
  backendUrl: string | null;
  /** Create a queue on the first insert into it. Default true. */
  autoCreateQueues: boolean;
  /** pino level of the log on stdout (readable lines on a terminal, JSON otherwise). Default
   * `info`; `debug` adds a line per request. */
  logLevel: LogLevel;
  /**
   * SQLite `synchronous` in WAL mode. NORMAL (default): a power loss may lose the last
   * commits, a crash of the process loses nothing. FULL: nothing acknowledged is lost even on
   * power loss, at a cost in insert throughput.
   */
  synchronous: Synchronous;
  /** Also print `{"listening":"http://HOST:PORT"}` on stdout once bound (for scripts). */
  printAddressJson: boolean;
  /**
   * Require a token on every route but health checks. Default true; `--no-auth` turns it
   * off, allowed only on a loopback `host`.
   */
  auth: boolean;
  /**
   * `PULLQ_ADMIN_TOKEN`: the bootstrap admin token, instead of one generated on the first
   * start (src/auth/bootstrap.ts). Not written anywhere unless `writeCredentials`.
   */
  adminToken: string | null;
  /** Write the credentials file even when the admin token comes from `PULLQ_ADMIN_TOKEN`. */
  writeCredentials: boolean;
  /** Where a generated admin token is written (src/auth/credentials.ts). */
  credentialsFile: string;
  /** PEM files to serve HTTPS directly; null: plain HTTP (fine on loopback or behind a proxy). */
  tls: { certFile: string; keyFile: string } | null;
  /** Largest request body in bytes (env `PULLQ_MAX_BODY`); null: the server's 32 MiB. */
  bodyLimit: number | null;
  /** Requests per second per token (env `PULLQ_RATE_LIMIT`), then 429; null: no limit. */
  rateLimitPerSecond: number | null;
  /**
   * Serve Prometheus `/metrics` on this port, without authentication, instead of on `port`
   * for admin tokens (env `PULLQ_METRICS_PORT`; 0 picks a free one). null: on `port`.
   */
  metricsPort: number | null;
  /** Interface of the metrics listener. Default `127.0.0.1` (env `PULLQ_METRICS_HOST`). */
  metricsHost: string;
  /**
   * Seconds a client has to send a request's headers before it is answered 408 and closed
   * (env `PULLQ_HEADERS_TIMEOUT`); null: the server's 20 s (src/server/app.ts, ConnectionLimits).
   */
  headersTimeoutSeconds: number | null;
  /** Seconds for a whole request, body included (env `PULLQ_REQUEST_TIMEOUT`); null: 120 s. */
  requestTimeoutSeconds: number | null;
  /** Open connections at most (env `PULLQ_MAX_CONNECTIONS`); null: the server's 10,000. */
  maxConnections: number | null;
}

/** Every default but the credentials file's path, which depends on the environment. */
export const DEFAULT_SERVE_OPTIONS: Omit<ServeOptions, 'credentialsFile'> = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './pullq-data',
  backendUrl: null,
  autoCreateQueues: true,
  logLevel: 'info',
  synchronous: 'NORMAL',
  printAddressJson: false,
  auth: true,
  adminToken: null,
  writeCredentials: false,
  tls: null,
  bodyLimit: null,
  rateLimitPerSecond: null,
  metricsPort: null,
  metricsHost: '127.0.0.1',
  headersTimeoutSeconds: null,
  requestTimeoutSeconds: null,
  maxConnections: null,
};

/** Smallest `--max-body`: a request line of JSON must fit. */
export const MIN_BODY_LIMIT = 1024;
/** Largest `--max-body`: 1 GiB; more would let one request hold that much memory. */
export const MAX_BODY_LIMIT = 1024 * 1024 * 1024;

/** What the command line gives, unparsed; undefined means "not given". */
export interface ServeFlags {
  host?: string;
  port?: string;
  data?: string;
  backend?: string;
  autoCreate?: boolean;
  logLevel?: string;
  synchronous?: string;
  printAddressJson?: boolean;
  /** commander's `--no-auth`: false when given. */
  auth?: boolean;
  writeCredentials?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  maxBody?: string;
  rateLimit?: string;
  metricsPort?: string;
  metricsHost?: string;
  headersTimeout?: string;
  requestTimeout?: string;
  maxConnections?: string;
}

/** A setting that makes no sense: the command line is wrong (exit code 2). */
export class ServeConfigError extends Error {
  override readonly name = 'ServeConfigError';
}

export function resolveServeOptions(flags: ServeFlags, env: Env): ServeOptions {
  const pick = (flag: string | undefined, name: string): string | undefined =>
    flag ?? (env[name] === '' ? undefined : env[name]);
  const portText = pick(flags.port, 'PULLQ_PORT');
  const port = portText === undefined ? DEFAULT_SERVE_OPTIONS.port : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535 || portText?.trim() === '') {
    throw new ServeConfigError(
      `port must be an integer from 0 to 65535, got ${JSON.stringify(portText)}`,
    );
  }
  const logLevel = flags.logLevel ?? DEFAULT_SERVE_OPTIONS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ServeConfigError(
      `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const synchronous = (flags.synchronous ?? DEFAULT_SERVE_OPTIONS.synchronous).toUpperCase();
  if (!(SYNCHRONOUS_MODES as readonly string[]).includes(synchronous)) {
    throw new ServeConfigError(
      `--synchronous must be NORMAL or FULL, got ${JSON.stringify(flags.synchronous)}`,
    );
  }
  const backendUrl = flags.backend ?? null;
  if (backendUrl !== null && backendUrl !== 'memory://' && !isStoreUrl(backendUrl)) {
    throw new ServeConfigError(
      `--backend must be memory://, sqlite:///path/to/file.db, postgres://user@host:port/db or redis://host:port, got ${JSON.stringify(withoutPassword(backendUrl))}`,
    );
  }
  if (backendUrl?.startsWith('sqlite://') && sqlitePath(backendUrl) === '') {
    throw new ServeConfigError(
      '--backend sqlite:// needs a file path, as in sqlite:///var/lib/pullq/pullq.db',
    );
  }
  const host = pick(flags.host, 'PULLQ_HOST') ?? DEFAULT_SERVE_OPTIONS.host;
  const auth = flags.auth ?? true;
  if (!auth && !isLoopbackHost(host)) {
    throw new ServeConfigError(
      `--no-auth is allowed only on a loopback address (127.0.0.1, ::1, localhost), and --host is ${host}: anyone who reaches the port could read, change and delete every task. Leave authentication on (the default) to serve beyond this machine`,
    );
  }
  const adminToken = pick(undefined, 'PULLQ_ADMIN_TOKEN') ?? null;
  if (adminToken !== null && !isWellFormedToken(adminToken)) {
    // The token itself is never repeated: it may be a real password with a typo.
    throw new ServeConfigError(
      `PULLQ_ADMIN_TOKEN must be 16 to 512 printable ASCII characters without spaces (it has ${adminToken.length} characters)`,
    );
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new ServeConfigError('--tls-cert and --tls-key go together: give both, or neither');
  }
  const maxBody = pick(flags.maxBody, 'PULLQ_MAX_BODY');
  const rateLimit = pick(flags.rateLimit, 'PULLQ_RATE_LIMIT');
  const metrics = metricsListener(
    pick(flags.metricsPort, 'PULLQ_METRICS_PORT'),
    pick(flags.metricsHost, 'PULLQ_METRICS_HOST'),
    port,
  );
  return {
    host,
    port,
    dataDir: pick(flags.data, 'PULLQ_DATA') ?? DEFAULT_SERVE_OPTIONS.dataDir,
    backendUrl,
    autoCreateQueues: flags.autoCreate ?? DEFAULT_SERVE_OPTIONS.autoCreateQueues,
    logLevel: logLevel as LogLevel,
    synchronous: synchronous as Synchronous,
    printAddressJson: flags.printAddressJson ?? false,
    auth,
    adminToken,
    writeCredentials: flags.writeCredentials ?? false,
    credentialsFile: credentialsPath(env),
    tls:
      flags.tlsCert === undefined || flags.tlsKey === undefined
        ? null
        : { certFile: flags.tlsCert, keyFile: flags.tlsKey },
    bodyLimit:
      maxBody === undefined
        ? null
        : integerSetting('--max-body', maxBody, MIN_BODY_LIMIT, MAX_BODY_LIMIT),
    rateLimitPerSecond:
      rateLimit === undefined ? null : integerSetting('--rate-limit', rateLimit, 1, 1_000_000),
    ...metrics,
    ...connectionLimits(
      pick(flags.headersTimeout, 'PULLQ_HEADERS_TIMEOUT'),
      pick(flags.requestTimeout, 'PULLQ_REQUEST_TIMEOUT'),
      pick(flags.maxConnections, 'PULLQ_MAX_CONNECTIONS'),
    ),
  };
}

/** Largest timeouts: past an hour for headers or a day for a request, a client is stuck. */
const MAX_HEADERS_TIMEOUT_SECONDS = 3600;
const MAX_REQUEST_TIMEOUT_SECONDS = 24 * 3600;
/** Largest connection cap: a million open sockets is past any open-file limit in use. */
const MAX_CONNECTIONS = 1_000_000;

function connectionLimits(
  headersText: string | undefined,
  requestText: string | undefined,
  connectionsText: string | undefined,
): Pick<ServeOptions, 'headersTimeoutSeconds' | 'requestTimeoutSeconds' | 'maxConnections'> {
  const headers =
    headersText === undefined
      ? null
      : integerSetting('--headers-timeout', headersText, 1, MAX_HEADERS_TIMEOUT_SECONDS);
  const request =
    requestText === undefined
      ? null
      : integerSetting('--request-timeout', requestText, 1, MAX_REQUEST_TIMEOUT_SECONDS);
  if (headers !== null && request !== null && headers > request) {
    throw new ServeConfigError(
      `--headers-timeout (${headers} s) must not be longer than --request-timeout (${request} s): the headers are part of the request`,
    );
  }
  return {
    headersTimeoutSeconds: headers,
    requestTimeoutSeconds: request,
    maxConnections:
      connectionsText === undefined
        ? null
        : integerSetting('--max-connections', connectionsText, 1, MAX_CONNECTIONS),
  };
}

function metricsListener(
  portText: string | undefined,
  host: string | undefined,
  serverPort: number,
): { metricsPort: number | null; metricsHost: string } {
  if (portText === undefined) {
    if (host !== undefined) {
      throw new ServeConfigError(
        '--metrics-host goes with --metrics-port: give the port too, or leave both out to serve /metrics on the server port',
      );
    }
    return { metricsPort: null, metricsHost: DEFAULT_SERVE_OPTIONS.metricsHost };
  }
  const metricsPort = integerSetting('--metrics-port', portText, 0, 65_535);
  if (metricsPort !== 0 && metricsPort === serverPort) {
    throw new ServeConfigError(
      `--metrics-port must differ from --port (both are ${metricsPort}): metrics are served without a token on a listener of their own`,
    );
  }
  if (host !== undefined && host.trim() === '') {
    throw new ServeConfigError('--metrics-host must be an address, got an empty string');
  }
  return { metricsPort, metricsHost: host ?? DEFAULT_SERVE_OPTIONS.metricsHost };
}

function integerSetting(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ServeConfigError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) {
    if (bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
    return mapped?.[1]?.startsWith('127.') ?? false;
  }
  return false;
}

/** The database URLs a server can store its queues in besides memory. */
const STORE_SCHEMES = ['sqlite:', 'postgres:', 'postgresql:', 'redis:', 'rediss:'];

function isStoreUrl(url: string): boolean {
  return STORE_SCHEMES.some((scheme) => url.toLowerCase().startsWith(`${scheme}//`));
}

/** `sqlite:///abs/file.db` -> `/abs/file.db`; `sqlite://rel/file.db` -> `rel/file.db`. */
export function sqlitePath(url: string): string {
  return decodeURIComponent(url.slice('sqlite://'.length));
}
