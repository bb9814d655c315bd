/**
 * App Engine Task Queue REST API v1beta2: the wire shapes and codecs (see
 * docs/protocol.md and ../shared/reference/taskqueue-v1beta2.md for the quirks).
 */
import { PullqError, type ErrorCode } from './errors.ts';
import { checkPayloadSize, checkTag, checkTaskId } from './limits.ts';

/** Google's reason and HTTP status per catalog code, as App Engine (and AppScale) answered. */
const GOOGLE_ERRORS: Record<ErrorCode, { status: number; reason: string }> = {
  invalid_argument: { status: 400, reason: 'invalid' },
  malformed_request: { status: 400, reason: 'parseError' },
  unauthenticated: { status: 401, reason: 'authError' },
  permission_denied: { status: 403, reason: 'forbidden' },
  queue_not_found: { status: 404, reason: 'notFound' },
  task_not_found: { status: 404, reason: 'notFound' },
  token_not_found: { status: 404, reason: 'notFound' },
  route_not_found: { status: 404, reason: 'notFound' },
  method_not_allowed: { status: 405, reason: 'httpMethodNotAllowed' },
  // App Engine answered 400 for a taken or tombstoned name (AppScale's Hawkeye suite checks it).
  already_exists: { status: 400, reason: 'duplicate' },
  // TASK_LEASE_EXPIRED was a 400 "The task lease has expired".
  lease_lost: { status: 400, reason: 'invalid' },
  // Raised by the client only; never sent.
  already_settled: { status: 409, reason: 'conflict' },
  // Answered by the HTTP layer (Node's timers and parser), for which Google had no reason.
  request_timeout: { status: 408, reason: 'requestTimeout' },
  payload_too_large: { status: 413, reason: 'uploadTooLarge' },
  unsupported_media_type: { status: 415, reason: 'unsupportedMediaType' },
  headers_too_large: { status: 431, reason: 'headersTooLarge' },
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

// ---------------------------------------------------------------------------------------------
// Codecs: pullq's Task and queue <-> the v1beta2 JSON shapes.
//
// The quirks the old clients depend on: int64 fields travel as JSON strings (Go and Java
// clients reject bare numbers), times are microseconds, `retry_count` is snake_case, payloads
// are web-safe base64 with padding.
// ---------------------------------------------------------------------------------------------

/*
 * The backend shapes the codecs read and write, structurally (protocol must not import from
 * backends: dependencies point protocol <- backends <- server).
 */
interface Task {
  id: string;
  payload: Uint8Array;
  tag: string | null;
  enqueuedAt: number;
  eta: number;
  attempts: number;
}
interface NewTask {
  payload: Uint8Array;
  id?: string;
  tag?: string;
  eta?: number;
}
interface QueueInfo {
  name: string;
  maxLeases: number | null;
}
interface QueueStats {
  ready: number;
  delayed: number;
  leased: number;
  oldestEta: number | null;
  leasedLastMinute: number;
  leasedLastHour: number;
}

export const TASK_KIND = 'taskqueues#task';
export const TASKS_KIND = 'taskqueues#tasks';
export const TASKQUEUE_KIND = 'taskqueues#taskqueue';

export interface V1beta2Task {
  kind: typeof TASK_KIND;
  id: string;
  queueName: string;
  payloadBase64?: string;
  /** int64 µs, as a string */
  enqueueTimestamp: string;
  /** int64 µs, as a string: the ETA, or the end of the running lease */
  leaseTimestamp: string;
  retry_count: number;
  tag?: string;
}

export interface V1beta2Tasks {
  kind: typeof TASKS_KIND;
  items?: V1beta2Task[];
}

export interface V1beta2TaskQueue {
  kind: typeof TASKQUEUE_KIND;
  id: string;
  maxLeases?: number;
  acl: { adminEmails: string[]; consumerEmails: string[]; producerEmails: string[] };
  stats?: {
    totalTasks: number;
    /** int64 SECONDS, as a string (the one v1beta2 time that is not in µs) */
    oldestTask: string;
    leasedLastMinute: string;
    leasedLastHour: string;
  };
}

/** A v1beta2 input error: `invalid` by default, `required` for a missing value. */
export function v1beta2Invalid(
  field: string,
  message: string,
  reason: 'invalid' | 'required' = 'invalid',
): PullqError {
  return new PullqError('invalid_argument', message, { details: { field, reason } });
}

export function requiredMissing(field: string): PullqError {
  return v1beta2Invalid(field, `Required parameter ${field} not specified.`, 'required');
}

/** Web-safe base64 with padding, the alphabet App Engine emitted. */
export function encodePayload(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

const WEB_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes web-safe base64. Missing padding is accepted (App Engine normalised `asdf123` to
 * `asdf120=`); `+` and `/` are refused with 400, as App Engine refused them.
 */
export function decodePayload(text: string, field = 'payloadBase64'): Uint8Array {
  if (/[+/]/.test(text)) {
    throw v1beta2Invalid(
      field,
      `${field} must use the web-safe base64 alphabet ('-' and '_'), not '+' and '/'`,
    );
  }
  const unpadded = text.replace(/=+$/, '');
  if (!WEB_SAFE_BASE64.test(text) || unpadded.length % 4 === 1) {
    throw v1beta2Invalid(field, `${field} is not valid web-safe base64`);
  }
  // Refuse before decoding: the decoded size is known from the length.
  checkPayloadSize(Math.floor((unpadded.length * 3) / 4), field);
  return new Uint8Array(Buffer.from(unpadded, 'base64url'));
}

/** Milliseconds (pullq's unit) to v1beta2 microseconds, as an int64 string. */
export function msToMicros(ms: number): string {
  return (BigInt(Math.round(ms)) * 1000n).toString();
}

/** An int64 from the wire: a JSON string of digits (the canonical form) or a JSON number. */
export function readInt64(value: unknown, field: string): number {
  const parsed =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d{1,19}$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(parsed)) {
    throw v1beta2Invalid(field, `${field} must be an integer (int64, as a string or a number)`);
  }
  return parsed;
}

function readString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw v1beta2Invalid(field, `${field} must be a string`);
  return value;
}

