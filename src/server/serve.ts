/**
 * `pullq serve`: the composition root of the server process. Options are typed and resolved
 * once (./serve-options.ts: defaults < environment < flags); then the store is opened, the app
 * built on it, the socket bound, the first admin token made sure of (src/auth/bootstrap.ts),
 * and signals handled:
 *
 * - first SIGINT/SIGTERM: drain. Long-polls end (empty) and readiness fails, the listener
 *   stops accepting and in-flight requests finish, then the store is closed. Exit 0.
 * - second signal: force. The process exits at once; tasks leased by requests that were cut
 *   off come back when their leases run out (at-least-once), nothing acknowledged is lost.
 *
 * Logs go to stdout: readable lines on a terminal (src/server/log-lines.ts), pino JSON otherwise.
 * Prometheus metrics are at /metrics for admin tokens, or with --metrics-port on a listener of
 * their own without a token (docs/metrics.md).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { DestinationStream, Logger } from 'pino';
import { BootstrapError, bootstrapAdminToken } from '../auth/bootstrap.ts';
import { writeCredentialsFile } from '../auth/credentials.ts';
import { isTokenStore, type TokenStore } from '../auth/token-store.ts';
import type { Backend } from '../backends/backend.ts';
import type { PullqServer, ServerOptions } from './app.ts';
import type { MetricsListener } from './observability/metrics-route.ts';
import { isLoopbackHost, sqlitePath, type ServeOptions } from './serve-options.ts';
import { withoutPassword } from '../client/registry.ts';

export {
  DEFAULT_SERVE_OPTIONS,
  LOG_LEVELS,
  MAX_BODY_LIMIT,
  MIN_BODY_LIMIT,
  SYNCHRONOUS_MODES,
  ServeConfigError,
  isLoopbackHost,
  resolveServeOptions,
} from './serve-options.ts';
export type { LogLevel, ServeFlags, ServeOptions, Synchronous } from './serve-options.ts';

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
  if (options.backendUrl !== null && !options.backendUrl.startsWith('sqlite://')) {
    // PostgreSQL and Redis open the way a client connection would, through the registry.
    const [{ transportFor }, { registerBuiltInTransports }] = await Promise.all([
      import('../client/registry.ts'),
      import('../client/transports.ts'),
    ]);
    registerBuiltInTransports();
    const url = new URL(options.backendUrl);
    const backend = await transportFor(url).open({
      url,
      href: options.backendUrl,
      protocol: 'native',
      project: undefined,
      hrdProject: false,
      token: undefined,
      timeoutMs: 30_000,
    });
    return { backend, description: withoutPassword(options.backendUrl) };
  }
  const path = resolve(
    options.backendUrl === null
      ? join(options.dataDir, 'pullq.db')
      : sqlitePath(options.backendUrl),
  );
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
  /** Where Prometheus scrapes: the server's own /metrics (admin token) or --metrics-port's. */
  metrics: { url: string; needsToken: boolean };
  store: string;
  logger: Logger;
  /** How clients get in, in words (never a token). */
  auth: string[];
  /** What the operator should know is unsafe about this setup. */
  warnings: string[];
  /** Drains and closes; says each step. Safe to call twice (the second call waits). */
  stop(): Promise<void>;
}

