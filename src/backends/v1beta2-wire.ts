/**
 * v1beta2-wire: the pure half of V1beta2Backend (v1beta2-http.ts). New tasks, lease queries
 * and lease fences out; tasks, leased tasks, stats and queues in; Google's error envelope
 * mapped to catalog codes; and a batch verb run as one request per item, since the API has
 * no batches. The server's side of the same API is protocol/v1beta2.ts.
 */
import { PullqError, errorFromWire, isErrorCode, type ErrorCode } from '../protocol/errors.ts';
import { TASK_ID_PATTERN } from '../protocol/limits.ts';
import {
  decodePayload,
  encodePayload,
  msToMicros,
  readInt64,
  type V1beta2Task,
  type V1beta2TaskQueue,
  type V1beta2Tasks,
} from '../protocol/v1beta2.ts';
import {
  DEFAULT_QUEUE_CONFIG,
  type ItemResult,
  type LeaseRef,
  type LeaseRequest,
  type LeasedTask,
  type NewTask,
  type QueueInfo,
  type QueueStats,
  type Task,
  type TaskState,
} from './backend.ts';

/** Answers are read field by field: a server may leave any field out. */
export type WireTask = Partial<V1beta2Task>;
export type WireTasks = Partial<V1beta2Tasks>;
export type WireQueue = Partial<V1beta2TaskQueue>;

/** What a request is about, which decides what a 404 or a 400 means. */
export type Subject = 'queue' | 'task' | 'fence';

/** App Engine said "The task lease has expired"; pullq says "the lease ... is no longer held". */
const LEASE_MESSAGE = /\blease\b.*\b(expired|no longer held|lost)\b/i;

/** Requests in flight per batch call: one per item would open a connection per item. */
const CONCURRENCY = 16;
/** Errors about one item of a batch; any other error fails the whole call. */
const ITEM_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'invalid_argument',
  'already_exists',
  'payload_too_large',
  'task_not_found',
  'lease_lost',
  'unsupported',
]);

/** Runs `run` per item, CONCURRENCY at a time; item errors become items, others throw. */
export async function eachItem<T, R>(
  items: readonly T[],
  run: (item: T) => Promise<R>,
): Promise<ItemResult<R>[]> {
  const results: ItemResult<R>[] = [];
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await run(items[index] as T) };
      } catch (error) {
        if (error instanceof PullqError && ITEM_CODES.has(error.code)) {
          results[index] = { ok: false, error };
        } else {
          failure ??= { error };
        }
      }
    }
  };
  // Every worker settles before the call returns: no request outlives it.
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

/** The body of tasks.insert. */
export function newTaskToV1beta2(queue: string, task: NewTask): Record<string, string> {
  const body: Record<string, string> = {
    queueName: queue,
    payloadBase64: encodePayload(task.payload),
  };
  if (task.id !== undefined) body['id'] = task.id;
  if (task.tag !== undefined) body['tag'] = task.tag;
  if (task.eta !== undefined) body['leaseTimestamp'] = msToMicros(task.eta);
  return body;
}

/** The query of tasks.lease. */
export function leaseQueryToV1beta2(request: LeaseRequest): Record<string, string> {
  const query: Record<string, string> = {
    numTasks: String(request.max),
    // The API takes whole seconds; rounding up never ends a lease early.
    leaseSecs: String(Math.ceil(request.leaseSeconds)),
  };
  // A tag without groupByTag is refused (the SDK stub raised INVALID_REQUEST).
  if (request.tag !== undefined || request.groupByTag) query['groupByTag'] = 'true';
  if (request.tag !== undefined) query['tag'] = request.tag;
  return query;
}

/** The leaseTimestamp that fences a tasks.update; null for a ref that names no lease of ours. */
export function leaseFence(ref: LeaseRef): string | null {
  if ('token' in ref) return /^\d{1,19}$/.test(ref.token) ? ref.token : null;
  return Number.isFinite(ref.leaseExpiresAt) ? msToMicros(ref.leaseExpiresAt) : null;
}

/** `payload`, when given, is used instead of the answer's (the caller's own bytes). */
export function taskFromV1beta2(
  queue: string,
  wire: WireTask,
  now: number,
  payload?: Uint8Array,
): Task {
  if (typeof wire.id !== 'string') throw badAnswer('a task without an id');
  const eta = Math.ceil(intFromV1beta2(wire.leaseTimestamp, 'leaseTimestamp') / 1000);
  // Servers of the 2012 revision do not send retry_count.
  const attempts = typeof wire.retry_count === 'number' ? wire.retry_count : 0;
  let bytes = payload;
  if (bytes === undefined) {
    try {
      bytes = wire.payloadBase64 ? decodePayload(wire.payloadBase64) : new Uint8Array();
    } catch (error) {
      throw badAnswer('a payloadBase64 that is not web-safe base64', error);
    }
  }
  return {
    queue,
    id: wire.id,
    payload: bytes,
    tag: wire.tag === undefined || wire.tag === '' ? null : wire.tag,
    enqueuedAt:
      wire.enqueueTimestamp === undefined
        ? 0
        : Math.floor(intFromV1beta2(wire.enqueueTimestamp, 'enqueueTimestamp') / 1000),
    eta,
    attempts,
    state: stateOf(eta, attempts, now),
    lastError: null,
    deadLetteredFrom: null,
  };
}