/**
 * The request body as an object. An absent body is `{}`. The 2010 Java sample wrapped
 * bodies JSON-C style (`{"data": {...}}`), so a lone `data` object is unwrapped.
 */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw v1beta2Invalid('body', 'the request body must be a JSON object');
  }
  const object = body as Record<string, unknown>;
  const keys = Object.keys(object);
  const data = object['data'];
  if (keys.length === 1 && typeof data === 'object' && data !== null && !Array.isArray(data)) {
    return data as Record<string, unknown>;
  }
  return object;
}

/** The project of a path: `s~app`, `e~app`, `dev~app` and any `<partition>~` prefix are dropped. */
export function projectFromPath(raw: string): string {
  const project = raw.replace(/^[^~]*~/, '');
  // App ids, including domain-scoped ones (`example.com:app`).
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,99}$/.test(project)) {
    throw v1beta2Invalid('project', `invalid project ${JSON.stringify(raw.slice(0, 120))}`);
  }
  return project;
}

/** The long queue form App Engine used in lease responses. */
export function longQueueName(project: string, queue: string): string {
  return `projects/${project}/taskqueues/${queue}`;
}

/** Does a body's `queueName` (short, or long as lease returns it) name this queue? */
export function queueNameMatches(value: string, queue: string): boolean {
  if (value === queue) return true;
  const long = /^projects\/[^/]+\/taskqueues\/([^/]+)$/.exec(value);
  return long?.[1] === queue;
}

export function taskToV1beta2(
  task: Task,
  options: { queueName: string; includePayload: boolean },
): V1beta2Task {
  return {
    kind: TASK_KIND,
    id: task.id,
    queueName: options.queueName,
    ...(options.includePayload ? { payloadBase64: encodePayload(task.payload) } : {}),
    enqueueTimestamp: msToMicros(task.enqueuedAt),
    // Never leased: the ETA (what AppScale returned), not the 0 the docs promise, so the
    // value is always the time the task becomes (or became) leasable.
    leaseTimestamp: msToMicros(task.eta),
    retry_count: task.attempts,
    ...(task.tag === null ? {} : { tag: task.tag }),
  };
}