/** Opens the store, builds the app, binds the socket and makes sure an admin token exists. */
export async function startServe(
  options: ServeOptions,
  output: ServeOutput,
): Promise<RunningServer> {
  const https = options.tls ? readTlsFiles(options.tls) : undefined;
  // Imported here so that client commands, which share the CLI's module graph, never load
  // Fastify and pino.
  const [{ pino }, { buildServer }, { listenMetrics }] = await Promise.all([
    import('pino'),
    import('./app.ts'),
    import('./observability/metrics-route.ts'),
  ]);
  const logger = pino(
    { level: options.logLevel, name: 'pullq' },
    await logDestination(process.stdout),
  );
  const store = await openStore(options);
  let tokens: TokenStore | undefined;
  if (options.auth) {
    if (!isTokenStore(store.backend)) {
      await store.backend.close();
      throw new ServeStartError(
        `${store.description} cannot keep tokens`,
        'use a store that can (SQLite, PostgreSQL, Redis, memory), or --no-auth on a loopback address',
        null,
      );
    }
    tokens = store.backend;
  }
  const serverOptions: ServerOptions = {
    backend: store.backend,
    autoCreateQueues: options.autoCreateQueues,
    logger,
    observability: { metricsRoute: options.metricsPort === null },
    ...(options.bodyLimit === null ? {} : { bodyLimit: options.bodyLimit }),
    connections: connectionLimits(options),
    ...(https ? { https } : {}),
    ...(tokens
      ? {
          auth: {
            tokens,
            ...(options.rateLimitPerSecond === null
              ? {}
              : { rateLimitPerSecond: options.rateLimitPerSecond }),
          },
        }
      : {}),
  };
  let server: PullqServer;
  try {
    server = await buildServer(serverOptions);
    await server.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await store.backend.close();
    throw explainListenError(error, options);
  }
  const address = server.app.server.address() as AddressInfo;
  const scheme = https ? 'https' : 'http';
  const url = `${scheme}://${hostForUrl(address.address)}:${address.port}`;
  let metricsListener: MetricsListener | null = null;
  if (options.metricsPort !== null) {
    const { observability } = server;
    try {
      metricsListener = await listenMetrics(
        { render: observability.renderMetrics, contentType: observability.metricsContentType },
        { port: options.metricsPort, host: options.metricsHost },
      );
    } catch (error) {
      await server.app.close();
      await store.backend.close();
      const explained = explainListenError(error, {
        ...options,
        host: options.metricsHost,
        port: options.metricsPort,
      });
      if (!(explained instanceof ServeStartError)) throw explained;
      throw new ServeStartError(
        `metrics listener: ${explained.message}`,
        explained.hint.replace('--port', '--metrics-port').replace('--host', '--metrics-host'),
        error,
      );
    }
  }
  const metrics = metricsListener
    ? { url: metricsListener.url, needsToken: false }
    : { url: `${url}/metrics`, needsToken: true };

  let auth: string[];
  try {
    auth = tokens
      ? await bootstrap(tokens, options, localUrl(scheme, address))
      : [
          options.adminToken === null
            ? 'auth: OFF (--no-auth)'
            : 'auth: OFF (--no-auth); PULLQ_ADMIN_TOKEN is ignored',
        ];
  } catch (error) {
    await metricsListener?.close();
    await server.app.close();
    await store.backend.close();
    if (error instanceof BootstrapError) {
      throw new ServeStartError(error.message, 'see docs/security.md (bootstrap)', error);
    }
    throw error;
  }
  logger.info(
    {
      url,
      store: store.description,
      auth: options.auth,
      tls: https !== undefined,
      metrics: metrics.url,
    },
    'pullq serve listening',
  );

  const warnings: string[] = [];
  if (!options.auth) {
    warnings.push(
      'WARNING: authentication is OFF (--no-auth): every user and program on this machine can read, change and delete every task. Use it for development only.',
    );
  }
  if (metricsListener && !isLoopbackHost(options.metricsHost)) {
    warnings.push(
      `warning: metrics are served without a token on ${metricsListener.url}: they name every queue. Keep that port private (a firewall, or --metrics-host 127.0.0.1).`,
    );
  }
  if (!https && !isLoopbackHost(address.address)) {
    warnings.push(
      `warning: listening on ${address.address} without TLS: tokens and tasks cross the network in clear text. Serve HTTPS with --tls-cert and --tls-key, or bind 127.0.0.1 behind a reverse proxy that terminates TLS (docs/security.md).`,
    );
  }

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      server.beginShutdown();
      output.say('  ended waiting leases (they returned empty); readiness now fails');
      await server.app.close();
      await metricsListener?.close();
      output.say('  stopped accepting connections; in-flight requests finished');
      await store.backend.close();
      output.say(`  closed the store: ${store.description}`);
      logger.info('pullq serve stopped');
    })());
  return { url, metrics, store: store.description, logger, auth, warnings, stop };
}

/**
 * Where the log goes: pino's own stdout writer (JSON lines, for collectors) unless stdout is a
 * terminal, where each record becomes a readable line (`12:00:01 WARN  message key=value`).
 */
export async function logDestination(stdout: {
  isTTY?: boolean;
  write(text: string): unknown;
}): Promise<DestinationStream | undefined> {
  if (stdout.isTTY !== true) return undefined;
  // Loaded only on a terminal; it is the CLI's, shared with `pullq worker`.
  const { humanLogLine } = await import('./log-lines.ts');
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n'))
        if (line !== '') stdout.write(`${humanLogLine(line)}\n`);
    },
  };
}

/** The connection limits the options set; the rest keep the server's defaults. */
function connectionLimits(options: ServeOptions): ServerOptions['connections'] {
  return {
    ...(options.headersTimeoutSeconds === null
      ? {}
      : { headersTimeoutMs: options.headersTimeoutSeconds * 1000 }),
    ...(options.requestTimeoutSeconds === null
      ? {}
      : { requestTimeoutMs: options.requestTimeoutSeconds * 1000 }),
    ...(options.maxConnections === null ? {} : { maxConnections: options.maxConnections }),
  };
}

