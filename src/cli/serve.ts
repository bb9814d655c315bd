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
    .description('run a pullq server (SQLite in --data by default)')
    .option('--host <host>', `interface to bind (env PULLQ_HOST; default ${defaults.host})`)
    .option('--port <port>', `port, 0 for any free one (env PULLQ_PORT; default ${defaults.port})`)
    .option('--data <dir>', `data directory (env PULLQ_DATA; default ${defaults.dataDir})`)
    .option(
      '--backend <url>',
      'store instead of --data: memory:// (nothing kept) or sqlite:///path/to/file.db',
    )
    .option('--no-auto-create', 'answer queue_not_found to inserts into unknown queues')
    .option(
      '--log-level <level>',
      `JSON log on stdout: ${LOG_LEVELS.join(', ')} (default ${defaults.logLevel})`,
    )
    .option(
      '--synchronous <mode>',
      `SQLite durability: NORMAL survives a process crash, FULL also a power loss (default ${defaults.synchronous})`,
    )
    .option('--print-address-json', 'print {"listening":"http://HOST:PORT"} on stdout once bound')
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
