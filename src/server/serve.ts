/**
 * `pullq serve`: the composition root of the server process. Options are typed and resolved
 * once, here (defaults < environment < flags); then the store is opened, the app built on it,
 * the socket bound, and signals handled:
 *
 * - first SIGINT/SIGTERM: drain. Long-polls end (empty) and readiness fails, the listener
 *   stops accepting and in-flight requests finish, then the store is closed. Exit 0.
 * - second signal: force. The process exits at once; tasks leased by requests that were cut
 *   off come back when their leases run out (at-least-once), nothing acknowledged is lost.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Backend } from '../backends/backend.ts';
import type { PullqServer } from './app.ts';

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
  /** `memory://` or `sqlite:///path/to/file.db`; null: `pullq.db` in `dataDir`. */
  backendUrl: string | null;
  /** Create a queue on the first insert into it. Default true. */
  autoCreateQueues: boolean;
  /** pino level of the JSON log on stdout. Default `info`. */
  logLevel: LogLevel;
  /**
   * SQLite `synchronous` in WAL mode. NORMAL (default): a power loss may lose the last
   * commits, a crash of the process loses nothing. FULL: nothing acknowledged is lost even on
   * power loss, at a cost in insert throughput.
   */
  synchronous: Synchronous;
  /** Also print `{"listening":"http://HOST:PORT"}` on stdout once bound (for scripts). */
  printAddressJson: boolean;
}

export const DEFAULT_SERVE_OPTIONS: ServeOptions = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './pullq-data',
  backendUrl: null,
  autoCreateQueues: true,
  logLevel: 'info',
  synchronous: 'NORMAL',
  printAddressJson: false,
};

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
}

/** A setting that makes no sense: the command line is wrong (exit code 2). */
export class ServeConfigError extends Error {
  override readonly name = 'ServeConfigError';
}

export function resolveServeOptions(
  flags: ServeFlags,
  env: Record<string, string | undefined>,
): ServeOptions {
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
  if (backendUrl !== null && backendUrl !== 'memory://' && !backendUrl.startsWith('sqlite://')) {
    throw new ServeConfigError(
      `--backend must be memory:// or sqlite:///path/to/file.db, got ${JSON.stringify(backendUrl)}`,
    );
  }
  if (backendUrl?.startsWith('sqlite://') && sqlitePath(backendUrl) === '') {
    throw new ServeConfigError(
      '--backend sqlite:// needs a file path, as in sqlite:///var/lib/pullq/pullq.db',
    );
  }
  return {
    host: pick(flags.host, 'PULLQ_HOST') ?? DEFAULT_SERVE_OPTIONS.host,
    port,
    dataDir: pick(flags.data, 'PULLQ_DATA') ?? DEFAULT_SERVE_OPTIONS.dataDir,
    backendUrl,
    autoCreateQueues: flags.autoCreate ?? DEFAULT_SERVE_OPTIONS.autoCreateQueues,
    logLevel: logLevel as LogLevel,
    synchronous: synchronous as Synchronous,
    printAddressJson: flags.printAddressJson ?? false,
  };
}

/** `sqlite:///abs/file.db` -> `/abs/file.db`; `sqlite://rel/file.db` -> `rel/file.db`. */
function sqlitePath(url: string): string {
  return decodeURIComponent(url.slice('sqlite://'.length));
}

export interface OpenedStore {
  backend: Backend;
  /** Where the data lives, in words. */
  description: string;
}

export async function openStore(options: ServeOptions): Promise<OpenedStore> {
  if (options.backendUrl === 'memory://') {
    const { MemoryBackend } = await import('../backends/memory.ts');
    return { backend: new MemoryBackend(), description: 'in memory (nothing survives a restart)' };
  }
  const path = resolve(
    options.backendUrl === null
      ? join(options.dataDir, 'pullq.db')
      : sqlitePath(options.backendUrl),
  );
  mkdirSync(dirname(path), { recursive: true });
  // Loaded only when used: a memory server never opens node:sqlite.
  const { SqliteBackend } = await import('../backends/sqlite/sqlite-backend.ts');
  const backend = new SqliteBackend({ path, synchronous: options.synchronous });
  return { backend, description: `${path} (SQLite, synchronous=${options.synchronous})` };
}

