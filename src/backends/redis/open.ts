/**
 * Opens the redis backend for a connection URL:
 * `redis://[user:password@]host[:port][/db][?prefix=name]`, or `rediss://` for TLS.
 * The database number defaults to 0 and the prefix to `pullq`. ioredis is loaded here, so a
 * missing driver is reported when the connection opens ("npm install ioredis").
 */
import type * as ioredis from 'ioredis';
import type { TransportSettings } from '../../client/registry.ts';
import { PullqError } from '../../protocol/errors.ts';
import type { Backend } from '../backend.ts';
import { loadOptional } from '../optional-dependency.ts';
import { RedisBackend, type RedisBackendOptions } from './redis-backend.ts';

const KNOWN_PARAMETERS = ['prefix'];

/** The backend options a redis:// or rediss:// URL stands for. */
export function redisOptionsFromUrl(url: URL): RedisBackendOptions {
  for (const name of url.searchParams.keys()) {
    if (!KNOWN_PARAMETERS.includes(name)) {
      throw new PullqError(
        'invalid_argument',
        `unknown parameter ${JSON.stringify(name)} in a redis URL; the known ones are: ${KNOWN_PARAMETERS.join(', ')}`,
        { details: { field: 'url' } },
      );
    }
  }
  const path = url.pathname.replace(/^\/+/, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) {
    throw new PullqError(
      'invalid_argument',
      `a redis URL names a database by its number (redis://host:6379/0), not ${JSON.stringify(path)}`,
      { details: { field: 'url' } },
    );
  }
  const prefix = url.searchParams.get('prefix');
  return {
    redis: {
      host: url.hostname === '' ? 'localhost' : url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? 6379 : Number(url.port),
      db: path === '' ? 0 : Number(path),
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    ...(prefix === null ? {} : { prefix }),
  };
}

export async function openRedis(settings: TransportSettings): Promise<Backend> {
  const options = redisOptionsFromUrl(settings.url);
  await loadOptional<typeof ioredis>('ioredis', 'the redis backend');
  return new RedisBackend(options);
}
