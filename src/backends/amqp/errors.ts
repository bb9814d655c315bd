/**
 * amqplib's failures as catalog errors. A lost or refused connection is `unavailable` (the
 * client retries it and the backend reconnects on the next call); a closed channel the same;
 * the broker's refusals keep their meaning (404 a missing queue, 403 a permission).
 */
import { PullqError } from '../../protocol/errors.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** AMQP reply codes that mean the connection or broker failed, not the request. */
const BROKER_FAILURES = new Set([320, 501, 502, 503, 504, 505, 506, 541]);

function fields(error: unknown): { code: unknown; message: string; name: string } {
  if (typeof error !== 'object' || error === null) {
    return { code: undefined, message: String(error), name: '' };
  }
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  return {
    code,
    message: typeof message === 'string' ? message : '',
    name: typeof name === 'string' ? name : '',
  };
}

/**
 * `doing` says what failed ("publishing to q"); `queue` names the queue a 404 is about, when
 * the call was about one.
 */
export function amqpError(error: unknown, doing: string, queue?: string): PullqError {
  if (error instanceof PullqError) return error;
  const { code, message, name } = fields(error);
  const options = { cause: error, details: { amqpCode: code, ...(queue ? { queue } : {}) } };
  if (code === 404 && queue !== undefined) {
    return new PullqError('queue_not_found', `queue ${JSON.stringify(queue)} does not exist`, {
      ...options,
    });
  }
  if (/Handshake terminated by server: 403/.test(message)) {
    return new PullqError(
      'unauthenticated',
      `RabbitMQ refused the login while ${doing}: check the user and password in the amqp:// URL`,
      options,
    );
  }
  if (/Expected ConnectionOpenOk/.test(message)) {
    return new PullqError(
      'permission_denied',
      `RabbitMQ refused to open the vhost while ${doing}: check that the vhost in the URL exists and the user may use it`,
      options,
    );
  }
  if (code === 403) {
    return new PullqError(
      'permission_denied',
      `RabbitMQ refused access while ${doing}: ${message}`,
      options,
    );
  }
  if (code === 406) {
    return new PullqError(
      'invalid_argument',
      `RabbitMQ refused a precondition while ${doing}: ${message}`,
      options,
    );
  }
  if (
    (typeof code === 'string' && NETWORK_CODES.has(code)) ||
    (typeof code === 'number' && BROKER_FAILURES.has(code)) ||
    name === 'IllegalOperationError' ||
    /closed|ended|socket/i.test(message)
  ) {
    return new PullqError(
      'unavailable',
      `RabbitMQ is unreachable or closed the connection while ${doing} (${message}): try again`,
      options,
    );
  }
  return new PullqError('internal', `unexpected AMQP failure while ${doing}: ${message}`, options);
}

/** Runs `operation`, turning any failure into a catalog error. */
export async function amqpCall<T>(
  doing: string,
  operation: () => Promise<T>,
  queue?: string,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw amqpError(error, doing, queue);
  }
}

export function closedError(): PullqError {
  return new PullqError('unavailable', 'the amqp backend is closed: open a new connection');
}

export function unsupported(what: string, instead: string): PullqError {
  return new PullqError('unsupported', `${what} is not available over AMQP: ${instead}`, {
    details: { transport: 'amqp' },
  });
}