/** Where human messages and the address line go; a test can capture them. */
export interface ServeOutput {
  /** Plain words for people (stderr). */
  say(line: string): void;
  /** Machine-readable lines (stdout). */
  emit(line: string): void;
}

export const processOutput: ServeOutput = {
  say: (line) => process.stderr.write(`${line}\n`),
  emit: (line) => process.stdout.write(`${line}\n`),
};

export interface RunningServer {
  url: string;
  store: string;
  logger: Logger;
  /** Drains and closes; says each step. Safe to call twice (the second call waits). */
  stop(): Promise<void>;
}

/** Opens the store, builds the app and binds the socket. */
export async function startServe(
  options: ServeOptions,
  output: ServeOutput,
): Promise<RunningServer> {
  // Imported here so that client commands, which share the CLI's module graph, never load
  // Fastify and pino.
  const [{ pino }, { buildServer }] = await Promise.all([import('pino'), import('./app.ts')]);
  const logger = pino({ level: options.logLevel, name: 'pullq' });
  const store = await openStore(options);
  let server: PullqServer;
  try {
    server = await buildServer({
      backend: store.backend,
      autoCreateQueues: options.autoCreateQueues,
      logger,
    });
    await server.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await store.backend.close();
    throw explainListenError(error, options);
  }
  const address = server.app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, store: store.description }, 'pullq serve listening');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      server.beginShutdown();
      output.say('  ended waiting leases (they returned empty); readiness now fails');
      await server.app.close();
      output.say('  stopped accepting connections; in-flight requests finished');
      await store.backend.close();
      output.say(`  closed the store: ${store.description}`);
      logger.info('pullq serve stopped');
    })());
  return { url, store: store.description, logger, stop };
}

function explainListenError(error: unknown, options: ServeOptions): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const where = `${options.host}:${options.port}`;
  if (code === 'EADDRINUSE') {
    return new ServeStartError(
      `${where} is already in use`,
      'stop the other server, or pick another port with --port (0 picks a free one)',
      error,
    );
  }
  if (code === 'EACCES') {
    return new ServeStartError(`not allowed to bind ${where}`, 'use a port above 1023', error);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new ServeStartError(
      `${options.host} is not an address of this machine`,
      'check --host',
      error,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The server could not start, with what to do about it. */
export class ServeStartError extends Error {
  override readonly name = 'ServeStartError';
  readonly hint: string;

  constructor(message: string, hint: string, cause: unknown) {
    super(message, { cause });
    this.hint = hint;
  }
}

/**
 * Runs the server until SIGINT or SIGTERM, then drains; a second signal forces the exit.
 * Resolves with the exit code once everything is closed.
 */
export async function runServe(
  options: ServeOptions,
  output: ServeOutput = processOutput,
): Promise<number> {
  const running = await startServe(options, output);
  output.say(`pullq serve: listening on ${running.url}`);
  output.say(`  data: ${running.store}`);
  output.say(
    `  stop: press Ctrl-C, or \`kill -TERM ${process.pid}\` (in-flight requests finish first)`,
  );
  if (options.printAddressJson) output.emit(JSON.stringify({ listening: running.url }));

  const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
    const first = (received: NodeJS.Signals): void => {
      process.off('SIGINT', first).off('SIGTERM', first);
      resolveSignal(received);
    };
    process.on('SIGINT', first).on('SIGTERM', first);
  });
  const force = (second: NodeJS.Signals): void => {
    output.say(
      `pullq serve: ${second} again: exiting now; requests in flight were cut off (their leased tasks come back when the leases run out)`,
    );
    process.exit(1);
  };
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  output.say(`pullq serve: ${signal} received, shutting down (send it again to force)`);
  await running.stop();
  output.say('pullq serve: stopped');
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  return 0;
}
