/**
 * What a published figure needs beside it: the machine, the exact versions (Node, the peer
 * packages, the pullq commit, the Redis and PostgreSQL servers and their durability
 * settings), read at the start of an invocation.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { POSTGRES_URL, REDIS_URL } from '../contenders/pullq.ts';

export interface Environment {
  date: string;
  node: string;
  os: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  loadAverageStart: number[];
  pullqCommit: string;
  /** Uncommitted changes in the checkout (anyone's) when the run started. */
  pullqDirty: boolean;
  packages: Record<string, string>;
  sqlite: string;
  redis: Record<string, string> | null;
  postgres: Record<string, string> | null;
}

const ROOT = new URL('../../', import.meta.url);

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The installed version, as node_modules holds it (the lockfile pins it exactly). */
export function packageVersion(name: string): string {
  try {
    const text = readFileSync(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function sqliteVersion(): string {
  const db = new DatabaseSync(':memory:');
  try {
    return (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}

async function redisFacts(): Promise<Record<string, string> | null> {
  try {
    const { Redis } = await import('ioredis');
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      const info = await client.info('server');
      const facts: Record<string, string> = {
        version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
      };
      for (const name of ['appendonly', 'appendfsync', 'save', 'maxmemory-policy']) {
        const [, value] = await client.config('GET', name);
        facts[name] = value ?? '';
      }
      return facts;
    } finally {
      client.disconnect();
    }
  } catch {
    return null;
  }
}

async function postgresFacts(): Promise<Record<string, string> | null> {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      const facts: Record<string, string> = {};
      for (const name of [
        'server_version',
        'synchronous_commit',
        'shared_buffers',
        'max_connections',
        'fsync',
      ]) {
        const result = await client.query<Record<string, string>>(`SHOW ${name}`);
        facts[name] = String(result.rows[0]?.[name] ?? '');
      }
      return facts;
    } finally {
      await client.end();
    }
  } catch {
    return null;
  }
}

export async function readEnvironment(brokers: ReadonlySet<string>): Promise<Environment> {
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    os: `${process.platform} ${release()}`,
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageStart: loadavg().map((value) => Math.round(value * 100) / 100),
    pullqCommit: git(['rev-parse', '--short=12', 'HEAD']),
    pullqDirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    packages: Object.fromEntries(
      ['bullmq', 'pg-boss', 'ioredis', 'pg', 'undici'].map((name) => [name, packageVersion(name)]),
    ),
    sqlite: sqliteVersion(),
    redis: brokers.has('redis-server') ? await redisFacts() : null,
    postgres: brokers.has('postgres') ? await postgresFacts() : null,
  };
}
