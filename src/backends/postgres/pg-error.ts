/**
 * Turns what the `pg` driver throws into the error catalog: a caller never sees a raw
 * PostgreSQL error. A database that cannot be reached, restarts, fails over or runs out of
 * connections is `unavailable` (503, retryable): clients retry, and the backend reconnects
 * by itself. A configuration the database refuses (bad password, missing database, missing
 * privilege) is `unavailable` too but says what to fix. Anything else is a bug: `internal`.
 */
import { PullqError } from '../../protocol/errors.ts';

/** Socket errors of Node.js that mean "the database is not there (now)". */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Messages of the pg driver and pool that carry no code: the connection ended under a query,
 * a connect attempt ran past connectionTimeoutMillis, or the client broke earlier.
 */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Connection ended',
];

/** SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
function unavailableReason(sqlstate: string): string | undefined {
  if (sqlstate.startsWith('08')) return 'the connection to PostgreSQL failed';
  if (sqlstate === '57P01') return 'PostgreSQL is shutting down (admin shutdown)';
  if (sqlstate === '57P02') return 'PostgreSQL crashed and is restarting';
  if (sqlstate === '57P03') return 'PostgreSQL is starting up or in recovery';
  if (sqlstate === '53300') return 'PostgreSQL has no connection slot left (max_connections)';
  if (sqlstate.startsWith('53')) return 'PostgreSQL is out of resources (disk, memory)';
  if (sqlstate === '40001') return 'a transaction conflicted with another one (serialization)';
  if (sqlstate === '40P01') return 'a transaction deadlocked with another one';
  if (sqlstate === '25006') return 'the database is read-only (a standby, or after failover)';
  if (sqlstate === '55P03') return 'a lock could not be taken in time';
  return undefined;
}

/** Errors of configuration: the database answers, but refuses what pullq asked of it. */
function configurationReason(sqlstate: string): string | undefined {
  if (sqlstate.startsWith('28')) return 'PostgreSQL refused the login: check user and password';
  if (sqlstate === '3D000') return 'the database does not exist: create it or fix the URL';
  if (sqlstate === '42501') {
    return 'the database user lacks a privilege pullq needs (CREATE on the database for the schema, or on the schema)';
  }
  return undefined;
}

/** Where errors happened, for messages: host:port/database, never the password. */
export type Place = string;

export function pgError(error: unknown, place: Place): PullqError {
  if (error instanceof PullqError) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  if (typeof code === 'string' && SOCKET_CODES.has(code)) {
    return new PullqError(
      'unavailable',
      `PostgreSQL at ${place} cannot be reached (${code}): check that it is running and reachable; pullq reconnects by itself once it is`,
      { cause: error, details: { place, errno: code } },
    );
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const reason = unavailableReason(code);
    if (reason !== undefined) {
      return new PullqError(
        'unavailable',
        `PostgreSQL at ${place}: ${reason} (${text}); try again`,
        { cause: error, details: { place, sqlstate: code } },
      );
    }
    const configuration = configurationReason(code);
    if (configuration !== undefined) {
      return new PullqError('unavailable', `PostgreSQL at ${place}: ${configuration} (${text})`, {
        cause: error,
        details: { place, sqlstate: code },
      });
    }
    if (code === '57014') {
      return new PullqError('timeout', `PostgreSQL at ${place} cancelled a statement (${text})`, {
        cause: error,
        details: { place, sqlstate: code },
      });
    }
    return new PullqError('internal', `PostgreSQL at ${place}: unexpected error (${text})`, {
      cause: error,
      details: { place, sqlstate: code },
    });
  }
  if (DRIVER_MESSAGES.some((known) => text.includes(known))) {
    return new PullqError(
      'unavailable',
      `PostgreSQL at ${place}: the connection was lost (${text}); pullq reconnects by itself, try again`,
      { cause: error, details: { place } },
    );
  }
  return new PullqError('internal', `PostgreSQL at ${place}: unexpected error (${text})`, {
    cause: error,
    details: { place },
  });
}

/** Whether the client that saw this error must be thrown away rather than reused. */
export function breaksConnection(error: PullqError): boolean {
  if (error.code !== 'unavailable') return false;
  const sqlstate = error.details?.['sqlstate'];
  // A conflict between transactions leaves the connection healthy.
  return sqlstate !== '40001' && sqlstate !== '40P01' && sqlstate !== '55P03';
}
