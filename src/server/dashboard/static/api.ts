/// <reference lib="dom" />
/**
 * The dashboard's client of the native v1 API (docs/protocol.md). Every call carries the
 * signed-in token as `Authorization: Bearer`; the server checks it like any other caller's.
 * A failure becomes an ApiError with the catalog code and the server's message, which the
 * page shows as it is. A 401 during a session (a revoked or expired token) signs out.
 */

export interface Queue {
  name: string;
  createdAt: number;
  maxLeases: number | null;
  deadLetterQueue: string | null;
  dedupWindowSeconds: number;
  paused: boolean;
}

export interface Stats {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  oldestReadyAgeSeconds: number | null;
  oldestEta: number | null;
  leasedLastMinute: number;
  leasedLastHour: number;
}

export type QueueWithStats = Queue & { stats: Stats };

export type TaskState = 'ready' | 'delayed' | 'leased' | 'dead';

export interface Task {
  queue: string;
  id: string;
  payload?: string;
  tag: string | null;
  enqueuedAt: number;
  eta: number;
  attempts: number;
  state: TaskState;
  lastError: string | null;
  deadLetteredFrom: string | null;
}

export interface TaskPage {
  tasks: Task[];
  nextCursor: string | null;
}

export interface Whoami {
  auth: boolean;
  name: string | null;
  roles: string[];
  queue: string;
  expiresAt: number | null;
  actions: string[];
  serverAdmin: boolean;
}

export interface TokenInfo {
  name: string;
  roles: string[];
  queue: string;
  createdAt: number;
  expiresAt: number | null;
}

/** `GET /v1/stats/history`: one point a `step` seconds from `start` (ms). */
export interface History {
  step: number;
  start: number;
  series: {
    inserted: number[];
    leased: number[];
    acked: number[];
    failed: number[];
    deadLettered: number[];
    backlog: (number | null)[];
  };
}

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Fired on `window` when the server refuses the session's token (401). */
export const SIGNED_OUT_EVENT = 'pullq:signed-out';

/** Pages of `GET /v1/stats` read per refresh at most: 10,000 queues. */
const MAX_STATS_PAGES = 10;

export class Api {
  #token: string | null;

  constructor(token: string | null) {
    this.#token = token;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== null) headers['authorization'] = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        cache: 'no-store',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ApiError('unavailable', 'cannot reach the server: is pullq serve running?', 0);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiError('internal', `the server answered ${response.status} without JSON`, 0);
    }
    if (response.ok) return parsed as T;
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    const failure = new ApiError(
      error?.code ?? 'internal',
      error?.message ?? `the server answered ${response.status}`,
      response.status,
    );
    if (response.status === 401 && this.#token !== null) {
      window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: failure }));
    }
    throw failure;
  }

  whoami(): Promise<Whoami> {
    return this.call('GET', '/v1/whoami');
  }

  /** Every readable queue with its stats, page after page (`truncated`: more than shown). */
  async allQueueStats(): Promise<{ queues: QueueWithStats[]; truncated: boolean }> {
    const queues: QueueWithStats[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_STATS_PAGES; page++) {
      const query: string = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
      const answer: { queues: QueueWithStats[]; nextCursor: string | null } = await this.call(
        'GET',
        `/v1/stats${query}`,
      );
      queues.push(...answer.queues);
      cursor = answer.nextCursor;
      if (cursor === null) return { queues, truncated: false };
    }
    return { queues, truncated: true };
  }

  async queues(): Promise<Queue[]> {
    return (await this.call<{ queues: Queue[] }>('GET', '/v1/queues')).queues;
  }

  queue(name: string): Promise<Queue> {
    return this.call('GET', `/v1/queues/${name}`);
  }

  stats(name: string): Promise<Stats> {
    return this.call('GET', `/v1/queues/${name}/stats`);
  }

  /** null when the server has no history (an older server) or none yet. */
  async history(queue: string | null, seconds: number): Promise<History | null> {
    const query = new URLSearchParams({ seconds: String(seconds) });
    if (queue !== null) query.set('queue', queue);
    try {
      return await this.call<History>('GET', `/v1/stats/history?${query.toString()}`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 501)) return null;
      throw error;
    }
  }

  tasks(
    queue: string,
    options: { state?: TaskState; tag?: string; cursor?: string; limit: number },
  ): Promise<TaskPage> {
    const query = new URLSearchParams({ limit: String(options.limit) });
    if (options.state) query.set('state', options.state);
    if (options.tag !== undefined) query.set('tag', options.tag);
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    return this.call('GET', `/v1/queues/${queue}/tasks?${query.toString()}`);
  }

  task(queue: string, id: string): Promise<Task> {
    return this.call('GET', `/v1/queues/${queue}/tasks/${id}`);
  }

  deleteTask(queue: string, id: string): Promise<void> {
    return this.call('DELETE', `/v1/queues/${queue}/tasks/${id}`);
  }

  /** Deletes the ids; returns the messages of the items that failed. */
  async deleteTasks(queue: string, ids: string[]): Promise<string[]> {
    const answer = await this.call<{ results: { ok: boolean; error?: { message: string } }[] }>(
      'POST',
      `/v1/queues/${queue}/delete`,
      { ids },
    );
    return answer.results.flatMap((result) => (result.ok ? [] : [result.error?.message ?? '']));
  }

  /** Redrives the ids, or every dead letter without them; returns how many moved. */
  async redrive(queue: string, ids?: string[]): Promise<number> {
    const answer = await this.call<{ redriven: number }>(
      'POST',
      `/v1/queues/${queue}/redrive`,
      ids ? { ids } : {},
    );
    return answer.redriven;
  }

  forceRelease(queue: string, id: string): Promise<Task> {
    return this.call('POST', `/v1/queues/${queue}/tasks/${id}/release`, {});
  }

  createQueue(settings: Partial<Queue> & { name: string }): Promise<Queue> {
    return this.call('POST', '/v1/queues', settings);
  }

  updateQueue(name: string, patch: Partial<Queue>): Promise<Queue> {
    return this.call('PATCH', `/v1/queues/${name}`, patch);
  }

  setPaused(name: string, paused: boolean): Promise<Queue> {
    return this.call('POST', `/v1/queues/${name}/${paused ? 'pause' : 'resume'}`);
  }

  async purge(name: string): Promise<number> {
    return (await this.call<{ purged: number }>('POST', `/v1/queues/${name}/purge`)).purged;
  }

  deleteQueue(name: string): Promise<void> {
    return this.call('DELETE', `/v1/queues/${name}`);
  }

  async tokens(): Promise<TokenInfo[]> {
    return (await this.call<{ tokens: TokenInfo[] }>('GET', '/v1/tokens')).tokens;
  }

  createToken(request: {
    name: string;
    roles: string[];
    queue: string;
    expiresInSeconds?: number;
  }): Promise<TokenInfo & { token: string }> {
    return this.call('POST', '/v1/tokens', request);
  }

  revokeToken(name: string): Promise<void> {
    return this.call('DELETE', `/v1/tokens/${encodeURIComponent(name)}`);
  }
}
