/**
 * The seed corpus of the mutation fuzzers: one valid request per endpoint of both APIs (and
 * of the public routes beside them), filled from what the run has learnt (fuzz-state.ts) so
 * that ids and lease tokens are live ones. `ENDPOINTS` names each by its operationId (v1) or
 * method id (v1beta2); corpus.test.ts checks that every route of both route tables has one.
 */
import { FUZZ_QUEUES, type FuzzState, type KnownLease, type KnownTask } from './fuzz-state.ts';
import type { FuzzRequest } from './oracle.ts';
import type { Random } from './random.ts';

export const V1BETA2_ROOT = '/taskqueue/v1beta2/projects/s~fuzzapp/taskqueues';

export interface CorpusContext {
  random: Random;
  state: FuzzState;
  /** The token most requests carry (the admin's). */
  token: string;
  /** Milliseconds: ETAs are made relative to it. */
  now: number;
}

export interface Endpoint {
  /** operationId (v1), method id (v1beta2) or the public path. */
  name: string;
  api: 'v1' | 'v1beta2' | 'public';
  make(context: CorpusContext): FuzzRequest;
}

const JSON_TYPE = 'application/json';

function request(
  context: CorpusContext,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): FuzzRequest {
  return {
    method,
    url,
    headers: {
      authorization: `Bearer ${context.token}`,
      ...(body === undefined ? {} : { 'content-type': JSON_TYPE }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

const queue = ({ random }: CorpusContext): string => random.pick(FUZZ_QUEUES);

function task(context: CorpusContext): KnownTask {
  const known = context.state.tasks;
  return known.length > 0 && context.random.chance(0.9)
    ? context.random.pick(known)
    : { queue: queue(context), id: `t${context.random.int(0, 50)}` };
}

function lease(context: CorpusContext): KnownLease {
  const known = context.state.leases;
  if (known.length > 0) return context.random.pick(known);
  return { ...task(context), token: 'pq-no-such-lease', expiresAt: context.now + 60_000 };
}

function payload({ random }: CorpusContext): string {
  return random.bytes(random.int(0, 40)).toString('base64');
}

function newTask(context: CorpusContext): Record<string, unknown> {
  const { random } = context;
  const task: Record<string, unknown> = random.chance(0.5)
    ? { payload: payload(context) }
    : { text: `hello ${random.int(0, 999)}` };
  if (random.chance(0.3)) task['id'] = `t${random.int(0, 50)}`;
  if (random.chance(0.3)) task['tag'] = random.pick(['a', 'b', 'tag-c']);
  const timing = random.next();
  if (timing < 0.2) task['eta'] = context.now + random.int(0, 120_000);
  else if (timing < 0.36) task['delaySeconds'] = random.int(0, 90);
  return task;
}

function leaseRef(context: CorpusContext): Record<string, unknown> {
  const known = lease(context);
  return context.random.chance(0.8) || known.token === ''
    ? { id: known.id, leaseExpiresAt: Math.round(known.expiresAt) }
    : { id: known.id, token: known.token };
}

const micros = (ms: number): string => String(Math.round(ms) * 1000);

const v1 = (path: string): string => `/v1${path}`;
const v1beta2 = (queueName: string, rest = ''): string => `${V1BETA2_ROOT}/${queueName}${rest}`;

export const ENDPOINTS: readonly Endpoint[] = [
  // ---- native v1 ----
  { name: 'listQueues', api: 'v1', make: (c) => request(c, 'GET', v1('/queues')) },
  {
    name: 'listQueueStats',
    api: 'v1',
    make: (c) => request(c, 'GET', v1(`/stats?limit=${c.random.int(1, 5)}`)),
  },
  { name: 'whoami', api: 'v1', make: (c) => request(c, 'GET', v1('/whoami')) },
  {
    name: 'createQueue',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1('/queues'), {
        name: `fz-new-${c.random.int(0, 99)}`,
        maxLeases: c.random.int(1, 5),
        deadLetterQueue: 'fz-b1',
        dedupWindowSeconds: 60,
        paused: false,
      }),
  },
  { name: 'getQueue', api: 'v1', make: (c) => request(c, 'GET', v1(`/queues/${queue(c)}`)) },
  {
    name: 'updateQueue',
    api: 'v1',
    make: (c) =>
      request(c, 'PATCH', v1(`/queues/${queue(c)}`), {
        maxLeases: c.random.chance(0.5) ? null : c.random.int(1, 9),
        paused: false,
      }),
  },
  {
    name: 'deleteQueue',
    api: 'v1',
    make: (c) => request(c, 'DELETE', v1(`/queues/fz-new-${c.random.int(0, 99)}`)),
  },
  { name: 'pauseQueue', api: 'v1', make: (c) => request(c, 'POST', v1(`/queues/fz-b1/pause`)) },
  { name: 'resumeQueue', api: 'v1', make: (c) => request(c, 'POST', v1(`/queues/fz-b1/resume`)) },
  { name: 'purgeQueue', api: 'v1', make: (c) => request(c, 'POST', v1(`/queues/fz-a2/purge`)) },
  {
    name: 'queueStats',
    api: 'v1',
    make: (c) => request(c, 'GET', v1(`/queues/${queue(c)}/stats`)),
  },
  {
    name: 'insertTasks',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1(`/queues/${queue(c)}/tasks`), {
        tasks: Array.from({ length: c.random.int(1, 4) }, () => newTask(c)),
        ...(c.random.chance(0.2) ? { createQueue: false } : {}),
      }),
  },
  {
    name: 'lease',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1(`/queues/${queue(c)}/lease`), {
        max: c.random.int(1, 5),
        leaseSeconds: c.random.int(0, 120),
        ...(c.random.chance(0.3) ? { tag: 'a' } : {}),
        ...(c.random.chance(0.3) ? { groupByTag: true } : {}),
        ...(c.random.chance(0.2) ? { waitSeconds: 0 } : {}),
      }),
  },
  {
    name: 'ack',
    api: 'v1',
    make: (c) => {
      const ref = leaseRef(c);
      return request(c, 'POST', v1(`/queues/${lease(c).queue}/ack`), { leases: [ref] });
    },
  },
  {
    name: 'extend',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1(`/queues/${lease(c).queue}/extend`), {
        leases: [leaseRef(c)],
        leaseSeconds: c.random.int(0, 300),
      }),
  },
  {
    name: 'release',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1(`/queues/${lease(c).queue}/release`), {
        leases: [
          {
            ...leaseRef(c),
            delaySeconds: c.random.int(0, 30),
            error: 'it failed',
            deadLetter: c.random.chance(0.2),
          },
        ],
      }),
  },
  {
    name: 'listTasks',
    api: 'v1',
    make: (c) =>
      request(
        c,
        'GET',
        v1(
          `/queues/${queue(c)}/tasks?limit=${c.random.int(1, 20)}&state=${c.random.pick(['ready', 'delayed', 'leased', 'dead'])}&payload=true`,
        ),
      ),
  },
  {
    name: 'getTask',
    api: 'v1',
    make: (c) => {
      const { queue: q, id } = task(c);
      return request(c, 'GET', v1(`/queues/${q}/tasks/${id}`));
    },
  },
  {
    name: 'forceRelease',
    api: 'v1',
    make: (c) => {
      const { queue: q, id } = lease(c);
      return request(c, 'POST', v1(`/queues/${q}/tasks/${id}/release`), { delaySeconds: 1 });
    },
  },
  {
    name: 'deleteTask',
    api: 'v1',
    make: (c) => {
      const { queue: q, id } = task(c);
      return request(c, 'DELETE', v1(`/queues/${q}/tasks/${id}`));
    },
  },
  {
    name: 'deleteTasks',
    api: 'v1',
    make: (c) => {
      const { queue: q, id } = task(c);
      return request(c, 'POST', v1(`/queues/${q}/delete`), { ids: [id] });
    },
  },
  {
    name: 'listDead',
    api: 'v1',
    make: (c) => request(c, 'GET', v1(`/queues/${queue(c)}/dead?limit=10&payload=false`)),
  },
  {
    name: 'redrive',
    api: 'v1',
    make: (c) =>
      request(
        c,
        'POST',
        v1(`/queues/${queue(c)}/redrive`),
        c.random.chance(0.5) ? { ids: [task(c).id] } : undefined,
      ),
  },
  {
    name: 'createToken',
    api: 'v1',
    make: (c) =>
      request(c, 'POST', v1('/tokens'), {
        name: `fz-token-${c.random.int(0, 20)}`,
        roles: ['consumer'],
        queue: 'fz-*',
        expiresInSeconds: 3600,
      }),
  },
  { name: 'listTokens', api: 'v1', make: (c) => request(c, 'GET', v1('/tokens')) },
  {
    name: 'revokeToken',
    api: 'v1',
    make: (c) => request(c, 'DELETE', v1(`/tokens/fz-token-${c.random.int(0, 20)}`)),
  },
  {
    name: 'statsHistory',
    api: 'v1',
    make: (c) => request(c, 'GET', v1(`/stats/history?queue=${queue(c)}&seconds=60`)),
  },
  // ---- v1beta2 ----
  {
    name: 'taskqueues.get',
    api: 'v1beta2',
    make: (c) => request(c, 'GET', `${v1beta2(queue(c))}?getStats=true`),
  },
  {
    name: 'tasks.insert',
    api: 'v1beta2',
    make: (c) => {
      const q = queue(c);
      return request(c, 'POST', v1beta2(q, '/tasks'), {
        queueName: q,
        payloadBase64: Buffer.from(payload(c), 'base64').toString('base64url'),
        ...(c.random.chance(0.3) ? { id: `t${c.random.int(0, 50)}` } : {}),
        ...(c.random.chance(0.3) ? { tag: 'a' } : {}),
        ...(c.random.chance(0.2) ? { leaseTimestamp: micros(c.now + 30_000) } : {}),
      });
    },
  },
  {
    name: 'tasks.get',
    api: 'v1beta2',
    make: (c) => {
      const { queue: q, id } = task(c);
      return request(c, 'GET', v1beta2(q, `/tasks/${id}`));
    },
  },
  {
    name: 'tasks.list',
    api: 'v1beta2',
    make: (c) => request(c, 'GET', v1beta2(queue(c), '/tasks')),
  },
  {
    name: 'tasks.lease',
    api: 'v1beta2',
    make: (c) =>
      request(
        c,
        'POST',
        `${v1beta2(queue(c), '/tasks/lease')}?numTasks=${c.random.int(1, 5)}&leaseSecs=${c.random.int(0, 120)}${c.random.chance(0.3) ? '&groupByTag=true&tag=a' : ''}${c.random.chance(0.3) ? '&fields=kind,items(id,leaseTimestamp,queueName)' : ''}`,
      ),
  },
  {
    name: 'tasks.update',
    api: 'v1beta2',
    make: (c) => {
      const known = lease(c);
      return request(
        c,
        'POST',
        `${v1beta2(known.queue, `/tasks/${known.id}`)}?newLeaseSeconds=${c.random.int(0, 120)}`,
        { id: known.id, leaseTimestamp: micros(known.expiresAt) },
      );
    },
  },
  {
    name: 'tasks.patch',
    api: 'v1beta2',
    make: (c) => {
      const known = lease(c);
      return request(
        c,
        'PATCH',
        `${v1beta2(known.queue, `/tasks/${known.id}`)}?newLeaseSeconds=${c.random.int(0, 120)}`,
        { queueName: known.queue, leaseTimestamp: micros(known.expiresAt) },
      );
    },
  },
  {
    name: 'tasks.delete',
    api: 'v1beta2',
    make: (c) => {
      const { queue: q, id } = task(c);
      return request(c, 'DELETE', v1beta2(q, `/tasks/${id}`));
    },
  },
  // ---- public routes, and the ones beside the APIs ----
  { name: '/healthz', api: 'public', make: (c) => request(c, 'GET', '/healthz') },
  { name: '/readyz', api: 'public', make: (c) => request(c, 'GET', '/readyz') },
  { name: '/openapi.json', api: 'public', make: (c) => request(c, 'GET', '/openapi.json') },
  {
    name: 'discovery',
    api: 'public',
    make: (c) => request(c, 'GET', '/discovery/v1/apis/taskqueue/v1beta2/rest'),
  },
  { name: '/metrics', api: 'public', make: (c) => request(c, 'GET', '/metrics') },
  { name: '/ui', api: 'public', make: (c) => request(c, 'GET', '/ui') },
];

/** One valid request of a random endpoint of `endpoints`. */
export function validRequest(
  context: CorpusContext,
  endpoints: readonly Endpoint[] = ENDPOINTS,
): FuzzRequest {
  return context.random.pick(endpoints).make(context);
}
