/**
 * The built-in transports:
 * - `memory://`: a store of this connection's own, gone when it closes; `memory://name`: a
 *   store of this process shared by every connection to that name.
 * - `sqlite:///absolute/path.db`, `sqlite://relative/path.db`: an embedded database, no
 *   server; `?synchronous=FULL` for fsync on every commit.
 * - `pullq://host:port`, `pullqs://` (TLS), `http://`, `https://`: a pullq server; with
 *   `protocol: 'v1beta2'` any App Engine Task Queue v1beta2 server.
 * - `postgres://`, `redis://`: straight to the database a pullq server would use, no server.
 * - `amqp://` (RabbitMQ), `nats://` (JetStream): brokers with their own semantics; what they
 *   cannot do is declared in their capabilities.
 * The last four load their driver (an optional peer dependency) only when used.
 */
import type { Backend } from '../backends/backend.ts';
import { HttpBackend } from '../backends/http.ts';
import { MemoryBackend } from '../backends/memory.ts';
import { SqliteBackend } from '../backends/sqlite/sqlite-backend.ts';
import { V1beta2Backend } from '../backends/v1beta2-http.ts';
import { PullqError } from '../protocol/errors.ts';
import { registerTransport, type TransportSettings } from './registry.ts';

/** Named memory stores live as long as the process, like kombu's memory transport: a
 * producer and a consumer meet there whichever connects first, and whenever. */
const namedMemory = new Map<string, MemoryBackend>();

function openMemory({ url }: TransportSettings): Backend {
  const name = url.host + url.pathname.replace(/^\/+$/, '');
  if (name === '') return new MemoryBackend();
  let store = namedMemory.get(name);
  if (store === undefined) {
    store = new MemoryBackend();
    namedMemory.set(name, store);
  }
  return unclosable(store);
}

/** A handle on a shared store: closing the connection leaves the store open for the others. */
function unclosable(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, property) {
      if (property === 'close') return async () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

function openSqlite({ href, url }: TransportSettings): Backend {
  const rest = href.slice('sqlite://'.length).split('?')[0] ?? '';
  const path = decodeURIComponent(rest);
  if (path === '') {
    throw new PullqError(
      'invalid_argument',
      'a sqlite URL names a file: sqlite:///absolute/path.db or sqlite://relative/path.db',
      { details: { field: 'url' } },
    );
  }
  const synchronous = url.searchParams.get('synchronous')?.toUpperCase();
  return new SqliteBackend({
    path,
    ...(synchronous === undefined ? {} : { synchronous: synchronous as 'NORMAL' | 'FULL' }),
  });
}

function openServer(settings: TransportSettings): Backend {
  const { url, token, timeoutMs } = settings;
  const scheme = url.protocol === 'pullqs:' || url.protocol === 'https:' ? 'https' : 'http';
  const root = `${scheme}://${url.host}${url.pathname}`;
  const auth = token === undefined ? {} : { token };
  if (settings.protocol === 'v1beta2') {
    if (settings.project === undefined || settings.project === '') {
      throw new PullqError(
        'invalid_argument',
        "protocol 'v1beta2' needs a project: new Connection(url, { protocol: 'v1beta2', project: 'my-project' })",
        { details: { field: 'project' } },
      );
    }
    return new V1beta2Backend({
      url: root,
      project: settings.project,
      hrdProject: settings.hrdProject,
      timeoutMs,
      ...auth,
    });
  }
  return new HttpBackend({ url: root, timeoutMs, ...auth });
}

let registered = false;

/** Registers the built-in transports once (no work at import time). */
export function registerBuiltInTransports(): void {
  if (registered) return;
  registered = true;
  registerTransport({
    schemes: ['memory'],
    description: 'memory://[name]: in this process, shared by name',
    open: openMemory,
  });
  registerTransport({
    schemes: ['sqlite'],
    description: 'sqlite:///path/to/db: an embedded SQLite file, no server',
    open: openSqlite,
  });
  registerTransport({
    schemes: ['pullq', 'pullqs', 'http', 'https'],
    description:
      "pullq://host:port (pullqs://, http(s)://): a pullq server, or with protocol 'v1beta2' any v1beta2 server",
    open: openServer,
  });
  registerTransport({
    schemes: ['postgres', 'postgresql'],
    description: 'postgres://user@host:port/db[?schema=pullq]: PostgreSQL, no server in between',
    open: async (settings) => (await import('../backends/postgres/open.ts')).openPostgres(settings),
  });
  registerTransport({
    schemes: ['redis', 'rediss'],
    description: 'redis://host:port[/db][?prefix=pullq]: Redis, no server in between',
    open: async (settings) => (await import('../backends/redis/open.ts')).openRedis(settings),
  });
  registerTransport({
    schemes: ['amqp', 'amqps'],
    description:
      'amqp://user:pass@host:port[/vhost]: RabbitMQ (no tags, listing, exact stats or id dedup)',
    open: async (settings) => (await import('../backends/amqp/open.ts')).openAmqp(settings),
  });
  registerTransport({
    schemes: ['nats'],
    description: 'nats://host:port: NATS JetStream (no tags, listing or exact stats)',
    open: async (settings) => (await import('../backends/nats/open.ts')).openNats(settings),
  });
}
