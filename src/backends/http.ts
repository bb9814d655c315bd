/**
 * http: a pullq server, over its native v1 API (docs/protocol.md), with undici.
 *
 * URL: `http://host:port` or `https://host:port/prefix` (the server's root).
 * Capabilities: all; the server's own backend answers `unsupported` for what it lacks.
 * Options: `url`; `token` (sent as `Authorization: Bearer`); `headers` (added to every
 * request); `dispatcher` (an undici Dispatcher to use instead of an own keep-alive Pool; the
 * caller closes it); `timeoutMs` (per request, default 30 s; a long-poll adds its wait).
 *
 * Each verb is one request. Failures are the server's `PullqError` (same code, message and
 * details); a server that cannot be reached, or drops the connection, is `unavailable`, and a
 * request that outlives `timeoutMs` is `timeout`: both retryable. Nothing is retried here.
 */
import type { Dispatcher } from 'undici';
import { PullqError, errorFromWire } from '../protocol/errors.ts';
import { TASK_ID_PATTERN, checkQueueName } from '../protocol/limits.ts';
import {
  errorItemFromWire,
  leaseRefToWire,
  leasedTaskFromWire,
  newTaskToWire,
  releaseToWire,
  taskFromWire,
  type WireItemResult,
  type WireQueue,
  type WireStats,
  type WireTask,
} from '../protocol/native.ts';
import type {
  Backend,
  Capabilities,
  InsertOptions,
  ItemResult,
  LeaseRef,
  LeaseRequest,
  LeasedTask,
  ListRequest,
  NewTask,
  QueueConfig,
  QueueInfo,
  QueueStats,
  RedriveRequest,
  ReleaseRequest,
  Task,
  TaskPage,
} from './backend.ts';
import { queueNotFound } from './common.ts';
import {
  httpClient,
  parseOrText,
  sendRequest,
  type JsonRequest,
  type HttpClient,
} from './http-transport.ts';

export interface HttpBackendOptions {
  /** The server's root, e.g. `http://127.0.0.1:8080`. */
  url: string;
  token?: string;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  /** How long one request may take, in ms; a long-poll adds its `waitSeconds`. Default 30 s. */
  timeoutMs?: number;
}

type Method = JsonRequest['method'];

export class HttpBackend implements Backend {
  readonly capabilities: Capabilities = {
    longPoll: true,
    tags: true,
    list: true,
    exactStats: true,
    deadLetters: true,
    queueAdmin: true,
  };
  readonly #origin: string;
  readonly #client: HttpClient;
  readonly #base: string;
  /** Ends running long-polls on close(), as a closing backend does. */
  readonly #closing = new AbortController();
  #closed = false;

