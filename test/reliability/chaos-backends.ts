/**
 * Where a chaos run keeps its queue: a fresh SQLite data folder, a fresh PostgreSQL schema
 * ($PULLQ_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test) or a fresh Redis
 * key prefix ($PULLQ_TEST_REDIS_URL, default redis://127.0.0.1:6379), dropped at the end.
 * `unreachable` says why PostgreSQL or Redis cannot be used, so that a caller can fail (under
 * CI=true) or skip.
 */
import { join } from 'node:path';
import pg from 'pg';
import { dropPrefix } from '../../src/backends/redis/drop-prefix.ts';
import { redisOptionsFromUrl } from '../../src/backends/redis/open.ts';

export const BACKENDS = ['sqlite', 'postgres', 'redis'] as const;
export type BackendName = (typeof BACKENDS)[number];

const POSTGRES_URL =
  process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['PULLQ_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface Store {
  /** The `pullq serve` arguments that select it. */
  args: string[];
  drop(): Promise<void>;
}

/** A store of its own for one run; `name` is unique to the run (letters, digits, `_`). */
export function storeFor(backend: BackendName, dir: string, name: string): Store {
  switch (backend) {
    case 'sqlite':
      // The folder goes with the run's folder.
      return { args: ['--data', join(dir, 'data')], drop: async () => {} };
    case 'postgres':
      return {
        args: ['--backend', withParameter(POSTGRES_URL, 'schema', name)],
        drop: async () => {
          await sql(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
        },
      };
    case 'redis':
      return {
        args: ['--backend', withParameter(REDIS_URL, 'prefix', name)],
        drop: async () => {
          await dropPrefix(redisOptionsFromUrl(new URL(REDIS_URL)), name);
        },
      };
  }
}

/** Why the backend cannot be used here, or null when it can. */
export async function unreachable(backend: BackendName): Promise<string | null> {
  try {
    if (backend === 'postgres') await sql('SELECT 1');
    if (backend === 'redis') {
      await dropPrefix(redisOptionsFromUrl(new URL(REDIS_URL)), `chaos-probe-${process.pid}`);
    }
    return null;
  } catch (error) {
    const url = backend === 'postgres' ? POSTGRES_URL : REDIS_URL;
    return `${backend} at ${url} cannot be reached: ${String(error)}`;
  }
}

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function withParameter(url: string, name: string, value: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${name}=${value}`;
}