export function tasksToV1beta2(items: V1beta2Task[]): V1beta2Tasks {
  // App Engine left `items` out of an empty result; AppScale's tests expect that.
  return items.length === 0 ? { kind: TASKS_KIND } : { kind: TASKS_KIND, items };
}

export function taskQueueToV1beta2(info: QueueInfo, stats: QueueStats | null): V1beta2TaskQueue {
  return {
    kind: TASKQUEUE_KIND,
    id: info.name,
    ...(info.maxLeases === null ? {} : { maxLeases: info.maxLeases }),
    // Filled from the token roles once auth exists.
    acl: { adminEmails: [], consumerEmails: [], producerEmails: [] },
    ...(stats === null
      ? {}
      : {
          stats: {
            totalTasks: stats.ready + stats.delayed + stats.leased,
            oldestTask: String(stats.oldestEta === null ? 0 : Math.floor(stats.oldestEta / 1000)),
            leasedLastMinute: String(stats.leasedLastMinute),
            leasedLastHour: String(stats.leasedLastHour),
          },
        }),
  };
}

export interface ParsedInsert {
  task: NewTask;
  /** As the body gave it, for the caller to check against the path's queue. */
  queueName: string | undefined;
}

/** A tasks.insert body: `payloadBase64` required; `id`, `tag`, `leaseTimestamp` (ETA) optional. */
export function parseInsertBody(body: unknown): ParsedInsert {
  const object = bodyObject(body);
  const payloadBase64 = readString(object, 'payloadBase64');
  if (payloadBase64 === undefined) throw requiredMissing('payloadBase64');
  const task: NewTask = { payload: decodePayload(payloadBase64) };
  const id = readString(object, 'id');
  if (id !== undefined && id !== '') {
    checkTaskId(id, 'id');
    task.id = id;
  }
  const tag = readString(object, 'tag');
  // An empty tag is no tag, as on lease (the SDK only sent a tag when it was truthy).
  if (tag !== undefined && tag !== '') {
    checkTag(tag, 'tag');
    task.tag = tag;
  }
  if (object['leaseTimestamp'] !== undefined && object['leaseTimestamp'] !== null) {
    const micros = readInt64(object['leaseTimestamp'], 'leaseTimestamp');
    if (micros < 0) {
      throw v1beta2Invalid('leaseTimestamp', 'leaseTimestamp must be microseconds since the epoch');
    }
    // 0 is the docs' "never leased" value: treat it as no ETA. Round up so a task never
    // becomes leasable before the microsecond asked for.
    if (micros > 0) task.eta = Math.ceil(micros / 1000);
  }
  return { task, queueName: readString(object, 'queueName') };
}

export interface ParsedLeaseBody {
  /** From the body; App Engine used it over the one in the URL. */
  id: string | undefined;
  queueName: string | undefined;
  /** The lease fence: the `leaseTimestamp` the lease (or the last update) returned, in ms. */
  leaseExpiresAt: number;
}

/** A tasks.update / tasks.patch body: `leaseTimestamp` required, `id` and `queueName` optional. */
export function parseLeaseBody(body: unknown): ParsedLeaseBody {
  const object = bodyObject(body);
  const id = readString(object, 'id');
  if (id !== undefined) checkTaskId(id, 'id');
  const stamp = object['leaseTimestamp'];
  if (stamp === undefined || stamp === null) throw requiredMissing('leaseTimestamp');
  // Internal times are integer ms; a µs value that is not a whole ms matches no lease.
  const leaseExpiresAt = readInt64(stamp, 'leaseTimestamp') / 1000;
  return { id, queueName: readString(object, 'queueName'), leaseExpiresAt };
}
