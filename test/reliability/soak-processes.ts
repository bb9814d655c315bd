/**
 * The real processes of the soak and how it reads them: the store the server runs on (a
 * SQLite file, a PostgreSQL schema or a Redis prefix of this run, dropped afterwards), the
 * `pullq worker` command with its children, the producer child, and the Prometheus text the
 * server and the worker serve (heap, processed count).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { NO_CONFIG_HOME, PULLQ_BIN, TEST_ADMIN_TOKEN, bearer } from '../e2e/serve-process.ts';
import type { ProducerCommand, ProducerProgress, ProducerSettings } from './soak-producer.ts';

export type StoreKind = 'sqlite' | 'postgres' | 'redis';

export interface Store {
  /** The `pullq serve` arguments that put its queues here. */
  serveArgs: string[];
  /** Deletes what the run left in the store. */
  drop(): Promise<void>;
}

const POSTGRES_URL =
  process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const NOOP_HANDLER = fileURLToPath(new URL('../worker/fixtures/noop.ts', import.meta.url));
const LEAKY_HANDLER = fileURLToPath(new URL('./soak-leaky-handler.ts', import.meta.url));
const PRODUCER = fileURLToPath(new URL('./soak-producer.ts', import.meta.url));

export async function prepareStore(kind: StoreKind): Promise<Store> {
  const run = `pq_soak_${process.pid}_${Date.now().toString(36)}`;
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-soak-'));
    return {
      serveArgs: ['--data', dir],
      drop: async () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (kind === 'postgres') {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('schema', run);
    return {
      serveArgs: ['--backend', url.href],
      drop: async () => {
        const client = new pg.Client(POSTGRES_URL);
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  }
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', run);
  return {
    serveArgs: ['--backend', url.href],
    drop: async () => {
      await dropPrefix({ url: REDIS_URL }, run);
    },
  };
}

/** The environment of a child: none of the caller's PULLQ_* settings leak in. */
function childEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('PULLQ_')) delete env[name];
  return { ...env, XDG_CONFIG_HOME: NO_CONFIG_HOME, ...extra };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** The worker's /metrics URL. */
  metricsUrl: string;
  stderr(): string;
  stdout(): string;
  exited: Promise<number | string>;
  /** Resolves once its output streams are closed too (all of stdout was read). */
  closed: Promise<unknown>;
}

/** `pullq worker noop.ts` on `queue`, with `processes` children; resolves once it serves its
 * metrics (its children are forked by then). With `leakBytes` > 0 the handler keeps that
 * many bytes per task instead (soak-leaky-handler.ts). */
export async function startWorker(
  serverUrl: string,
  queue: string,
  processes: number,
  concurrency: number,
  leakBytes = 0,
): Promise<WorkerProcess> {
  const handler = leakBytes > 0 ? LEAKY_HANDLER : NOOP_HANDLER;
  const args = [
    ...[PULLQ_BIN, 'worker', handler, '--queue', queue, '--server', serverUrl],
    ...['--token', TEST_ADMIN_TOKEN, '--processes', String(processes)],
    ...['--concurrency', String(concurrency), '--metrics-port', '0', '--no-status', '--json'],
    ...['--log-level', 'warn'],
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ SOAK_LEAK_BYTES: String(leakBytes) }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code, signal]) =>
    code === null ? String(signal) : Number(code),
  );
  const closed = once(child, 'close');
  const metricsUrl = await new Promise<string>((resolve, reject) => {
    // Forking the children and loading the handler take a few seconds on a loaded machine.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pullq worker did not serve its metrics in 30 s:\n${stderr}`));
    }, 30_000);
    const look = (): void => {
      const match = /metrics: (http:\/\/\S+\/metrics)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stderr.off('data', look);
        resolve(match[1]);
      }
    };
    child.stderr.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pullq worker exited (${code}) before it started:\n${stderr}`));
    });
  });
  return { child, metricsUrl, stderr: () => stderr, stdout: () => stdout, exited, closed };
}

export interface ProducerProcess {
  child: ChildProcess;
  /** Asks for the producer's counts. */
  progress(): Promise<ProducerProgress>;
  /** Stops sending, waits for the puts in flight, and returns the final counts. */
  stop(): Promise<ProducerProgress>;
}

export function startProducer(settings: ProducerSettings): ProducerProcess {
  // execArgv empty: under `node --test` the parent's flags would make the child a test run.
  const child = fork(PRODUCER, [], {
    execArgv: [],
    env: childEnv({ PULLQ_SOAK_PRODUCER: JSON.stringify(settings) }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = async (command: ProducerCommand, answer: ProducerProgress['type']) => {
    const reply = new Promise<ProducerProgress>((resolve, reject) => {
      const onMessage = (message: ProducerProgress): void => {
        if (message.type !== answer) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message);
      };
      const onExit = (code: number | null): void => {
        child.off('message', onMessage);
        reject(new Error(`the soak producer exited (${code}) before it answered`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    child.send(command);
    return reply;
  };
  return {
    child,
    progress: async () => ask({ type: 'sample' }, 'progress'),
    stop: async () => ask({ type: 'stop' }, 'done'),
  };
}

/** Ends a child we started: SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
export async function endChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** The value of the first sample of `name` whose labels contain `labels` (text as written
 * in the exposition, e.g. `outcome="processed"`); null when there is none. */
export function metricValue(text: string, name: string, labels = ''): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    return Number.isFinite(value) ? value : null;
  }
  return null;
}

export async function fetchText(url: string, token?: string): Promise<string> {
  const response = await fetch(url, { headers: token === undefined ? {} : bearer(token) });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return response.text();
}