/** The lease token is the task's leaseTimestamp, in µs. */
export function leasedTaskFromV1beta2(queue: string, wire: WireTask, now: number): LeasedTask {
  const task = taskFromV1beta2(queue, wire, now);
  const leaseToken = String(intFromV1beta2(wire.leaseTimestamp, 'leaseTimestamp'));
  return { ...task, state: 'leased', leaseToken };
}

export function statsFromV1beta2(info: WireQueue): QueueStats {
  const stats = info.stats;
  const oldestSeconds = stats ? intFromV1beta2(stats.oldestTask, 'stats.oldestTask') : 0;
  return {
    // totalTasks counts leased and delayed tasks too: the API does not split them.
    ready: stats ? intFromV1beta2(stats.totalTasks, 'stats.totalTasks') : 0,
    delayed: 0,
    leased: 0,
    dead: 0,
    oldestReadyAgeSeconds: null,
    // oldestTask is in seconds (the one v1beta2 time that is not in µs); 0: no task.
    oldestEta: oldestSeconds > 0 ? oldestSeconds * 1000 : null,
    leasedLastMinute: stats ? intFromV1beta2(stats.leasedLastMinute, 'stats.leasedLastMinute') : 0,
    leasedLastHour: stats ? intFromV1beta2(stats.leasedLastHour, 'stats.leasedLastHour') : 0,
  };
}

export function queueInfoFromV1beta2(name: string, info: WireQueue): QueueInfo {
  return {
    ...DEFAULT_QUEUE_CONFIG,
    name,
    // The API does not say when a queue was made.
    createdAt: 0,
    maxLeases: typeof info.maxLeases === 'number' ? info.maxLeases : null,
  };
}

export function isTaskId(id: unknown): id is string {
  return typeof id === 'string' && TASK_ID_PATTERN.test(id);
}

export function badAnswer(what: string, cause?: unknown): PullqError {
  return new PullqError('internal', `the v1beta2 server sent ${what}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Google's envelope `{error: {code, message, errors: [{reason}]}}` as a catalog error. */
export function errorFromGoogle(status: number, body: unknown, subject: Subject): PullqError {
  const inner = (body as { error?: unknown } | null)?.error as
    { code?: unknown; message?: unknown; errors?: { reason?: unknown }[] } | undefined;
  // A pullq route outside v1beta2 (an unknown path) answers in the native form: exact codes.
  if (typeof inner === 'object' && inner !== null && isErrorCode(inner.code)) {
    return errorFromWire(status, body);
  }
  const message =
    typeof inner?.message === 'string'
      ? inner.message
      : typeof body === 'string' && body !== ''
        ? body.slice(0, 200)
        : `HTTP ${status}`;
  const first = Array.isArray(inner?.errors) ? inner.errors[0] : undefined;
  const reason = typeof first?.reason === 'string' ? first.reason : null;
  return new PullqError(codeOf(status, reason, message, subject), message, {
    details: { status, ...(reason === null ? {} : { reason }) },
  });
}

function codeOf(
  status: number,
  reason: string | null,
  message: string,
  subject: Subject,
): ErrorCode {
  switch (status) {
    case 400:
      // App Engine (and pullq, as it) answered a taken or tombstoned id with 400 `duplicate`,
      // and an expired or foreign lease with 400 `invalid`.
      if (reason === 'duplicate') return 'already_exists';
      if (subject === 'fence' && LEASE_MESSAGE.test(message)) return 'lease_lost';
      return reason === 'parseError' ? 'malformed_request' : 'invalid_argument';
    case 401:
      return 'unauthenticated';
    case 403:
      // Google sent quota errors as 403 `rateLimitExceeded` / `userRateLimitExceeded`.
      return reason !== null && /rateLimitExceeded$/i.test(reason)
        ? 'rate_limited'
        : 'permission_denied';
    case 404:
      return subject === 'queue' ? 'queue_not_found' : notFoundOnTask(message);
    case 405:
      return 'method_not_allowed';
    case 409:
      return subject === 'fence' ? 'lease_lost' : 'already_exists';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    case 501:
      return 'unsupported';
    case 502:
    case 503:
      return 'unavailable';
    case 504:
      return 'timeout';
    default:
      return 'internal';
  }
}

/**
 * A 404 on a task's path is about the queue or the task; only the message tells. Quoted names
 * are dropped first, so a queue called "task-1" cannot mislead: App Engine said "Queue not
 * found.", pullq says `queue "q" does not exist` or `task "t" is not in queue "q"`.
 */
function notFoundOnTask(message: string): ErrorCode {
  const bare = message.replace(/"[^"]*"/g, '');
  return /^\W*queue\b/i.test(bare) ? 'queue_not_found' : 'task_not_found';
}

/**
 * The API does not say whether a task is leased. A future leaseTimestamp on a task leased
 * before is read as a running lease (a release with a delay looks the same); on a task never
 * leased, as a delay.
 */
function stateOf(eta: number, attempts: number, now: number): TaskState {
  if (eta <= now) return 'ready';
  return attempts > 0 ? 'leased' : 'delayed';
}

function intFromV1beta2(value: unknown, field: string): number {
  try {
    return readInt64(value, field);
  } catch (error) {
    throw badAnswer(`${field} that is not an integer`, error);
  }
}
