/** `pullq serve`: the command line of the server; the process itself is src/server/serve.ts. */
import { Command } from 'commander';
import {
  DEFAULT_SERVE_OPTIONS,
  LOG_LEVELS,
  ServeConfigError,
  ServeStartError,
  resolveServeOptions,
  runServe,
  type ServeFlags,
} from '../server/serve.ts';
import { UsageError, reportError } from './errors.ts';

export function serveCommand(): Command {
  const defaults = DEFAULT_SERVE_OPTIONS;
  return new Command('serve')
    .description(
      'run a pullq server (SQLite in --data by default); the first start creates an admin token and writes it to the credentials file (env PULLQ_ADMIN_TOKEN sets it instead)',
    )
    .option('--host <host>', `interface to bind (env PULLQ_HOST; default ${defaults.host})`)
    .option('--port <port>', `port, 0 for any free one (env PULLQ_PORT; default ${defaults.port})`)
    .option('--data <dir>', `data directory (env PULLQ_DATA; default ${defaults.dataDir})`)
    .option(
      '--backend <url>',
      'store instead of --data: memory:// (nothing kept), sqlite:///path/to/file.db, postgres://user@host:port/db[?schema=] or redis://host:port[?prefix=]',
    )
    .option('--no-auto-create', 'answer queue_not_found to inserts into unknown queues')
    .option(
      '--log-level <level>',
      `log on stdout, readable on a terminal and JSON otherwise: ${LOG_LEVELS.join(', ')} (default ${defaults.logLevel})`,
    )
    .option(
      '--synchronous <mode>',
      `SQLite durability: NORMAL survives a process crash, FULL also a power loss (default ${defaults.synchronous})`,
    )
    .option('--print-address-json', 'print {"listening":"http://HOST:PORT"} on stdout once bound')
    .option(
      '--no-auth',
      'serve without tokens: anyone who reaches the port may do anything (loopback --host only)',
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--max-body <bytes>',
      `largest request body (env PULLQ_MAX_BODY; default ${32 * 1024 * 1024}, 32 MiB)`,
    )
    .option(
      '--rate-limit <n>',
      'requests per second per token, then 429 with Retry-After (env PULLQ_RATE_LIMIT; default none)',
    )
    .option(
      '--metrics-port <port>',
      'serve Prometheus /metrics on this port without a token, instead of on --port for admin tokens (env PULLQ_METRICS_PORT; 0: a free port)',
    )
    .option(
      '--metrics-host <host>',
      'interface of --metrics-port (env PULLQ_METRICS_HOST; default 127.0.0.1)',
    )
    .option(
      '--headers-timeout <seconds>',
      'answer 408 and close a connection whose request headers have not all arrived after this long (env PULLQ_HEADERS_TIMEOUT; default 20)',
    )
    .option(
      '--request-timeout <seconds>',
      'the same for the whole request, body included; a long-poll is not cut (env PULLQ_REQUEST_TIMEOUT; default 120)',
    )
    .option(
      '--max-connections <n>',
      'open connections at most; past it new ones are closed, and idle ones closed to make room (env PULLQ_MAX_CONNECTIONS; default 10000)',
    )
    .option(
      '--write-credentials',
      'with PULLQ_ADMIN_TOKEN: also write it to the credentials file, as a first start does',
    )
    .action(async (flags: ServeFlags) => {
      try {
        const options = resolveServeOptions(flags, process.env);
        process.exitCode = await runServe(options);
      } catch (error) {
        if (error instanceof ServeConfigError) {
          process.exitCode = reportError(new UsageError(error.message), { command: 'serve' });
        } else if (error instanceof ServeStartError) {
          process.stderr.write(`error: ${error.message}\nhint: ${error.hint}\n`);
          process.exitCode = 1;
        } else {
          process.exitCode = reportError(error, { command: 'serve' });
        }
      }
    });
}
