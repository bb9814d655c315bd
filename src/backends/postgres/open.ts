/**
 * Opens the postgres backend for a connection URL (`new Connection('postgres://...')`,
 * `pullq serve --backend postgres://...`):
 *
 *   postgres://user:password@host:port/database?schema=pullq&poolSize=10&connectTimeoutMs=5000
 *
 * pullq's own parameters, taken out of the URL before it reaches the driver:
 * - `schema`: where pullq's tables live (default `pullq`; created when missing). Servers and
 *   workers that share queues use the same schema; another schema is another set of queues.
 * - `poolSize`: connections this process opens (default 10), plus one for LISTEN.
 * - `connectTimeoutMs`: how long opening a connection may take (default 5000).
 * Every other parameter goes to the `pg` driver as it is: `sslmode`, `application_name`,
 * `options`... (see node-postgres's connection string documentation). `postgresql://` works
 * the same.
 */
import type { TransportSettings } from '../../client/registry.ts';
import { PullqError } from '../../protocol/errors.ts';
import type { Backend } from '../backend.ts';
import { PostgresBackend, type PostgresBackendOptions } from './postgres-backend.ts';

const OWN_PARAMETERS = ['schema', 'poolSize', 'connectTimeoutMs'] as const;

function wholeNumber(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new PullqError(
      'invalid_argument',
      `the postgres URL parameter ${name} must be a whole number, got ${JSON.stringify(text)}`,
      { details: { field: name } },
    );
  }
  return value;
}

/** The backend options a postgres:// URL stands for. */
export function postgresOptions(href: string): PostgresBackendOptions {
  const url = new URL(href);
  const schema = url.searchParams.get('schema') ?? undefined;
  const poolSize = wholeNumber(url, 'poolSize');
  const connectTimeoutMs = wholeNumber(url, 'connectTimeoutMs');
  for (const name of OWN_PARAMETERS) url.searchParams.delete(name);
  return {
    connection: url.href,
    ...(schema === undefined ? {} : { schema }),
    ...(poolSize === undefined ? {} : { poolSize }),
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
  };
}

export async function openPostgres(settings: TransportSettings): Promise<Backend> {
  return PostgresBackend.open(postgresOptions(settings.href));
}