function readTlsFiles(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ServeStartError(
        `cannot read ${flag} ${file}: ${(error as Error).message}`,
        'check the path and that this user may read it',
        error,
      );
    }
  };
  return { cert: read('--tls-cert', tls.certFile), key: read('--tls-key', tls.keyFile) };
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The address a client on this machine uses: a wildcard bind is reached on loopback. */
function localUrl(scheme: string, address: AddressInfo): string {
  const host =
    address.address === '0.0.0.0'
      ? '127.0.0.1'
      : address.address === '::'
        ? '[::1]'
        : hostForUrl(address.address);
  return `${scheme}://${host}:${address.port}`;
}

/** Makes sure an admin token exists (src/auth/bootstrap.ts); returns what to tell the operator. */
async function bootstrap(
  tokens: TokenStore,
  options: ServeOptions,
  server: string,
): Promise<string[]> {
  const result = await bootstrapAdminToken({
    tokens,
    adminToken: options.adminToken,
    now: Date.now(),
    save: (token) =>
      saveCredentials(
        options,
        server,
        token,
        'nothing was stored. Set XDG_CONFIG_HOME to a writable folder, or set PULLQ_ADMIN_TOKEN',
      ),
  });
  switch (result.kind) {
    case 'existing':
      return [
        `auth: tokens required (${result.count} in the store; \`pullq token list\` shows them)`,
        ...(options.writeCredentials
          ? [
              '  --write-credentials: nothing written; the store keeps only hashes, so the admin token comes from PULLQ_ADMIN_TOKEN or not at all',
            ]
          : []),
      ];
    case 'generated':
      return [
        `auth: first start: created the admin token "${result.name}" and wrote it with this server's address to ${result.savedTo} (mode 0600)`,
        '  `pullq` commands run by this user on this machine now use it; it is shown nowhere else.',
        '  Give others their own tokens: `pullq token create --name NAME --role producer,consumer --queue PATTERN`',
      ];
    case 'environment': {
      const stored = result.replaced
        ? ` (stored now; it replaced the previous "${result.name}")`
        : result.created
          ? ' (stored now)'
          : '';
      const lines = [`auth: PULLQ_ADMIN_TOKEN is the admin token "${result.name}"${stored}`];
      if (options.writeCredentials && options.adminToken !== null) {
        const path = saveCredentials(
          options,
          server,
          options.adminToken,
          'set XDG_CONFIG_HOME to a writable folder, or leave out --write-credentials',
        );
        lines.push(`  wrote it with this server's address to ${path} (mode 0600)`);
      }
      return lines;
    }
  }
}

function saveCredentials(
  options: ServeOptions,
  server: string,
  token: string,
  advice: string,
): string {
  try {
    return writeCredentialsFile(options.credentialsFile, { server, token });
  } catch (error) {
    const reason = ((error as Error).cause as Error | undefined)?.message ?? String(error);
    throw new BootstrapError(
      `cannot write the admin token to ${options.credentialsFile} (${reason}); ${advice}`,
      { cause: error },
    );
  }
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
  if (options.tls && typeof code === 'string' && /^ERR_OSSL|^ERR_TLS/.test(code)) {
    return new ServeStartError(
      `cannot use the TLS certificate and key: ${(error as Error).message}`,
      '--tls-cert and --tls-key need a PEM certificate (chain) and its PEM private key',
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
  // One handler for both signals, in place before the address is printed: a script that
  // stops the server as soon as it reads the address must not meet the default handler.
  let received: NodeJS.Signals | null = null;
  let resolveSignal: (signal: NodeJS.Signals) => void = () => {};
  const firstSignal = new Promise<NodeJS.Signals>((resolve) => (resolveSignal = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received === null) {
      received = signal;
      resolveSignal(signal);
      return;
    }
    output.say(
      `pullq serve: ${signal} again: exiting now; requests in flight were cut off (their leased tasks come back when the leases run out)`,
    );
    process.exit(1);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  output.say(`pullq serve: listening on ${running.url}`);
  output.say(`  data: ${running.store}`);
  output.say(
    `  metrics: ${running.metrics.url}${running.metrics.needsToken ? ' (admin token)' : ' (no token)'}`,
  );
  for (const line of running.auth) output.say(`  ${line}`);
  output.say(
    `  stop: press Ctrl-C, or \`kill -TERM ${process.pid}\` (in-flight requests finish first)`,
  );
  for (const warning of running.warnings) output.say(warning);
  if (options.printAddressJson) output.emit(JSON.stringify({ listening: running.url }));

  const signal = await firstSignal;
  output.say(`pullq serve: ${signal} received, shutting down (send it again to force)`);
  await running.stop();
  output.say('pullq serve: stopped');
  process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  return 0;
}
