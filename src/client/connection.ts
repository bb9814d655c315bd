/**
 * Connection: where the queues are (a URL), how to talk to them (credentials, protocol) and
 * how to consume (prefetch, lease length, polling, retries). Opens its backend lazily, on
 * first use, and releases everything on close().
 *
 *   await using connection = new Connection('pullq://127.0.0.1:8080', { token });
 *   const queue = connection.simpleQueue<{ video: string }>('videos');
 *   const message = await queue.get();
 *   await message.ack();
 */
import type { Backend, Clock } from '../backends/backend.ts';
import { systemClock } from '../backends/backend.ts';
import { readCredentialsFile, sameServer, type Credentials } from '../auth/credentials.ts';
import { PullqError } from '../protocol/errors.ts';
import { LIMITS, checkInt, checkNumber } from '../protocol/limits.ts';
import { transportFor, type TransportSettings } from './registry.ts';
import { resolveRetryPolicy, withRetry, type RetryEvent, type RetryPolicy } from './retry.ts';
import { SimpleQueue, type SimpleQueueOptions } from './simple-queue.ts';
import { registerBuiltInTransports } from './transports.ts';

export interface ConnectionOptions {
  /** Where the queues are; see docs/client.md for the schemes. Not needed with `backend`. */
  url?: string;
  /** Use this backend instead of opening one from the URL; the caller closes it. */
  backend?: Backend;
  /** 'v1beta2' talks to any App Engine Task Queue v1beta2 server. Default 'native'. */
  protocol?: 'native' | 'v1beta2';
  /** The v1beta2 project (the seed's `project_name`). */
  project?: string;
  /** The seed's `hrd_project`: insert and delete use project `s~<project>`. Default false. */
  hrdProject?: boolean;
  /** A pullq access token, sent as `Authorization: Bearer`. */
  token?: string;
  /** A credentials file as `pullq login` writes it; its token is used when its server is
   * this connection's server (the seed's `credentials_file`). */
  credentialsFile?: string;
  /** Prefetch: how many tasks one lease request takes into a queue's buffer. Default 1. */
  numTasks?: number;
  /** Seconds between lease requests on backends without long-poll. Default 1. */
  pollingInterval?: number;
  /** Seconds each lease lasts. Default 300. */
  leaseSeconds?: number;
  /** Create queues on first use (kombu's auto-declare). Default true. */
  autoCreateQueues?: boolean;
  /** Retry of transient failures; `false` turns it off. */
  retry?: Partial<RetryPolicy> | false;
  /** Called before each retry (for logs). */
  onRetry?: (event: RetryEvent) => void;
  /** Per request, in ms, for server transports. Default 30000. */
  timeoutMs?: number;
  /** Time source for lease bookkeeping (tests). */
  clock?: Clock;
}

/** Everything a Connection uses, with its defaults filled in. */
export interface ResolvedConnectionOptions {
  numTasks: number;
  pollingInterval: number;
  leaseSeconds: number;
  autoCreateQueues: boolean;
  retry: RetryPolicy;
  onRetry: ((event: RetryEvent) => void) | undefined;
  clock: Clock;
}

export const CONNECTION_DEFAULTS = {
  numTasks: 1,
  pollingInterval: 1,
  leaseSeconds: 300,
  autoCreateQueues: true,
  timeoutMs: 30_000,
} as const;

export class Connection implements AsyncDisposable {
  readonly options: ResolvedConnectionOptions;
  readonly #settings: TransportSettings | null;
  readonly #given: Backend | undefined;
  #opening: Promise<Backend> | undefined;
  readonly #queues = new Set<{ closeAll(): Promise<void> }>();
  #closed = false;

