/**
 * What every client command shares: `--server`, `--token` and `--json`, resolved once here
 * (flags, then PULLQ_SERVER / PULLQ_TOKEN, then the credentials file, then defaults), and one
 * HttpBackend per run, always closed.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  DEFAULT_SERVER,
  CredentialsError,
  resolveClientCredentials,
  type ClientCredentials,
} from '../auth/credentials.ts';
import type { Backend } from '../backends/backend.ts';
import { UsageError, reportError, type ErrorContext } from './errors.ts';

export { DEFAULT_SERVER };

export interface ClientFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

export interface ClientSettings {
  server: string;
  token: string | undefined;
  json: boolean;
  /** Where server and token came from, for the hints of a 401. */
  credentials: ClientCredentials;
}

export function resolveClientSettings(
  flags: ClientFlags,
  env: Record<string, string | undefined>,
): ClientSettings {
  let credentials: ClientCredentials;
  try {
    credentials = resolveClientCredentials(flags, env);
  } catch (error) {
    if (error instanceof CredentialsError) throw new UsageError(error.message);
    throw error;
  }
  if (!/^https?:\/\/[^/]+/.test(credentials.server)) {
    throw new UsageError(
      `--server must be an http(s) URL, got ${JSON.stringify(credentials.server)}`,
    );
  }
  return {
    server: credentials.server,
    token: credentials.token,
    json: flags.json ?? false,
    credentials,
  };
}

export function addClientOptions(command: Command): Command {
  return command
    .option(
      '--server <url>',
      `the pullq server (env PULLQ_SERVER, else the credentials file; default ${DEFAULT_SERVER})`,
    )
    .option(
      '--token <token>',
      'bearer token (env PULLQ_TOKEN, else the credentials file written by `pullq login`)',
    )
    .option('--json', 'print JSON for scripts instead of tables');
}

/** What a failure report needs to give the right hint. */
export function errorContext(command: Command, settings: ClientSettings): ErrorContext {
  return {
    server: settings.server,
    command: commandPath(command),
    tokenSource: settings.credentials.tokenSource,
    credentialsFile: settings.credentials.file,
  };
}

/**
 * Runs a client command: builds the backend, runs `body`, closes the backend, and turns a
 * failure into the one-line error and exit code.
 */
export async function runClient(
  command: Command,
  body: (backend: Backend, settings: ClientSettings) => Promise<number | void>,
): Promise<void> {
  let settings: ClientSettings;
  try {
    settings = resolveClientSettings(command.opts<ClientFlags>(), process.env);
  } catch (error) {
    process.exitCode = reportError(error, { command: commandPath(command) });
    return;
  }
  const context = errorContext(command, settings);
  // Loaded here, not at the top: `pullq serve` never needs the HTTP client.
  const { HttpBackend } = await import('../backends/http.ts');
  let backend: Backend;
  try {
    backend = new HttpBackend({
      url: settings.server,
      ...(settings.token === undefined ? {} : { token: settings.token }),
    });
  } catch (error) {
    process.exitCode = reportError(error, context);
    return;
  }
  try {
    const code = await body(backend, settings);
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  } catch (error) {
    process.exitCode = reportError(error, context);
  } finally {
    await backend.close();
  }
}

/** "queue create" for `pullq queue create`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current?.parent; current = current.parent) {
    names.unshift(current.name());
  }
  return names.join(' ');
}

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (
      !/^-?\d+$/.test(value.trim()) ||
      !Number.isSafeInteger(number) ||
      number < min ||
      number > max
    ) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return number;
  };
}

export function secondsOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max) {
      throw new InvalidArgumentError(`${name} must be a number of seconds from ${min} to ${max}`);
    }
    return number;
  };
}

/**
 * `N` or `none` (for settings where null means "no limit" or "not set"). Returns the string
 * `none` rather than null: commander turns a parser's null into an empty string.
 */
export function intOrNoneOption(name: string, min: number, max: number) {
  const parseInt = intOption(name, min, max);
  return (value: string): number | 'none' => (value === 'none' ? 'none' : parseInt(value));
}
