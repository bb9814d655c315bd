/**
 * What the in-process fuzzers share: sending one request with the oracle and a time limit,
 * keeping the store busy (tasks to lease, leases to ack, a clock that moves), and the checks
 * at the end of a run (no error logged, the store's integrity).
 */
import assert from 'node:assert/strict';
import { validRequest, type CorpusContext, type Endpoint } from './corpus.ts';
import { FUZZ_QUEUES, FuzzState } from './fuzz-state.ts';
import type { FuzzServer, FuzzTokens } from './fuzz-server.ts';
import { checkIntegrity } from './integrity.ts';
import { mutate } from './mutate.ts';
import { describeRequest, violation, type FuzzRequest, type RawAnswer } from './oracle.ts';
import { Random, type FuzzSettings } from './random.ts';

/**
 * Past this a request counts as hung: many times the slowest answer of these runs (a 2 MiB
 * body, a stats page of a hundred queues), with room for a loaded machine.
 */
export const HANG_MS = 15_000;

/** Long-polls end at once: a fuzzed `waitSeconds` of 60 would spend the time budget waiting. */
export function tame(request: FuzzRequest): FuzzRequest {
  if (request.body === undefined || !Buffer.from(request.body).includes('wait')) return request;
  const text = Buffer.from(request.body).toString('utf8');
  if (!(waitOf(text) > 0.05)) return request;
  // The text is edited rather than parsed and written again: it may nest too deep to write.
  const edited = text.replace(/"waitSeconds"\s*:\s*[-+0-9.eE]+/g, '"waitSeconds":0.05');
  if (!(waitOf(edited) > 0.05)) return { ...request, body: edited };
  // A key spelt with escapes (`"wait\u0053econds"`): no long-poll for this one.
  return { ...request, body: '{}' };
}

/** The top-level `waitSeconds` of a JSON text, if it has one. */
function waitOf(text: string): number {
  try {
    const body = JSON.parse(text) as unknown;
    const wait = (body as Record<string, unknown> | null)?.['waitSeconds'];
    return typeof wait === 'number' ? wait : 0;
  } catch {
    return 0;
  }
}

/** Sends one request; fails with the request in words if the answer breaks the oracle. */
export async function sendChecked(
  send: (request: FuzzRequest) => Promise<RawAnswer>,
  request: FuzzRequest,
  label: string,
): Promise<RawAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${label}: no answer in ${HANG_MS} ms to ${describeRequest(request)}`)),
      HANG_MS,
    );
  });
  try {
    const answer = await Promise.race([send(request), hung]);
    const problem = violation(request, answer);
    if (problem !== null) {
      const body = answer.body.subarray(0, 600).toString('utf8');
      assert.fail(
        `${label}: ${problem}\n  request: ${describeRequest(request)}\n  answer: ${answer.status} ${body}`,
      );
    }
    return answer;
  } finally {
    clearTimeout(timer);
  }
}

/** Which credential a fuzzed request carries: mostly the admin's, often another or none. */
export function credential(random: Random, tokens: FuzzTokens): Record<string, string> {
  const roll = random.next();
  if (roll < 0.7) return { authorization: `Bearer ${tokens.admin}` };
  if (roll < 0.78) return { authorization: `Bearer ${tokens.producer}` };
  if (roll < 0.86) return { authorization: `Bearer ${tokens.consumer}` };
  if (roll < 0.9) return { authorization: `Bearer ${tokens.otherAdmin}` };
  if (roll < 0.93) return { authorization: `Bearer ${tokens.expired}` };
  if (roll < 0.97) return {};
  return { authorization: 'Bearer pq_well-formed-but-unknown-token-0000' };
}

/**
 * Keeps the queues stocked: a batch of tasks into each corpus queue and a lease of some, so
 * that acks, extends and releases have live leases to work on. Answers are checked too.
 */
export async function replenish(
  server: FuzzServer,
  state: FuzzState,
  random: Random,
): Promise<void> {
  const headers = {
    authorization: `Bearer ${server.tokens.admin}`,
    'content-type': 'application/json',
  };
  for (const queue of FUZZ_QUEUES) {
    const tasks = Array.from({ length: 5 }, (_, index) => ({
      text: `stock ${index}`,
      ...(random.chance(0.5) ? { tag: random.pick(['a', 'b']) } : {}),
    }));
    const insert: FuzzRequest = {
      method: 'POST',
      url: `/v1/queues/${queue}/tasks`,
      headers,
      body: JSON.stringify({ tasks }),
    };
    state.observe(await sendChecked(server.send, insert, 'stock'));
    const lease: FuzzRequest = {
      method: 'POST',
      url: `/v1/queues/${queue}/lease`,
      headers,
      body: JSON.stringify({ max: 3, leaseSeconds: random.int(1, 120) }),
    };
    state.observe(await sendChecked(server.send, lease, 'stock'));
  }
}

export interface MutationRun {
  requests: number;
  /** Answers by status, for the report. */
  statuses: Map<number, number>;
}

/**
 * `settings.runs` requests: each a valid one of `endpoints` (one in ten is sent as is),
 * mutated one to four times, with a random credential. Every 100 requests the queues are
 * stocked again and the clock moves up to 90 s, so leases run out and delayed tasks come due.
 */
export async function runMutationFuzz(
  server: FuzzServer,
  settings: FuzzSettings,
  endpoints: readonly Endpoint[],
): Promise<MutationRun> {
  const random = new Random(settings.seed);
  const state = new FuzzState();
  const statuses = new Map<number, number>();
  for (let index = 0; index < settings.runs; index++) {
    if (index % 100 === 0) {
      await replenish(server, state, random);
      server.clock.advance(random.int(0, 90_000));
    }
    const context: CorpusContext = {
      random,
      state,
      token: server.tokens.admin,
      now: server.clock.now(),
    };
    const valid = validRequest(context, endpoints);
    const headers = { ...valid.headers };
    delete headers['authorization'];
    const base = { ...valid, headers: { ...headers, ...credential(random, server.tokens) } };
    const request = tame(random.chance(0.1) ? base : mutate(base, random));
    const answer = await sendChecked(
      server.send,
      request,
      `seed ${settings.seed}, request ${index}`,
    );
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    state.observe(answer);
  }
  return { requests: settings.runs, statuses };
}

/** After a run: nothing was logged at error level, and the store passes the integrity check. */
export async function assertSound(server: FuzzServer): Promise<{ tasks: number; queues: number }> {
  assert.deepEqual(server.errorLines, [], 'the server logged errors');
  const report = await checkIntegrity(server.dbPath, server.backend, server.clock.now());
  assert.deepEqual(report.problems, [], 'the store failed its integrity check');
  return { tasks: report.tasks, queues: report.queues };
}

export function formatStatuses(statuses: Map<number, number>): string {
  return [...statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}:${count}`)
    .join(' ');
}
