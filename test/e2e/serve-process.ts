/**
 * Runs the real `pullq` command as child processes: `pullq serve` (learning its port from the
 * `--print-address-json` line) and one-shot client commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const PULLQ_BIN = fileURLToPath(new URL('../../bin/pullq.mjs', import.meta.url));

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server printed so far on stderr (its words for people). */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `pullq serve --port 0 --print-address-json ...args` and waits until it listens. */
export async function startServe(args: string[], timeoutMs = 15_000): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [PULLQ_BIN, 'serve', '--port', '0', '--print-address-json', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
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
    env: { ...process.env, PULLQ_SERVER: '', PULLQ_TOKEN: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}
