/**
 * NATS and JetStream failures as catalog errors. The driver's errors are told apart by their
 * `name` (the classes come from a module loaded at run time) and JetStream API errors by
 * their numeric `code`. A connection that is down, closed or slow is `unavailable`
 * (retryable): the client reconnects by itself, so trying again is the right move.
 */
import { PullqError } from '../../protocol/errors.ts';

/** JetStream API error codes this transport reacts to. */
export const API = {
  consumerNotFound: 10014,
  streamNotFound: 10059,
  streamNameInUse: 10058,
  wrongLastSequence: 10071,
  noMessageFound: 10037,
} as const;

const CONNECTION_ERRORS = new Set([
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'TimeoutError',
  'RequestError',
  'NoResponders',
  'JetStreamNotEnabled',
]);

/** The JetStream API error code of `error`, or null when it is not an API error. */
export function apiCode(error: unknown): number | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : null;
}

/**
 * A publish to a subject no stream holds fails with no responders, which the JetStream
 * client reports as `JetStreamNotEnabled`: for a queue's subject, the queue does not exist.
 */
export function isNoStream(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'JetStreamNotEnabled' || error.name === 'NoResponders')
  );
}

/** For what JetStream cannot do: says what to use instead. */
export function unsupported(what: string, instead: string): PullqError {
  return new PullqError('unsupported', `${what} is not available over NATS JetStream: ${instead}`, {
    details: { transport: 'nats' },
  });
}

export function unavailable(doing: string, cause?: unknown): PullqError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new PullqError(
    'unavailable',
    `${doing} failed, NATS did not answer${why}; the connection reconnects by itself: try again`,
    cause === undefined ? {} : { cause },
  );
}

/** Any failure of a NATS call as a PullqError; `doing` says what was being done. */
export function natsError(error: unknown, doing: string): PullqError {
  if (error instanceof PullqError) return error;
  if (!(error instanceof Error)) return new PullqError('internal', `${doing}: ${String(error)}`);
  if (CONNECTION_ERRORS.has(error.name)) return unavailable(doing, error);
  if (error.name === 'AuthorizationError' || error.name === 'PermissionViolationError') {
    return new PullqError(
      'permission_denied',
      `${doing}: NATS refused it (${error.message}); give this user publish and subscribe rights on the pullq subjects and $JS.API.>`,
      { cause: error },
    );
  }
  // A JetStream API error: 503 is JetStream unavailable for now (a cluster without quorum);
  // 400 a request JetStream refused; other statuses (500 included) are not worth retrying.
  const status = (error as { status?: unknown }).status;
  if (status === 503) return unavailable(doing, error);
  const code = status === 400 ? 'invalid_argument' : 'internal';
  return new PullqError(code, `${doing}: JetStream refused it: ${error.message}`, {
    cause: error,
    ...(apiCode(error) === null ? {} : { details: { natsCode: apiCode(error) } }),
  });
}