  constructor(options: HttpBackendOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new PullqError(
        'invalid_argument',
        `the http backend needs an http(s) URL, got ${url.protocol}`,
        {
          details: { field: 'url' },
        },
      );
    }
    this.#origin = url.origin;
    this.#base = `${url.pathname.replace(/\/+$/, '')}/v1`;
    this.#client = httpClient(url.origin, options);
  }

  async insert(
    queue: string,
    tasks: NewTask[],
    options: InsertOptions = {},
  ): Promise<ItemResult<Task>[]> {
    const answer = await this.#call<{ results: WireItemResult[] }>(
      'POST',
      `${queuePath(queue)}/tasks`,
      { tasks: tasks.map(newTaskToWire), createQueue: options.createQueue ?? false },
    );
    // The answer leaves payloads out: the caller's own bytes are the task's.
    return answer.results.map((result, index) =>
      result.ok && result.task
        ? { ok: true, value: taskFromWire(result.task, tasks[index]?.payload) }
        : { ok: false, error: errorItemFromWire(result) },
    );
  }

  async lease(queue: string, request: LeaseRequest): Promise<LeasedTask[]> {
    const path = `${queuePath(queue)}/lease`;
    const body: Record<string, unknown> = { max: request.max, leaseSeconds: request.leaseSeconds };
    if (request.tag !== undefined) body['tag'] = request.tag;
    if (request.groupByTag !== undefined) body['groupByTag'] = request.groupByTag;
    const wait = request.waitSeconds ?? 0;
    // An already-aborted wait still leases what is ready now, without waiting.
    if (wait === 0 || request.signal?.aborted || this.#closing.signal.aborted) {
      if (request.waitSeconds !== undefined) body['waitSeconds'] = 0;
      return (await this.#call<{ tasks: WireTask[] }>('POST', path, body)).tasks.map(
        leasedTaskFromWire,
      );
    }
    if (request.signal !== undefined) {
      // An abort cuts the request, and an answer already on its way would be lost with it: its
      // tasks stay leased until their lease runs out (the server cannot tell its answer was
      // dropped). So what is ready now is leased first, by a request no signal cuts; only an
      // empty queue is waited on, where an abort almost always finds nothing leased.
      body['waitSeconds'] = 0;
      const ready = await this.#call<{ tasks: WireTask[] }>('POST', path, body);
      if (ready.tasks.length > 0 || request.signal.aborted) {
        return ready.tasks.map(leasedTaskFromWire);
      }
    }
    body['waitSeconds'] = wait;
    const signal = request.signal
      ? AbortSignal.any([request.signal, this.#closing.signal])
      : this.#closing.signal;
    try {
      const answer = await this.#call<{ tasks: WireTask[] }>('POST', path, body, {
        signal,
        timeoutMs: this.#client.timeoutMs + wait * 1000,
      });
      return answer.tasks.map(leasedTaskFromWire);
    } catch (error) {
      // Ended early: return what we have (nothing). The server sees the connection close and
      // gives back anything it leased in that instant.
      if (signal.aborted) return [];
      throw error;
    }
  }

  async ack(queue: string, refs: LeaseRef[]): Promise<ItemResult<null>[]> {
    const answer = await this.#call<{ results: WireItemResult[] }>(
      'POST',
      `${queuePath(queue)}/ack`,
      { leases: refs.map(leaseRefToWire) },
    );
    return answer.results.map(emptyResult);
  }

  async extend(queue: string, refs: LeaseRef[], leaseSeconds: number): Promise<ItemResult<Task>[]> {
    const answer = await this.#call<{ results: WireItemResult[] }>(
      'POST',
      `${queuePath(queue)}/extend`,
      { leases: refs.map(leaseRefToWire), leaseSeconds },
    );
    return answer.results.map(taskResult);
  }

  async release(queue: string, releases: ReleaseRequest[]): Promise<ItemResult<Task>[]> {
    const answer = await this.#call<{ results: WireItemResult[] }>(
      'POST',
      `${queuePath(queue)}/release`,
      { leases: releases.map(releaseToWire) },
    );
    return answer.results.map(taskResult);
  }

  async delete(queue: string, ids: string[]): Promise<ItemResult<null>[]> {
    const answer = await this.#call<{ results: WireItemResult[] }>(
      'POST',
      `${queuePath(queue)}/delete`,
      { ids },
    );
    return answer.results.map(emptyResult);
  }

  async get(queue: string, id: string): Promise<Task | null> {
    // No task can have an id outside the pattern (and it may not fit in a path): only the
    // queue is worth asking about.
    if (!TASK_ID_PATTERN.test(id)) {
      if ((await this.getQueue(queue)) === null) throw queueNotFound(queue);
      return null;
    }
    try {
      const wire = await this.#call<WireTask>('GET', `${queuePath(queue)}/tasks/${id}`);
      return taskFromWire(wire);
    } catch (error) {
      if (error instanceof PullqError && error.code === 'task_not_found') return null;
      throw error;
    }
  }

  async list(queue: string, request: ListRequest): Promise<TaskPage> {
    const query = new URLSearchParams({ limit: String(request.limit) });
    if (request.state !== undefined) query.set('state', request.state);
    if (request.tag !== undefined) query.set('tag', request.tag);
    if (request.cursor !== undefined) query.set('cursor', request.cursor);
    if (request.includePayload) query.set('payload', 'true');
    const answer = await this.#call<{ tasks: WireTask[]; nextCursor: string | null }>(
      'GET',
      `${queuePath(queue)}/tasks?${query.toString()}`,
    );
    return { tasks: answer.tasks.map((task) => taskFromWire(task)), nextCursor: answer.nextCursor };
  }

  async stats(queue: string): Promise<QueueStats> {
    return this.#call<WireStats>('GET', `${queuePath(queue)}/stats`);
  }

  async redrive(queue: string, request: RedriveRequest = {}): Promise<number> {
    const answer = await this.#call<{ redriven: number }>(
      'POST',
      `${queuePath(queue)}/redrive`,
      request.ids === undefined ? {} : { ids: request.ids },
    );
    return answer.redriven;
  }

  async createQueue(name: string, config: Partial<QueueConfig> = {}): Promise<QueueInfo> {
    checkQueueName(name);
    return this.#call<WireQueue>('POST', '/queues', { ...config, name });
  }

  async getQueue(name: string): Promise<QueueInfo | null> {
    try {
      return await this.#call<WireQueue>('GET', queuePath(name));
    } catch (error) {
      if (error instanceof PullqError && error.code === 'queue_not_found') return null;
      throw error;
    }
  }

  async updateQueue(name: string, patch: Partial<QueueConfig>): Promise<QueueInfo> {
    return this.#call<WireQueue>('PATCH', queuePath(name), patch);
  }

  async deleteQueue(name: string): Promise<void> {
    await this.#call<undefined>('DELETE', queuePath(name));
  }

  async listQueues(): Promise<QueueInfo[]> {
    return (await this.#call<{ queues: WireQueue[] }>('GET', '/queues')).queues;
  }

  async purgeQueue(name: string): Promise<number> {
    return (await this.#call<{ purged: number }>('POST', `${queuePath(name)}/purge`)).purged;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    if (this.#client.ownsDispatcher) await this.#client.dispatcher.close();
  }

  /** One request: JSON in, JSON out; any failure as a catalog error. */
  async #call<T>(
    method: Method,
    path: string,
    body?: unknown,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.#closed) throw new PullqError('unavailable', 'the backend is closed');
    const timeout = options.timeoutMs ?? this.#client.timeoutMs;
    const { status, text } = await sendRequest(
      this.#client.dispatcher,
      {
        origin: this.#origin,
        path: this.#base + path,
        method,
        headers: body === undefined ? this.#client.headers : this.#client.jsonHeaders,
        body,
        signal: options.signal,
        timeoutMs: timeout,
      },
      `${method} ${this.#origin}${this.#base}${path.split('?')[0] ?? ''}`,
      () => this.#closed,
    );
    if (status >= 200 && status < 300) {
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw new PullqError('internal', `${method} ${path}: the answer is not JSON`, {
          cause: error,
          details: { status },
        });
      }
    }
    throw errorFromWire(status, parseOrText(text));
  }
}

/** Queue names are checked here too: one that is not valid could change the path. */
function queuePath(queue: string): string {
  checkQueueName(queue);
  return `/queues/${queue}`;
}

function taskResult(result: WireItemResult): ItemResult<Task> {
  return result.ok && result.task
    ? { ok: true, value: taskFromWire(result.task) }
    : { ok: false, error: errorItemFromWire(result) };
}

function emptyResult(result: WireItemResult): ItemResult<null> {
  return result.ok ? { ok: true, value: null } : { ok: false, error: errorItemFromWire(result) };
}
