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
import type { Dispatcher } from 'undici';
import { PullqError } from '../protocol/errors.ts';
import { TASK_ID_PATTERN, checkQueueName } from '../protocol/limits.ts';
import {
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
import {
  httpClient,
  parseOrText,
  sendRequest,
  type JsonRequest,
  type HttpClient,
} from './http-transport.ts';
import {
  badAnswer,
  eachItem,
  errorFromGoogle,
  isTaskId,
  leaseFence,
  leaseQueryToV1beta2,
  leasedTaskFromV1beta2,
  newTaskToV1beta2,
  queueInfoFromV1beta2,
  statsFromV1beta2,
  taskFromV1beta2,
  type Subject,
  type WireQueue,
  type WireTask,
  type WireTasks,
} from './v1beta2-wire.ts';

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

/** How long ack's fence holds the task: the delete that follows needs one round trip. */
const ACK_FENCE_SECONDS = 60;
/** App ids, domain-scoped ones included, with an optional `<partition>~` prefix. */
const PROJECT_PATTERN = /^([a-z]+~)?[a-zA-Z0-9][a-zA-Z0-9._:-]{0,99}$/;

interface CallOptions {
  /** Default `queue`. */
  about?: Subject;
  query?: Record<string, string>;
  body?: unknown;
  /** The project of the path; insert and delete may use the HRD form. */
  project?: string;
  signal?: AbortSignal;
}

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
  readonly #client: HttpClient;
  readonly #root: string;
  readonly #project: string;
  readonly #writeProject: string;
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
    this.#client = httpClient(url.origin, options);
    this.#clock = options.clock ?? systemClock;
  }

  /** `createQueue` is ignored: the API cannot create queues, so the queue must exist. */
  async insert(queue: string, tasks: NewTask[]): Promise<ItemResult<Task>[]> {
    checkInsert(queue, tasks, this.#clock.now());
    return eachItem(tasks, async (task) => {
      const wire = await this.#call<WireTask>('POST', queue, '/tasks', {
        body: newTaskToV1beta2(queue, task),
        project: this.#writeProject,
      });
      // The caller's bytes are the task's; no need to decode them back.
      return taskFromV1beta2(queue, wire, this.#clock.now(), task.payload);
    });
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    checkLease(queue, request);
    if (request.signal?.aborted) return [];
    const query = leaseQueryToV1beta2(request);
    try {
      const signal = request.signal ? { signal: request.signal } : {};
      const answer = await this.#call<WireTasks>('POST', queue, '/tasks/lease', {
        query,
        ...signal,
      });
      return (answer.items ?? []).map((wire) =>
        leasedTaskFromV1beta2(queue, wire, this.#clock.now()),
      );
    } catch (error) {
      if (request.signal?.aborted) return [];
      throw error;
    }
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    checkRefs(queue, refs);
    return eachItem(refs, async (ref) => {
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
    return eachItem(refs, async (ref) => {
      const wire = await this.#update(queue, ref, Math.ceil(leaseSeconds));
      return leasedTaskFromV1beta2(queue, wire, this.#clock.now());
    });
  }

  /** The `error` note is dropped: the API has nowhere to keep it. */
  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    checkReleases(queue, releases);
    return eachItem(releases, async (release) => {
      if (release.deadLetter) {
        throw new PullqError(
          'unsupported',
          'the v1beta2 API has no dead letters: release without deadLetter, or delete the task',
          { details: { id: release.ref.id } },
        );
      }
      const seconds = Math.ceil(release.delaySeconds ?? 0);
      const wire = await this.#update(queue, release.ref, seconds);
      return taskFromV1beta2(queue, wire, this.#clock.now());
    });
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    checkIds(queue, ids);
    return eachItem(ids, async (id) => {
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
      const wire = await this.#call<WireTask>('GET', queue, `/tasks/${id}`, TASK);
      return taskFromV1beta2(queue, wire, this.#clock.now());
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
      .map((wire) => taskFromV1beta2(queue, wire, now))
      .filter(
        (task) =>
          (request.state === undefined || task.state === request.state) &&
          (request.tag === undefined || task.tag === request.tag),
      )
      .slice(0, request.limit);
    if (!request.includePayload) return { tasks, nextCursor: null };
    // tasks.list never carries payloads; a task gone since the list is left out.
    const full = await eachItem(tasks, async (task) => this.get(queue, task.id));
    const withPayloads = full.flatMap((item) => (item.ok && item.value ? [item.value] : []));
    return { tasks: withPayloads, nextCursor: null };
  }

  async stats(queue: string): Promise<QueueStats> {
    const info = await this.#call<WireQueue>('GET', queue, '', {
      query: { getStats: 'true' },
    });
    return statsFromV1beta2(info);
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    let info: WireQueue;
    try {
      info = await this.#call<WireQueue>('GET', name, '');
    } catch (error) {
      if (error instanceof PullqError && error.code === 'queue_not_found') return null;
      throw error;
    }
    return queueInfoFromV1beta2(name, info);
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
    if (this.#client.ownsDispatcher) await this.#client.dispatcher.close();
  }

  /** tasks.update fenced by the ref's lease; answers the task with its new leaseTimestamp. */
  async #update(queue: string, ref: LeaseRef, newLeaseSeconds: number): Promise<WireTask> {
    const fence = leaseFence(ref);
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

  /** One request to a queue's path: JSON in, JSON out; any failure as a catalog error. */
  async #call<T>(
    method: JsonRequest['method'],
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
    const { status, text } = await sendRequest(
      this.#client.dispatcher,
      {
        origin: this.#origin,
        path: where + query,
        method,
        headers: options.body === undefined ? this.#client.headers : this.#client.jsonHeaders,
        body: options.body,
        signal: options.signal,
        timeoutMs: this.#client.timeoutMs,
      },
      `${method} ${this.#origin}${where}`,
      () => this.#closed,
    );
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
}

function notInApi(verb: string, instead: string): Promise<never> {
  return Promise.reject(
    new PullqError('unsupported', `${verb} is not part of the v1beta2 API: ${instead}`, {
      details: { verb },
    }),
  );
}
