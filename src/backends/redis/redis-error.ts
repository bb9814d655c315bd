/**
 * Turns what ioredis throws into the error catalog: a caller never sees a raw Redis error.
 * A lost or refused connection, a timeout, and the answers Redis gives while it cannot serve
 * (loading its data after a restart, a replica that is read-only, out of memory, a snapshot
 * that failed to save) are `unavailable`: pullq reconnects on its own and callers retry.
 * Anything else is a bug (a script error): `internal`.
 */
import { PullqError } from '../../protocol/errors.ts';

/** Reply error prefixes that mean "Redis cannot serve this now", with what to tell people. */
const UNAVAILABLE_REPLIES: Record<string, string> = {
  LOADING: 'Redis is loading its data after a restart',
  BUSY: 'Redis is running a long script',
  READONLY: 'the server is a read-only replica (after a failover, point pullq at the primary)',
  MASTERDOWN: 'the replica has lost its primary',
  MISCONF: 'Redis refuses writes because it failed to save its snapshot (see its log)',
  OOM: 'Redis is out of memory (its maxmemory): free memory or raise the limit',
  NOAUTH: 'Redis asks for a password: put it in the URL (redis://:password@host)',
  WRONGPASS: 'Redis refused the user name or password of the URL',
  NOPERM: 'the Redis user of the URL lacks a permission pullq needs (scripts, pub/sub)',
  CLUSTERDOWN: 'the Redis cluster is down',
  TRYAGAIN: 'Redis asked to try again',
};

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/** Whether the script cache of the server lacks the script (after a restart or FLUSH). */
export function isNoScript(error: unknown): boolean {
  return isReplyError(error) && error.message.startsWith('NOSCRIPT');
}

/** `where`: the server as people know it (host:port, never a password). */
export function redisError(error: unknown, where: string): PullqError {
  if (error instanceof PullqError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isReplyError(error)) {
    const prefix = /^[A-Z]+/.exec(message)?.[0] ?? '';
    const reason = UNAVAILABLE_REPLIES[prefix];
    if (reason === undefined) {
      return new PullqError('internal', `Redis ${where} answered with an error: ${message}`, {
        cause: error,
        details: { redis: where },
      });
    }
    return new PullqError('unavailable', `Redis ${where}: ${reason} (${message})`, {
      cause: error,
      details: { redis: where },
    });
  }
  return unreachable(where, message, error);
}

export function unreachable(where: string, reason: string, cause?: unknown): PullqError {
  return new PullqError(
    'unavailable',
    `Redis ${where} is unreachable (${reason}): pullq reconnects on its own; retry, and check that Redis is running and the URL is right`,
    { ...(cause === undefined ? {} : { cause }), details: { redis: where } },
  );
}
