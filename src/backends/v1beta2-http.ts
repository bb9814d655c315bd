/**
 * v1beta2: any App Engine Task Queue REST API v1beta2 server (Google's, long gone, or the
 * /taskqueue/v1beta2 routes of `pullq serve`), with undici.
 *
 * URL: the server's root, `http://host:port[/prefix]`; requests go to
 * `<root>/taskqueue/v1beta2/projects/<project>/taskqueues/<queue>/...`.
 * Capabilities: tags and list. No long-poll (`waitSeconds` is ignored), no dead letters, no
 * queue administration (App Engine queues came from queue.yaml), approximate stats.
 * Options: `url`; `project` (the App Engine app id); `hrdProject` (insert and delete address
 * `s~<project>`, as the 2013 seed did for High-Replication apps); `token` (sent as
 * `Authorization: Bearer`); `headers`; `dispatcher` (the caller closes it); `timeoutMs` (per
 * request, default 30 s); `clock` (reads task states and checks ETAs).
 *
 * The API has no batches: a batch verb sends one request per item, 16 at a time, in order.
 * The lease token is the task's `leaseTimestamp` (µs, a string of digits): the API fences
 * tasks.update by it and every update hands out a new one, so extend answers LeasedTasks
 * whose token replaces the old one.
 *
 * Costs and approximations:
 * - ack is two requests. tasks.delete is not fenced, and an unfenced delete could remove a
 *   task another worker leased after our lease ran out; so ack first moves the lease 60 s on
 *   with a fenced tasks.update (it fails once the lease is no longer ours, and while it holds
 *   nobody else can lease the task), and only then deletes.
 * - stats: `ready` is the queue's totalTasks, which counts leased and delayed tasks too;
 *   delayed, leased and dead are 0.
 * - list: one tasks.list (at most 100 tasks on App Engine, no paging: nextCursor is always
 *   null); the state is read from leaseTimestamp and retry_count; payloads cost a tasks.get each.
 *
 * Failures: Google's error envelope, mapped to catalog codes by status and reason (both kept
 * in `details`); an unreachable server is `unavailable` and a slow one `timeout`, both
 * retryable. A whole-call failure in a batch throws, though items sent before it may have
 * been applied. Nothing is retried here.
 */
import { Pool, type Dispatcher } from 'undici';
import { PullqError, errorFromWire, isErrorCode, type ErrorCode } from '../protocol/errors.ts';
import { TASK_ID_PATTERN, checkQueueName } from '../protocol/limits.ts';
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
  systemClock,
  type Backend,
  type Capabilities,
  type Clock,
  type ItemResult,
  type LeaseRef,
  type LeaseRequest,
  type LeasedTask,
  type ListRequest,
  type NewTask,
  type QueueConfig,
  type QueueInfo,
  type QueueStats,
  type RedriveRequest,
  type ReleaseRequest,
  type Task,
  type TaskPage,
  type TaskState,
} from './backend.ts';
import {
  checkIds,
  checkInsert,
  checkLease,
  checkLeaseSeconds,
  checkList,
  checkRefs,
  checkReleases,
  leaseLost,
  queueNotFound,
} from './common.ts';

export interface V1beta2BackendOptions {
  /** The server's root, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The App Engine app id the queues belong to. */
  project: string;
  /** Insert and delete use the project `s~<project>`. Default false. */
  hrdProject?: boolean;
  token?: string;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  /** How long one request may take, in ms. Default 30 s. */
  timeoutMs?: number;
  clock?: Clock;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Requests in flight per batch call: one per item would open a connection per item. */
const CONCURRENCY = 16;
/** How long ack's fence holds the task: the delete that follows needs one round trip. */
const ACK_FENCE_SECONDS = 60;
/** App ids, domain-scoped ones included, with an optional `<partition>~` prefix. */
const PROJECT_PATTERN = /^([a-z]+~)?[a-zA-Z0-9][a-zA-Z0-9._:-]{0,99}$/;
/** App Engine said "The task lease has expired"; pullq says "the lease ... is no longer held". */
const LEASE_MESSAGE = /\blease\b.*\b(expired|no longer held|lost)\b/i;
/** Errors about one item of a batch; any other error fails the whole call. */
const ITEM_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'invalid_argument',
  'already_exists',
  'payload_too_large',
  'task_not_found',
  'lease_lost',
  'unsupported',
]);

/** What a request is about, which decides what a 404 or a 400 means. */
type Subject = 'queue' | 'task' | 'fence';

interface CallOptions {
  /** Default `queue`. */
  about?: Subject;
  query?: Record<string, string>;
  body?: unknown;
  /** The project of the path; insert and delete may use the HRD form. */
  project?: string;
  signal?: AbortSignal;
}

