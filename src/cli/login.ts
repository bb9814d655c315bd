/**
 * `pullq login --server URL [--token T]`: checks a token against a server and saves both in
 * the credentials file, where every later command finds them (the seed's
 * `pullqueue_authenticate`). Without --token it asks on a terminal, without echo, or reads
 * one line from stdin: a token typed on the command line stays in the shell's history.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import {
  CredentialsError,
  resolveClientCredentials,
  writeCredentials,
} from '../auth/credentials.ts';
import { isPullqError } from '../protocol/errors.ts';
import { commandPath } from './client.ts';
import { UsageError, reportError } from './errors.ts';
import { note } from './output.ts';

interface LoginFlags {
  server?: string;
  token?: string;
}

export function loginCommand(): Command {
  return new Command('login')
    .description(
      'check a token against a server and save both in the credentials file for later commands',
    )
    .option(
      '--server <url>',
      'the pullq server (default: PULLQ_SERVER, else the one in the credentials file)',
    )
    .option('--token <token>', 'the token (default: asked for, or one line read from stdin)')
    .action(async (flags: LoginFlags, self: Command) => {
      process.exitCode = await login(flags, commandPath(self));
    });
}

async function login(flags: LoginFlags, command: string): Promise<number> {
  let server: string;
  let token: string;
  try {
    server = resolveClientCredentials({ server: flags.server }, process.env).server;
    if (!/^https?:\/\/[^/]+/.test(server)) {
      throw new UsageError(`--server must be an http(s) URL, got ${JSON.stringify(server)}`);
    }
    token = (flags.token ?? (await readToken(server))).trim();
    if (token === '') throw new UsageError('no token given');
  } catch (error) {
    return reportError(error instanceof CredentialsError ? new UsageError(error.message) : error, {
      command,
    });
  }

  const { HttpBackend } = await import('../backends/http.ts');
  const backend = new HttpBackend({ url: server, token });
  try {
    // Any valid token may list queues (it sees those its pattern covers). A 403 still means
    // the server knows the token.
    await backend.listQueues().catch((error: unknown) => {
      if (!isPullqError(error, 'permission_denied')) throw error;
    });
  } catch (error) {
    if (isPullqError(error, 'unauthenticated')) {
      process.stderr.write(`error: unauthenticated: ${server} refused this token\n`);
      process.stderr.write(
        'hint: it may be revoked, expired or mistyped; nothing was saved. An admin can make a new one with `pullq token create`\n',
      );
      return 1;
    }
    return reportError(error, { server, command });
  } finally {
    await backend.close();
  }

  let path: string;
  try {
    path = writeCredentials(process.env, { server, token });
  } catch (error) {
    return reportError(error, { command });
  }
  note(`logged in to ${server}; saved server and token to ${path} (mode 0600)`);
  for (const name of ['PULLQ_SERVER', 'PULLQ_TOKEN'] as const) {
    if (process.env[name]) {
      note(`note: ${name} is set in this shell and goes before the credentials file`);
    }
  }
  return 0;
}

async function readToken(server: string): Promise<string> {
  if (process.stdin.isTTY) return promptHidden(`token for ${server}: `);
  return readLine();
}

/** The first line of stdin (a pipe or a file). */
async function readLine(): Promise<string> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) return line;
    return '';
  } finally {
    lines.close();
  }
}

/** Reads a line from the terminal without showing it. */
async function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  // Echo goes off before the question shows: nothing typed after it is ever displayed.
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  process.stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new UsageError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}
