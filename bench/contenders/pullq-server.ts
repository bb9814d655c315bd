/**
 * `pullq serve` in its own process for a benchmark run, as a deployment runs it: an admin
 * token required on every request, warnings-only logs, port chosen by the system.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const PULLQ_BIN = fileURLToPath(new URL('../../bin/pullq.mjs', import.meta.url));
/** A start on a loaded 2-core machine (migrations included) can take seconds. */
const START_TIMEOUT_MS = 60_000;

export interface PullqServer {
  url: string;
  token: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `pullq serve` with the store arguments (`--data DIR` or `--backend URL`); its config
 * folder is `configHome`, so the user's credentials file is never read or written.
 */
export async function startPullqServer(store: string[], configHome: string): Promise<PullqServer> {
  const token = `pq_${randomBytes(32).toString('base64url')}`;
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
  const child = spawn(
    process.execPath,
    [PULLQ_BIN, 'serve', '--port', '0', ...store, '--print-address-json', '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, PULLQ_ADMIN_TOKEN: token, XDG_CONFIG_HOME: configHome },
    },
  );
  // Kept for the error of a server that does not start; its banner and shutdown notes would
  // only bury the benchmark's progress lines.
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  const exited = once(child, 'exit');
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pullq serve did not listen in ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /\{"listening":"([^"]+)"\}/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`pullq serve exited before listening:\n${stderr}`));
    });
  });
  return {
    url,
    token,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
