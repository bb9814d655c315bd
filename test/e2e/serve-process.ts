/**
 * Runs the real `pullq` command as child processes: `pullq serve` (learning its port from the
 * `--print-address-json` line) and one-shot client commands.
 *
 * Servers start with authentication on, as in production, with `TEST_ADMIN_TOKEN` as their
 * admin token (PULLQ_ADMIN_TOKEN) unless a test passes its own environment. Every process
 * gets XDG_CONFIG_HOME pointed at a folder that does not exist, so no test reads or writes the
 * credentials file of the person running the tests; tests of that file pass their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PULLQ_BIN = fileURLToPath(new URL('../../bin/pullq.mjs', import.meta.url));

/** The bootstrap admin token of test servers: not a secret, only ever on loopback. */
export const TEST_ADMIN_TOKEN = 'pq_e2e-admin-token-for-tests-only';

/** Never created: a credentials file is neither read from nor written to the real ~/.config. */
export const NO_CONFIG_HOME = join(tmpdir(), `pullq-e2e-no-config-${process.pid}`);

/** The environment of a child: no PULLQ_* or XDG_CONFIG_HOME of the caller's leaks in. */
function childEnv(overrides: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
  return { ...env, XDG_CONFIG_HOME: NO_CONFIG_HOME, ...overrides };
}

/** `authorization: Bearer <token>` for fetch. */
export function bearer(token: string = TEST_ADMIN_TOKEN): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

export interface ServeProcess {
  url: string;
  /** PULLQ_ADMIN_TOKEN of this server, or null when it ran without one. */
  adminToken: string | null;
  child: ChildProcess;
  /** Everything the server printed so far on stderr (its words for people). */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface ServeStartOptions {
  /** Added to the child's environment; `PULLQ_ADMIN_TOKEN: ''` starts without one. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Starts `pullq serve --port 0 --print-address-json ...args` and waits until it listens. */
export async function startServe(
  args: string[],
  options: ServeStartOptions = {},
): Promise<ServeProcess> {
  // Generous: under CI's load (or other jobs on a 2-core machine) a start can take seconds.
  const timeoutMs = options.timeoutMs ?? 30_000;
  const env = childEnv({ PULLQ_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...options.env });
  const child = spawn(
    process.execPath,
    [PULLQ_BIN, 'serve', '--port', '0', '--print-address-json', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) =>
    code === null ? String(signal) : Number(code),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server left running would keep the test process alive after the failure.
      child.kill('SIGKILL');
      reject(new Error(`pullq serve did not print its address in ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    const look = (): void => {
      const match = /\{"listening":"([^"]+)"\}/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pullq serve exited (${code}) before listening:\n${stderr}`));
    });
  });
  return {
    url,
    adminToken: env['PULLQ_ADMIN_TOKEN'] || null,
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pullq ...args` to its end. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string | Buffer } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [PULLQ_BIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: childEnv(options.env),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}
