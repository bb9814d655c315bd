/**
 * The `pullq serve` of a chaos run: one real process at a time on a port fixed for the whole
 * run, so that clients reconnect to the same URL after each restart. `kill()` sends SIGKILL
 * and waits for the exit; `start()` starts it again. An exit nobody asked for is a crash: it
 * is counted and recorded (`X`), and the next `start()` brings the server back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerWriter } from './chaos-ledger.ts';

const PULLQ_BIN = fileURLToPath(new URL('../../bin/pullq.mjs', import.meta.url));

/** A start takes ~0.7 s here; 60 s covers a machine loaded by other jobs many times over. */
const START_TIMEOUT_MS = 60_000;
/** The last this much of the server's stderr is kept for a failure's message. */
const STDERR_KEEP = 8192;

export interface ChaosServerOptions {
  /** `--data <dir>` or `--backend <url>`. */
  storeArgs: string[];
  adminToken: string;
  /** The run's folder: XDG_CONFIG_HOME points into it, so no credentials file is touched. */
  dir: string;
  ledger: LedgerWriter;
}

export class ChaosServer {
  readonly #options: ChaosServerOptions;
  #port = 0;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #killing = false;
  #stderr = '';
  crashes = 0;
  /** Every server process started, for the check that none is left running. */
  readonly pids: number[] = [];

  constructor(options: ChaosServerOptions) {
    this.#options = options;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** The server's last words on stderr, for failure messages. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Starts the server (on a free port the first time, the same port after) and waits until
   * it listens. */
  async start(): Promise<void> {
    if (this.#child !== null) throw new Error('the chaos server is running already');
    if (this.#port === 0) this.#port = await freePort();
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
    const args = [
      ...[PULLQ_BIN, 'serve', '--host', '127.0.0.1', '--port', String(this.#port)],
      ...['--print-address-json', '--log-level', 'warn', ...this.#options.storeArgs],
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        PULLQ_ADMIN_TOKEN: this.#options.adminToken,
        XDG_CONFIG_HOME: join(this.#options.dir, 'config'),
      },
    });
    this.#child = child;
    if (child.pid !== undefined) this.pids.push(child.pid);
    this.#killing = false;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEEP);
    });
    this.#exited = once(child, 'exit').then(([code]) => {
      if (!this.#killing) {
        this.crashes += 1;
        this.#options.ledger.write('X', {
          id: 'server',
          pid: child.pid ?? -1,
          flag: typeof code === 'number' ? code : -1,
        });
      }
      if (this.#child === child) this.#child = null;
    });
    await new Promise<void>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`pullq serve did not listen in ${START_TIMEOUT_MS} ms:\n${this.#stderr}`));
      }, START_TIMEOUT_MS);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('{"listening":')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`pullq serve exited before listening:\n${this.#stderr}`));
      });
    });
    this.#options.ledger.write('U', { id: 'server', pid: child.pid ?? -1 });
  }

  /** SIGKILL, recorded (`K`) before it is sent; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#killing = true;
    this.#options.ledger.write('K', { id: 'server', pid: child.pid ?? -1 });
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** The end of the run: SIGTERM (in-flight requests finish), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#killing = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}
