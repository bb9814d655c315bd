/**
 * App Engine Task Queue REST API v1beta2: the wire shapes and codecs (see
 * docs/protocol.md and ../shared/reference/taskqueue-v1beta2.md for the quirks).
 */
import type { ErrorCode, PullqError } from './errors.ts';

/** Google's reason and HTTP status per catalog code, as App Engine (and AppScale) answered. */
const GOOGLE_ERRORS: Record<ErrorCode, { status: number; reason: string }> = {
  invalid_argument: { status: 400, reason: 'invalid' },
  malformed_request: { status: 400, reason: 'parseError' },
  unauthenticated: { status: 401, reason: 'authError' },
  permission_denied: { status: 403, reason: 'forbidden' },
  queue_not_found: { status: 404, reason: 'notFound' },
  task_not_found: { status: 404, reason: 'notFound' },
  route_not_found: { status: 404, reason: 'notFound' },
  method_not_allowed: { status: 405, reason: 'httpMethodNotAllowed' },
  // App Engine answered 400 for a taken or tombstoned name (AppScale's Hawkeye suite checks it).
  already_exists: { status: 400, reason: 'duplicate' },
  // TASK_LEASE_EXPIRED was a 400 "The task lease has expired".
  lease_lost: { status: 400, reason: 'invalid' },
  payload_too_large: { status: 413, reason: 'uploadTooLarge' },
  unsupported_media_type: { status: 415, reason: 'unsupportedMediaType' },
  rate_limited: { status: 429, reason: 'rateLimitExceeded' },
  unsupported: { status: 501, reason: 'notImplemented' },
  unavailable: { status: 503, reason: 'backendError' },
  timeout: { status: 504, reason: 'backendError' },
  internal: { status: 500, reason: 'internalError' },
};

export interface GoogleErrorBody {
  error: {
    errors: { domain: string; reason: string; message: string }[];
    code: number;
    message: string;
  };
}

/** The Apiary error envelope that Google's clients parse, and the status to send it with. */
export function googleError(error: PullqError): { status: number; body: GoogleErrorBody } {
  const { status, reason } = GOOGLE_ERRORS[error.code];
  const detailReason = error.details?.['reason'];
  return {
    status,
    body: {
      error: {
        errors: [
          {
            domain: 'global',
            reason: typeof detailReason === 'string' ? detailReason : reason,
            message: error.message,
          },
        ],
        code: status,
        message: error.message,
      },
    },
  };
}
