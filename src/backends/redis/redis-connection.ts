/**
 * The Redis connection of a RedisBackend: ioredis loaded on first use (an optional peer
 * dependency), the scripts run by EVALSHA (sent whole once more when the server's script
 * cache lacks them, as after a restart), and a second connection, opened only when a
 * long-poll first waits, subscribed to the deployment's wake-up channel.
 *
 * Failing fast. ioredis would by default queue commands while disconnected and resend
 * unanswered ones on reconnect; a queue server must instead answer `unavailable` (503,
 * retried by clients) within about a second, and must never run a state change twice behind
 * the caller's back (a resent insert would add the task again). So: no offline queue;
 * commands in flight when the connection drops fail at once (maxRetriesPerRequest 0) and
 * are not resent; a call made while reconnecting waits up to `connectWaitMs` for the
 * connection to come back, then fails. Reconnection goes on in the background, every
 * 100 ms to 1 s, for as long as the backend is open, so it recovers on its own.
 */
import { createHash } from 'node:crypto';
import type * as ioredis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { PullqError } from '../../protocol/errors.ts';
import { loadOptional } from '../optional-dependency.ts';
import { isNoScript, redisError, unreachable } from './redis-error.ts';

export interface RedisConnectionOptions {
  /** A URL as ioredis reads it (`redis://[user:pass@]host:port[/db]`, `rediss://`); pullq's own
   * URL form, with `?prefix=`, is read by redisOptionsFromUrl in open.ts. */
  url?: string;
  /** ioredis options (host, port, password, tls...), applied over the URL's. The options
   * that make failures fast are pullq's own and cannot be changed here. */
  redis?: RedisOptions;
  /** How long a call waits for a lost connection to come back before failing with
   * `unavailable` (default 1000 ms). */
  connectWaitMs?: number;
  /** A command (one script) that gets no answer in this time fails with `unavailable`
   * (default 10,000 ms): Redis is hung, or a purge of millions of tasks is running. */
  commandTimeoutMs?: number;
}

export interface Script {
  name: string;
  lua: string;
  sha: string;
}

export function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

type Arg = string | Buffer;

const CONNECT_WAIT_MS = 1000;
const COMMAND_TIMEOUT_MS = 10_000;
/** Reconnect delays: 100 ms, 200 ms... then every second. */
const retryStrategy = (attempt: number): number => Math.min(attempt * 100, 1000);
/** quit() waits for the answers still on their way; past this, the socket is cut. */
const QUIT_WAIT_MS = 2000;

export class RedisConnection {
  /** Where Redis is, for messages: host:port, never a password. */
  readonly where: string;
  readonly #options: RedisConnectionOptions;
  readonly #client: Promise<Redis>;
  #subscriber: Redis | null = null;
  #subscribed: Promise<void> | null = null;
  #lastError = 'not connected yet';
  #ready: PromiseWithResolvers<void> | null = null;
  #closed = false;

  constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.where = describe(options);
    this.#client = this.#connect();
    // A missing driver is reported by the first call; this copy of the promise only keeps
    // Node from calling it unhandled in between.
    this.#client.catch(() => undefined);
  }

  async #connect(): Promise<Redis> {
    const { Redis } = await loadOptional<typeof ioredis>('ioredis', 'the redis backend');
    const fast: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
      retryStrategy,
      lazyConnect: false,
    };
    const extra = this.#options.redis ?? {};
    const client =
      this.#options.url === undefined
        ? new Redis({ ...extra, ...fast })
        : new Redis(this.#options.url, { ...extra, ...fast });
    client.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    client.on('ready', () => {
      this.#ready?.resolve();
      this.#ready = null;
    });
    if (this.#closed) client.disconnect();
    return client;
  }

  /** Runs a script (its keys are computed inside from ARGV[1], the prefix). */
  async run(s: Script, args: Arg[]): Promise<unknown> {
    return this.call(async (client) => {
      try {
        return await client.callBuffer('EVALSHA', [s.sha, 0, ...args]);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return await client.callBuffer('EVAL', [s.lua, 0, ...args]);
      }
    });
  }

  /** Runs plain commands on the connection, with its errors mapped to the catalog. */
  async call<T>(work: (client: Redis) => Promise<T>): Promise<T> {
    const client = await this.#client;
    await this.#whenReady(client);
    try {
      return await work(client);
    } catch (error) {
      throw redisError(error, this.where);
    }
  }

  async #whenReady(client: Redis): Promise<void> {
    if (client.status === 'ready') return;
    if (this.#closed || client.status === 'end') {
      throw new PullqError('unavailable', 'the backend is closed');
    }
    this.#ready ??= Promise.withResolvers<void>();
    const waitMs = this.#options.connectWaitMs ?? CONNECT_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unreachable(this.where, this.#lastError)), waitMs);
    });
    try {
      await Promise.race([this.#ready.promise, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Subscribes (once) to `channel` on a connection of its own; `onMessage` gets each message.
   * Resolves when subscribed, or after `waitMs` if Redis is slow to answer: the subscription
   * then completes in the background (and is renewed after each reconnect), and long-polls
   * meanwhile look again every LONG_POLL_RECHECK_MS as they always do.
   */
  async subscribe(channel: string, onMessage: (message: string) => void, waitMs: number) {
    this.#subscribed ??= this.#subscribeOnce(channel, onMessage).catch(() => {
      // Closed before it got through; a later long-poll tries again.
      this.#subscribed = null;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#subscribed,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
  }

  async #subscribeOnce(channel: string, onMessage: (message: string) => void): Promise<void> {
    const client = await this.#client;
    if (this.#closed) return;
    const subscriber = client.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) onMessage(message);
    });
    await subscriber.subscribe(channel);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready?.resolve();
    this.#subscriber?.disconnect();
    let client: Redis;
    try {
      client = await this.#client;
    } catch {
      return; // the driver never loaded: nothing is open
    }
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    client.disconnect();
  }
}

function describe(options: RedisConnectionOptions): string {
  const redis = options.redis ?? {};
  if (options.url !== undefined) {
    try {
      const url = new URL(options.url);
      return `${url.hostname}:${redis.port ?? (url.port || 6379)}`;
    } catch {
      return 'at an unreadable URL';
    }
  }
  if (redis.path !== undefined) return redis.path;
  return `${redis.host ?? 'localhost'}:${redis.port ?? 6379}`;
}
