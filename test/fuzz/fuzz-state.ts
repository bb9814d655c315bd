/**
 * What a fuzz run has learnt from the server's answers: task ids, lease tokens and lease
 * times, token names. The corpus fills requests from it, so that mutations start from
 * requests that reach deep (an ack with a live lease token) rather than failing at the first
 * lookup.
 */
import type { RawAnswer } from './oracle.ts';

export interface KnownTask {
  queue: string;
  id: string;
}

export interface KnownLease extends KnownTask {
  token: string;
  /** When the lease ends (ms): the v1beta2 fence. */
  expiresAt: number;
}

/** Queues the corpus works in; their names suit the fuzz tokens' patterns (fz-*, fz-a*). */
export const FUZZ_QUEUES = ['fz-a1', 'fz-a2', 'fz-b1', 'other-q1'] as const;

/** Each list keeps the newest this many: enough variety, no growth. */
const KEEP = 64;

export class FuzzState {
  readonly tasks: KnownTask[] = [];
  readonly leases: KnownLease[] = [];
  readonly tokenNames: string[] = [];

  /** Reads ids, leases and token names out of a 2xx JSON answer. */
  observe(answer: RawAnswer): void {
    if (answer.status < 200 || answer.status >= 300 || answer.body.length === 0) return;
    // Ids and leases come in small answers; the API documents and big pages teach nothing.
    if (answer.headers['content-encoding'] !== undefined || answer.body.length > 65_536) return;
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const object = body as Record<string, unknown>;
    for (const task of arrayOf(object['tasks'])) this.#nativeTask(task);
    for (const result of arrayOf(object['results'])) this.#nativeTask(result['task']);
    for (const item of arrayOf(object['items'])) this.#v1beta2Task(item);
    if (object['kind'] === 'taskqueues#task') this.#v1beta2Task(object);
    if (typeof object['token'] === 'string' && typeof object['name'] === 'string') {
      remember(this.tokenNames, object['name']);
    }
  }

  #nativeTask(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    const task = value as Record<string, unknown>;
    const { queue, id, leaseToken, eta } = task;
    if (typeof queue !== 'string' || typeof id !== 'string') return;
    remember(this.tasks, { queue, id });
    if (typeof leaseToken === 'string' && typeof eta === 'number') {
      remember(this.leases, { queue, id, token: leaseToken, expiresAt: eta });
    }
  }

  #v1beta2Task(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    const task = value as Record<string, unknown>;
    const { queueName, id, leaseTimestamp } = task;
    if (typeof queueName !== 'string' || typeof id !== 'string') return;
    const queue = queueName.split('/').at(-1) ?? queueName;
    remember(this.tasks, { queue, id });
    if (typeof leaseTimestamp === 'string' && /^\d+$/.test(leaseTimestamp)) {
      // The fence is the lease's end; a v1beta2 lease has no token of its own.
      const expiresAt = Number(leaseTimestamp) / 1000;
      remember(this.leases, { queue, id, token: '', expiresAt });
    }
  }
}

function arrayOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

function remember<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}
