/**
 * The closed catalog of pullq errors. Every failure a caller can see has one of these codes;
 * each code has one HTTP status and one `retryable` flag, and survives the wire: the HTTP
 * client rebuilds the same `PullqError` the server threw. Only retryable errors are retried.
 */

export const ERROR_CATALOG = {
  /** A request field is missing, of the wrong type, or out of range. */
  invalid_argument: { status: 400, retryable: false },
  /** The body is not valid JSON (or not the expected content type). */
  malformed_request: { status: 400, retryable: false },
  /** No credentials, or credentials that are not valid. */
  unauthenticated: { status: 401, retryable: false },
  /** Valid credentials without the role or queue needed. */
  permission_denied: { status: 403, retryable: false },
  /** The queue does not exist. */
  queue_not_found: { status: 404, retryable: false },
  /** The task does not exist (never did, or was acked/deleted). */
  task_not_found: { status: 404, retryable: false },
  /** No access token has that name. */
  token_not_found: { status: 404, retryable: false },
  /** No such route. */
  route_not_found: { status: 404, retryable: false },
  /** The HTTP method is not allowed on this route. */
  method_not_allowed: { status: 405, retryable: false },
  /** A queue or task name is taken, or a task name is still tombstoned. */
  already_exists: { status: 409, retryable: false },
  /** The lease token is not the task's current one, or the lease has run out. */
  lease_lost: { status: 409, retryable: false },
  /** Client side: the message was already acked, rejected or requeued; it settles once. */
  already_settled: { status: 409, retryable: false },
  /** The request did not arrive within the server's header or request timeout. */
  request_timeout: { status: 408, retryable: true },
  /** The body or a payload is larger than the limit. */
  payload_too_large: { status: 413, retryable: false },
  /** The content type is not one the route accepts. */
  unsupported_media_type: { status: 415, retryable: false },
  /** The request headers are larger than the server reads (16 KiB). */
  headers_too_large: { status: 431, retryable: false },
  /** Too many requests for this token; retry after the indicated time. */
  rate_limited: { status: 429, retryable: true },
  /** The backend does not offer this capability. */
  unsupported: { status: 501, retryable: false },
  /** The store or server is unreachable or shutting down: try again. */
  unavailable: { status: 503, retryable: true },
  /** The request did not finish in time: try again. */
  timeout: { status: 504, retryable: true },
  /** A bug: the server failed in a way it did not expect. */
  internal: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

export class PullqError extends Error {
  override readonly name = 'PullqError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** Extra facts for the caller (the field at fault, the index in a batch...). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.retryable = ERROR_CATALOG[code].retryable;
    this.details = options.details;
  }

  /** The native v1 wire form: `{ "error": { code, message, retryable, details? } }`. */
  toJSON(): { error: NativeErrorBody } {
    return {
      error: {
        code: this.code,
        message: this.message,
        retryable: this.retryable,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export interface NativeErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export function isPullqError(error: unknown, code?: ErrorCode): error is PullqError {
  return error instanceof PullqError && (code === undefined || error.code === code);
}

/** Rebuilds an error from the native wire form; an unknown shape becomes `internal`. */
export function errorFromWire(status: number, body: unknown): PullqError {
  const inner = (body as { error?: Partial<NativeErrorBody> } | null)?.error;
  if (inner && isErrorCode(inner.code) && typeof inner.message === 'string') {
    return new PullqError(
      inner.code,
      inner.message,
      inner.details ? { details: inner.details } : {},
    );
  }
  const code: ErrorCode =
    status === 503 || status === 502 ? 'unavailable' : status === 504 ? 'timeout' : 'internal';
  return new PullqError(code, `unexpected HTTP ${status} response`, { details: { body } });
}