type WireTask = Partial<V1beta2Task>;
type WireTasks = Partial<V1beta2Tasks>;
type WireQueue = Partial<V1beta2TaskQueue>;
const TASK: CallOptions = { about: 'task' };

export class V1beta2Backend implements Backend {
  readonly capabilities: Capabilities = {
    longPoll: false,
    tags: true,
    list: true,
    exactStats: false,
    deadLetters: false,
    queueAdmin: false,
  };
  readonly #origin: string;
  readonly #root: string;
  readonly #project: string;
  readonly #writeProject: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #headers: Record<string, string>;
  readonly #jsonHeaders: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  #closed = false;

  constructor(options: V1beta2BackendOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new PullqError('invalid_argument', `the v1beta2 backend needs an http(s) URL`, {
        details: { field: 'url' },
      });
    }
    if (!PROJECT_PATTERN.test(options.project)) {
      throw new PullqError(
        'invalid_argument',
        `invalid project ${JSON.stringify(options.project)}: the App Engine app id, e.g. "my-app"`,
        { details: { field: 'project' } },
      );
    }
    this.#origin = url.origin;
    this.#root = `${url.pathname.replace(/\/+$/, '')}/taskqueue/v1beta2/projects`;
    this.#project = options.project;
    this.#writeProject = options.hrdProject ? `s~${options.project}` : options.project;
    this.#dispatcher = options.dispatcher ?? new Pool(url.origin, { pipelining: 1 });
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#headers = {
      accept: 'application/json',
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    };
    this.#jsonHeaders = { ...this.#headers, 'content-type': 'application/json' };
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#clock = options.clock ?? systemClock;
  }

  /** `createQueue` is ignored: the API cannot create queues, so the queue must exist. */
  async insert(queue: string, tasks: NewTask[]): Promise<ItemResult<Task>[]> {
    checkInsert(queue, tasks, this.#clock.now());
    return this.#each(tasks, async (task) => {
      const body: Record<string, string> = {
        queueName: queue,
        payloadBase64: encodePayload(task.payload),
      };
      if (task.id !== undefined) body['id'] = task.id;
      if (task.tag !== undefined) body['tag'] = task.tag;
      if (task.eta !== undefined) body['leaseTimestamp'] = msToMicros(task.eta);
      const wire = await this.#call<WireTask>('POST', queue, '/tasks', {
        body,
        project: this.#writeProject,
      });
      // The caller's bytes are the task's; no need to decode them back.
      return this.#task(queue, wire, task.payload);
    });
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    checkLease(queue, request);
    if (request.signal?.aborted) return [];
    const query: Record<string, string> = {
      numTasks: String(request.max),
      // The API takes whole seconds; rounding up never ends a lease early.
      leaseSecs: String(Math.ceil(request.leaseSeconds)),
    };
    // A tag without groupByTag is refused (the SDK stub raised INVALID_REQUEST).
    if (request.tag !== undefined || request.groupByTag) query['groupByTag'] = 'true';
    if (request.tag !== undefined) query['tag'] = request.tag;
    try {
      const signal = request.signal ? { signal: request.signal } : {};
      const answer = await this.#call<WireTasks>('POST', queue, '/tasks/lease', {
        query,
        ...signal,
      });
      return (answer.items ?? []).map((wire) => this.#leased(queue, wire));
    } catch (error) {
      if (request.signal?.aborted) return [];
      throw error;
    }
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    checkRefs(queue, refs);
    return this.#each(refs, async (ref) => {
      await this.#update(queue, ref, ACK_FENCE_SECONDS);
      try {
        await this.#delete(queue, ref.id);
      } catch (error) {
        // Someone deleted it (unfenced) between our fence and our delete.
        if (error instanceof PullqError && error.code === 'task_not_found') throw leaseLost(ref.id);
        throw error;
      }
      return null;
    });
  }

  /** Unlike the native verb, the token changes: the answers are LeasedTasks with the new one. */
  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    checkRefs(queue, refs);
    checkLeaseSeconds(leaseSeconds);
    return this.#each(refs, async (ref) =>
      this.#leased(queue, await this.#update(queue, ref, Math.ceil(leaseSeconds))),
    );
  }

  /** The `error` note is dropped: the API has nowhere to keep it. */
  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    checkReleases(queue, releases);
    return this.#each(releases, async (release) => {
      if (release.deadLetter) {
        throw new PullqError(
          'unsupported',
          'the v1beta2 API has no dead letters: release without deadLetter, or delete the task',
          { details: { id: release.ref.id } },
        );
      }
      const seconds = Math.ceil(release.delaySeconds ?? 0);
      return this.#task(queue, await this.#update(queue, release.ref, seconds));
    });
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    checkIds(queue, ids);
    return this.#each(ids, async (id) => {
      await this.#delete(queue, id);
      return null;
    });
  }

  async get(queue: string, id: string): Promise<Task | null> {
    checkQueueName(queue);
    // No task can have an id outside the pattern: only the queue is worth asking about.
    if (!TASK_ID_PATTERN.test(id)) {
      if ((await this.getQueue(queue)) === null) throw queueNotFound(queue);
      return null;
    }
    try {
      return this.#task(queue, await this.#call<WireTask>('GET', queue, `/tasks/${id}`, TASK));
    } catch (error) {
      if (error instanceof PullqError && error.code === 'task_not_found') return null;
      throw error;
    }
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    checkList(queue, request);
    const answer = await this.#call<WireTasks>('GET', queue, '/tasks');
    const now = this.#clock.now();
    const tasks = (answer.items ?? [])
      .map((wire) => this.#task(queue, wire, undefined, now))
      .filter(
        (task) =>
          (request.state === undefined || task.state === request.state) &&
          (request.tag === undefined || task.tag === request.tag),
      )
      .slice(0, request.limit);
    if (!request.includePayload) return { tasks, nextCursor: null };
    // tasks.list never carries payloads; a task gone since the list is left out.
    const full = await this.#each(tasks, async (task) => this.get(queue, task.id));
    const withPayloads = full.flatMap((item) => (item.ok && item.value ? [item.value] : []));
    return { tasks: withPayloads, nextCursor: null };
  }

  async stats(queue: string): Promise<QueueStats> {
    const info = await this.#call<WireQueue>('GET', queue, '', {
      query: { getStats: 'true' },
    });
    const stats = info.stats;
    const oldestSeconds = stats ? this.#int(stats.oldestTask, 'stats.oldestTask') : 0;
    return {
      // totalTasks counts leased and delayed tasks too: the API does not split them.
      ready: stats ? this.#int(stats.totalTasks, 'stats.totalTasks') : 0,
      delayed: 0,
      leased: 0,
      dead: 0,
      oldestReadyAgeSeconds: null,
      // oldestTask is in seconds (the one v1beta2 time that is not in µs); 0: no task.
      oldestEta: oldestSeconds > 0 ? oldestSeconds * 1000 : null,
      leasedLastMinute: stats ? this.#int(stats.leasedLastMinute, 'stats.leasedLastMinute') : 0,
      leasedLastHour: stats ? this.#int(stats.leasedLastHour, 'stats.leasedLastHour') : 0,
    };
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    let info: WireQueue;
    try {
      info = await this.#call<WireQueue>('GET', name, '');
    } catch (error) {
      if (error instanceof PullqError && error.code === 'queue_not_found') return null;
      throw error;
    }
    return {
      ...DEFAULT_QUEUE_CONFIG,
      name,
      // The API does not say when a queue was made.
      createdAt: 0,
      maxLeases: typeof info.maxLeases === 'number' ? info.maxLeases : null,
    };
  }

  createQueue(_name: string, _config?: Partial<QueueConfig>): Promise<QueueInfo> {
    return notInApi('createQueue', 'create the queue on the server (pullq queue create)');
  }

  updateQueue(_name: string, _patch: Partial<QueueConfig>): Promise<QueueInfo> {
    return notInApi('updateQueue', 'change it on the server (pullq queue update)');
  }

  deleteQueue(_name: string): Promise<void> {
    return notInApi('deleteQueue', 'delete it on the server (pullq queue delete)');
  }

  listQueues(): Promise<QueueInfo[]> {
    return notInApi('listQueues', 'use the native protocol, or pullq queue list');
  }

  redrive(_queue: string, _request?: RedriveRequest): Promise<number> {
    return notInApi('redrive', 'the API has no dead letters; use the native protocol');
  }

  /**
   * Lists and deletes until the list comes back empty (tasks.list returns at most 100). Leased
   * tasks go too. Stops when a round deletes nothing, so a task that will not go cannot loop.
   */
  async purgeQueue(name: string): Promise<number> {
    let purged = 0;
    for (;;) {
      const answer = await this.#call<WireTasks>('GET', name, '/tasks');
      const ids = (answer.items ?? []).map((wire) => wire.id).filter(isTaskId);
      if (ids.length === 0) return purged;
      const results = await this.delete(name, ids);
      const deleted = results.filter((result) => result.ok).length;
      if (deleted === 0) return purged;
      purged += deleted;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** tasks.update fenced by the ref's lease; answers the task with its new leaseTimestamp. */
  async #update(queue: string, ref: LeaseRef, newLeaseSeconds: number): Promise<WireTask> {
    const fence =
      'token' in ref
        ? /^\d{1,19}$/.test(ref.token)
          ? ref.token
          : null
        : Number.isFinite(ref.leaseExpiresAt)
          ? msToMicros(ref.leaseExpiresAt)
          : null;
    // A token this backend could not have handed out names no lease.
    if (fence === null) throw leaseLost(ref.id);
    // POST .../tasks/lease is the lease method, so a task named `lease` is updated with
    // tasks.patch (the same change; it needs queueName, which the body has anyway).
    return this.#call<WireTask>(ref.id === 'lease' ? 'PATCH' : 'POST', queue, `/tasks/${ref.id}`, {
      about: 'fence',
      query: { newLeaseSeconds: String(newLeaseSeconds) },
      body: { id: ref.id, queueName: queue, leaseTimestamp: fence },
    });
  }

  async #delete(queue: string, id: string): Promise<void> {
    await this.#call<undefined>('DELETE', queue, `/tasks/${id}`, {
      about: 'task',
      project: this.#writeProject,
    });
  }

  /** Runs `run` per item, CONCURRENCY at a time; item errors become items, others throw. */
  async #each<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<ItemResult<R>[]> {
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

  #task(queue: string, wire: WireTask, payload?: Uint8Array, now = this.#clock.now()): Task {
    if (typeof wire.id !== 'string') throw badAnswer('a task without an id');
    const eta = Math.ceil(this.#int(wire.leaseTimestamp, 'leaseTimestamp') / 1000);
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
          : Math.floor(this.#int(wire.enqueueTimestamp, 'enqueueTimestamp') / 1000),
      eta,
      attempts,
      state: stateOf(eta, attempts, now),
      lastError: null,
      deadLetteredFrom: null,
    };
  }

  #leased(queue: string, wire: WireTask): LeasedTask {
    const task = this.#task(queue, wire);
    const leaseToken = String(this.#int(wire.leaseTimestamp, 'leaseTimestamp'));
    return { ...task, state: 'leased', leaseToken };
  }

  #int(value: unknown, field: string): number {
    try {
      return readInt64(value, field);
    } catch (error) {
      throw badAnswer(`${field} that is not an integer`, error);
    }
  }

  /** One request to a queue's path: JSON in, JSON out; any failure as a catalog error. */
  async #call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    queue: string,
    subPath: string,
    options: CallOptions = {},
  ): Promise<T> {
    if (this.#closed) throw new PullqError('unavailable', 'the backend is closed');
    // A queue name that is not valid could change the path.
    checkQueueName(queue);
    const project = encodeURIComponent(options.project ?? this.#project);
    const where = `${this.#root}/${project}/taskqueues/${queue}${subPath}`;
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    let status: number;
    let text: string;
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: where + query,
        method,
        headers: options.body === undefined ? this.#headers : this.#jsonHeaders,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: options.signal ?? null,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw this.#transportError(error, `${method} ${this.#origin}${where}`);
    }
    if (status >= 200 && status < 300) {
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw badAnswer(`${method} ${where}: an answer that is not JSON`, error);
      }
    }
    throw errorFromGoogle(status, parseOrText(text), options.about ?? 'queue');
  }

  // Duplicated from http.ts (a few lines; that file is not this one's to change).
  #transportError(error: unknown, where: string): PullqError {
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return new PullqError('timeout', `${where} took too long: ${message}`, {
        cause: error,
        details: { code },
      });
    }
    if ((code !== undefined && UNAVAILABLE_CODES.has(code)) || this.#closed) {
      return new PullqError('unavailable', `${where} failed: ${message}`, {
        cause: error,
        details: { code: code ?? null },
      });
    }
    return new PullqError('internal', `${where} failed: ${message}`, { cause: error });
  }
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

function isTaskId(id: unknown): id is string {
  return typeof id === 'string' && TASK_ID_PATTERN.test(id);
}

function notInApi(verb: string, instead: string): Promise<never> {
  return Promise.reject(
    new PullqError('unsupported', `${verb} is not part of the v1beta2 API: ${instead}`, {
      details: { verb },
    }),
  );
}

function badAnswer(what: string, cause?: unknown): PullqError {
  return new PullqError('internal', `the v1beta2 server sent ${what}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Google's envelope `{error: {code, message, errors: [{reason}]}}` as a catalog error. */
function errorFromGoogle(status: number, body: unknown, subject: Subject): PullqError {
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

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Socket-level failures: the request may or may not have reached the server. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The system or undici code of a failure, also inside an AggregateError or a cause. */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined ? undefined : errorCode(cause);
}