  /** `new Connection(url, options)` or `new Connection({ url, ...options })`. */
  constructor(urlOrOptions: string | ConnectionOptions, options: ConnectionOptions = {}) {
    const merged: ConnectionOptions =
      typeof urlOrOptions === 'string' ? { ...options, url: urlOrOptions } : urlOrOptions;
    this.options = resolveOptions(merged);
    this.#given = merged.backend;
    this.#settings = merged.backend === undefined ? transportSettings(merged) : null;
    if (this.#settings !== null) {
      registerBuiltInTransports();
      transportFor(this.#settings.url); // an unknown scheme fails here, not on first use
    }
  }

  /** The URL with any password masked, for logs. */
  get url(): string {
    if (this.#settings === null) return 'backend:';
    const url = new URL(this.#settings.url.href);
    if (url.password !== '') url.password = '***';
    return url.protocol === 'sqlite:' ? this.#settings.href : url.href;
  }

  /** Opens the backend now instead of on first use; returns it. */
  async connect(): Promise<Backend> {
    if (this.#closed) throw closedError();
    if (this.#given !== undefined) return this.#given;
    const settings = this.#settings as TransportSettings;
    this.#opening ??= (async () => transportFor(settings.url).open(settings))();
    try {
      return await this.#opening;
    } catch (error) {
      this.#opening = undefined; // a later call tries again
      throw error;
    }
  }

  /** A queue handle; queues are created on first use unless `autoCreateQueues` is off. */
  simpleQueue<T = unknown>(name: string, options: SimpleQueueOptions = {}): SimpleQueue<T> {
    if (this.#closed) throw closedError();
    return new SimpleQueue<T>(this, name, options);
  }

  /**
   * Runs `operation` on the backend, retrying transient failures (kombu's `ensure`). The
   * attempt number lets an operation that is not idempotent check whether an earlier try
   * took effect.
   */
  async ensure<R>(
    operation: (backend: Backend, attempt: number) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R> {
    return withRetry(
      async (attempt) => operation(await this.connect(), attempt),
      this.options.retry,
      { signal, onRetry: this.options.onRetry },
    );
  }

  /**
   * @internal A queue is tracked while it waits on a lease or holds tasks (buffered or handed
   * out), so close() can give them back; an idle queue is not, so handles made per call are
   * garbage-collected.
   */
  track(queue: { closeAll(): Promise<void> }, active: boolean): void {
    if (active) this.#queues.add(queue);
    else this.#queues.delete(queue);
  }

  /**
   * Closes every queue that holds tasks (their buffered tasks and the messages handed out and
   * not settled are released, so other consumers get them at once), then the backend.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const queues = [...this.#queues];
    await Promise.allSettled(queues.map(async (queue) => queue.closeAll()));
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = undefined;
    if (opening !== undefined) {
      const backend = await opening.catch(() => undefined);
      await backend?.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function closedError(): PullqError {
  return new PullqError('unavailable', 'the connection is closed');
}

function resolveOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const numTasks = options.numTasks ?? CONNECTION_DEFAULTS.numTasks;
  checkInt(numTasks, 'numTasks', 1, LIMITS.maxTasksPerLease);
  const pollingInterval = options.pollingInterval ?? CONNECTION_DEFAULTS.pollingInterval;
  checkNumber(pollingInterval, 'pollingInterval', 0.01, 3600);
  const leaseSeconds = options.leaseSeconds ?? CONNECTION_DEFAULTS.leaseSeconds;
  checkNumber(leaseSeconds, 'leaseSeconds', 0.001, LIMITS.maxLeaseSeconds);
  return {
    numTasks,
    pollingInterval,
    leaseSeconds,
    autoCreateQueues: options.autoCreateQueues ?? CONNECTION_DEFAULTS.autoCreateQueues,
    retry: resolveRetryPolicy(options.retry),
    onRetry: options.onRetry,
    clock: options.clock ?? systemClock,
  };
}

function transportSettings(options: ConnectionOptions): TransportSettings {
  const href = options.url;
  if (href === undefined || href === '') {
    throw new PullqError(
      'invalid_argument',
      "a Connection needs a URL (e.g. 'pullq://127.0.0.1:8080', 'sqlite:///var/lib/app/queue.db', 'memory://') or a backend",
      { details: { field: 'url' } },
    );
  }
  let url: URL;
  try {
    url = new URL(href);
  } catch (error) {
    throw new PullqError('invalid_argument', `not a URL: ${JSON.stringify(href)}`, {
      cause: error,
      details: { field: 'url' },
    });
  }
  const timeoutMs = options.timeoutMs ?? CONNECTION_DEFAULTS.timeoutMs;
  checkInt(timeoutMs, 'timeoutMs', 1, 3_600_000);
  return {
    url,
    href,
    protocol: options.protocol ?? 'native',
    project: options.project,
    hrdProject: options.hrdProject ?? false,
    token: options.token ?? fileToken(options.credentialsFile, url),
    timeoutMs,
  };
}

/** The credentials file's token, when the file is for this server (`pullq login` writes it). */
function fileToken(path: string | undefined, url: URL): string | undefined {
  if (path === undefined) return undefined;
  let saved: Credentials | null;
  try {
    saved = readCredentialsFile(path);
  } catch (error) {
    throw new PullqError('invalid_argument', `credentialsFile: ${(error as Error).message}`, {
      cause: error,
      details: { field: 'credentialsFile' },
    });
  }
  if (saved === null) {
    throw new PullqError('invalid_argument', `credentialsFile ${path} does not exist`, {
      details: { field: 'credentialsFile' },
    });
  }
  const scheme = { 'pullq:': 'http:', 'pullqs:': 'https:' }[url.protocol] ?? url.protocol;
  return sameServer(saved.server, `${scheme}//${url.host}${url.pathname}`)
    ? saved.token
    : undefined;
}
