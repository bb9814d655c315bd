/**
 * Opening the NATS JetStream transport: `connectNats(options)` in code, or a Connection URL
 *
 *   nats://[user:pass@ | token@]host[:port][?prefix=pullq&ackWait=30&replicas=1&tls=true&ca=/path]
 *
 * - user and password, or a token alone before the `@`, are the NATS server's credentials.
 * - `prefix` (default `pullq`) starts every stream name (`<prefix>_<queue>`) and subject
 *   (`<prefix>.<queue>.…`): two prefixes on one server are two separate sets of queues.
 * - `ackWait` (seconds, default 30): the ack wait of the consumers of queues this connection
 *   creates: how soon a task comes back when the process holding its lease dies.
 * - `replicas` (default 1): stream replicas of queues this connection creates (a cluster).
 * - TLS: `tls=true`, or any of `ca`, `cert`, `key` (file paths), turns it on. (`tls://` URLs
 *   are not registered as a scheme; the query option does the same.)
 * Port 4222 when none is given. The Connection's `timeoutMs` bounds each request to NATS.
 */
import type { TransportSettings } from '../../client/registry.ts';
import { systemClock, type Clock } from '../backend.ts';
import { PullqError } from '../../protocol/errors.ts';
import { checkInt } from '../../protocol/limits.ts';
import { loadNatsDrivers } from './drivers.ts';
import { natsError } from './errors.ts';
import { checkPrefix } from './layout.ts';
import { NatsBackend } from './nats-backend.ts';

export interface NatsBackendOptions {
  /** `host:port` or `nats://host:port`, or several (a cluster). */
  servers: string | string[];
  user?: string;
  pass?: string;
  token?: string;
  /** true, or file paths; false or absent: as the server asks. */
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string };
  /** Starts stream names and subjects. Default 'pullq'. */
  prefix?: string;
  /** Ack wait of consumers this backend creates, seconds (1 to 3600). Default 30. */
  ackWaitSeconds?: number;
  /** Replicas of streams this backend creates (1 to 5). Default 1. */
  replicas?: number;
  /** Per request to NATS, ms. Default 30000. */
  timeoutMs?: number;
  clock?: Clock;
}

export const NATS_DEFAULTS = {
  prefix: 'pullq',
  ackWaitSeconds: 30,
  replicas: 1,
  timeoutMs: 30_000,
} as const;

/** Connects to NATS, checks that JetStream answers, and returns the backend. */
export async function connectNats(options: NatsBackendOptions): Promise<NatsBackend> {
  const prefix = options.prefix ?? NATS_DEFAULTS.prefix;
  checkPrefix(prefix);
  const ackWaitSeconds = options.ackWaitSeconds ?? NATS_DEFAULTS.ackWaitSeconds;
  checkInt(ackWaitSeconds, 'ackWait', 1, 3600);
  const replicas = options.replicas ?? NATS_DEFAULTS.replicas;
  checkInt(replicas, 'replicas', 1, 5);
  const timeoutMs = options.timeoutMs ?? NATS_DEFAULTS.timeoutMs;
  const drivers = await loadNatsDrivers();
  const servers = options.servers;
  const where = Array.isArray(servers) ? servers.join(',') : servers;
  const tls =
    options.tls === undefined || options.tls === false
      ? {}
      : { tls: options.tls === true ? {} : options.tls };
  let nc;
  try {
    nc = await drivers.transport.connect({
      servers,
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.pass === undefined ? {} : { pass: options.pass }),
      ...(options.token === undefined ? {} : { token: options.token }),
      ...tls,
      name: 'pullq',
      timeout: Math.min(timeoutMs, 10_000),
      // Reconnect for as long as it takes; calls fail `unavailable` meanwhile.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    });
  } catch (error) {
    throw natsError(error, `connecting to NATS at ${where}`);
  }
  try {
    const jsm = await drivers.jetstream.jetstreamManager(nc, { timeout: timeoutMs });
    const js = drivers.jetstream.jetstream(nc, { timeout: timeoutMs });
    return new NatsBackend({
      nc,
      jsm,
      js,
      drivers,
      prefix,
      ackWaitSeconds,
      replicas,
      timeoutMs,
      clock: options.clock ?? systemClock,
    });
  } catch (error) {
    await nc.close();
    if (error instanceof Error && error.name === 'JetStreamNotEnabled') {
      throw new PullqError(
        'unsupported',
        `the NATS server at ${where} has no JetStream: start it with -js (or a jetstream block in its configuration)`,
        { cause: error },
      );
    }
    throw natsError(error, `opening JetStream at ${where}`);
  }
}

/** The transport's opener: a `nats://` URL and the Connection's settings. */
export async function openNats(settings: TransportSettings): Promise<NatsBackend> {
  return connectNats(natsOptionsFromUrl(settings.url, settings.timeoutMs));
}

export function natsOptionsFromUrl(url: URL, timeoutMs: number): NatsBackendOptions {
  const query = url.searchParams;
  const known = new Set(['prefix', 'ackWait', 'replicas', 'tls', 'ca', 'cert', 'key']);
  for (const key of query.keys()) {
    if (!known.has(key)) {
      throw new PullqError(
        'invalid_argument',
        `unknown nats URL option ${JSON.stringify(key)}: the options are ${[...known].join(', ')}`,
        { details: { field: 'url', option: key } },
      );
    }
  }
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const auth = user === '' ? {} : pass === '' ? { token: user } : { user, pass };
  const files = {
    ...(query.has('ca') ? { caFile: query.get('ca') ?? '' } : {}),
    ...(query.has('cert') ? { certFile: query.get('cert') ?? '' } : {}),
    ...(query.has('key') ? { keyFile: query.get('key') ?? '' } : {}),
  };
  const tlsFlag = query.get('tls');
  const tls = Object.keys(files).length > 0 ? files : tlsFlag === 'true' || tlsFlag === '1';
  return {
    servers: `${url.hostname}:${url.port === '' ? '4222' : url.port}`,
    ...auth,
    tls,
    ...(query.has('prefix') ? { prefix: query.get('prefix') ?? '' } : {}),
    ...(query.has('ackWait') ? { ackWaitSeconds: numberOption(query, 'ackWait') } : {}),
    ...(query.has('replicas') ? { replicas: numberOption(query, 'replicas') } : {}),
    timeoutMs,
  };
}

function numberOption(query: URLSearchParams, name: string): number {
  const value = Number(query.get(name));
  if (!Number.isSafeInteger(value)) {
    throw new PullqError('invalid_argument', `nats URL option ${name} must be an integer`, {
      details: { field: 'url', option: name },
    });
  }
  return value;
}
