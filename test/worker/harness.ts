/**
 * What the worker tests share: a real `pullq serve` on a temp data dir, connections to it,
 * the record fixture's output file, and checks that no process is left running.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { Connection } from '../../src/client/connection.ts';
import type { Worker } from '../../src/worker/worker.ts';
import { startServe, TEST_ADMIN_TOKEN, type ServeProcess } from '../e2e/serve-process.ts';

export const RECORD_HANDLER = fileURLToPath(new URL('./fixtures/record.ts', import.meta.url));

export interface Harness {
  server: ServeProcess;
  dir: string;
  connection(): Connection;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'pullq-worker-'));
  const server = await startServe(['--data', join(dir, 'data')]);
  const connections: Connection[] = [];
  return {
    server,
    dir,
    connection: () => {
      const connection = new Connection(server.url, { token: TEST_ADMIN_TOKEN });
      connections.push(connection);
      return connection;
    },
    close: async () => {
      await Promise.all(connections.map(async (connection) => connection.close()));
      await server.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Attempt {
  id: string;
  attempt: number;
  at: number;
  pid: number;
}

/** The attempts the record fixture wrote. */
export function attempts(file: string): Attempt[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [id, attempt, at, pid] = line.split(' ');
      return { id: id ?? '', attempt: Number(attempt), at: Number(at), pid: Number(pid) };
    });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function assertAllGone(pids: Iterable<number>): void {
  for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} is still running`);
}

/** Polls `check` every 20 ms until it holds or `ms` passed. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface WorkerSuite {
  /** The suite's server and connections (started before its first test). */
  readonly harness: Harness;
  /** Child pids seen; after the suite, none may still run. */
  readonly pids: Set<number>;
  /** Records the worker's children, and force-stops it after the suite if a test did not. */
  track(worker: Worker): Worker;
}

/** Call inside a describe: starts the harness before its tests and cleans up after them. */
export function workerSuite(): WorkerSuite {
  let harness: Harness | undefined;
  const pids = new Set<number>();
  const workers: Worker[] = [];
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await Promise.all(workers.map(async (worker) => worker.stop({ force: true })));
    await harness?.close();
    assertAllGone(pids);
  });
  return {
    get harness() {
      assert.ok(harness, 'the harness did not start');
      return harness;
    },
    pids,
    track(worker) {
      workers.push(worker);
      worker.on('child-start', ({ pid }) => pids.add(pid));
      return worker;
    },
  };
}
