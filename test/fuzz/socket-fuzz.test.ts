/**
 * The mutation fuzzer over real sockets, against a spawned `pullq serve` on a SQLite file:
 * what `app.inject()` cannot send. Mutated requests of every endpoint of both APIs, well
 * framed (plain, chunked, pipelined, dribbled in slowly) or not (broken chunked encoding,
 * request smuggling, invalid UTF-8 and NUL in the request line, headers past 16 KiB, cut
 * short). Every answer is a 2xx or a catalogued 4xx in the right envelope (either envelope
 * when the bytes were not HTTP), no connection is left hanging, and at the end the process
 * is alive and serving, stops cleanly, logged no error, and its store passes the integrity
 * check.
 *
 * Sixteen connections run at once, each with its own random source drawn from the seed;
 * the order in which their requests reach the server varies, so a failure prints the
 * request's bytes to replay it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { ManualClock } from '../../src/testing/manual-clock.ts';
import { TEST_ADMIN_TOKEN, bearer, startServe, type ServeProcess } from '../e2e/serve-process.ts';
import { ENDPOINTS, validRequest, type CorpusContext } from './corpus.ts';
import { credential, formatStatuses, tame } from './fuzz-loop.ts';
import { FUZZ_QUEUES, FuzzState } from './fuzz-state.ts';
import type { FuzzTokens } from './fuzz-server.ts';
import { badlyFramed, pipelined, truncated, wellFramed, type Framed } from './framing.ts';
import { checkIntegrity } from './integrity.ts';
import { mutate } from './mutate.ts';
import { violation, type FuzzRequest, type RawAnswer } from './oracle.ts';
import { Random, fuzzSettings } from './random.ts';
import { exchange, type RawResponse } from './raw-http.ts';

const settings = fuzzSettings(0x5eed_0201, 10_000);
const CONNECTIONS = 16;
/** The server's header and request timeouts here, short so a cut request ends quickly. */
const HEADERS_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 4;
/** Past the request timeout and a check interval, with room for a loaded machine. */
const HANG_MS = 15_000;

let dir = '';
let serve: ServeProcess;
let port = 0;
let tokens: FuzzTokens;

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${serve.url}${path}`, {
    method,
    headers: { ...bearer(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function makeToken(name: string, roles: string[], queue: string): Promise<string> {
  const answer = await call('POST', '/v1/tokens', { name, roles, queue });
  assert.equal(answer.status, 201, await answer.clone().text());
  return ((await answer.json()) as { token: string }).token;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pullq-socket-fuzz-'));
  serve = await startServe(
    ['--backend', `sqlite://${join(dir, 'pullq.db')}`, '--max-body', String(2 * 1024 * 1024)],
    {
      env: {
        PULLQ_HEADERS_TIMEOUT: String(HEADERS_TIMEOUT_S),
        PULLQ_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S),
      },
    },
  );
  port = Number(new URL(serve.url).port);
  const revoked = await makeToken('fuzz-revoked', ['admin'], '*');
  assert.equal((await call('DELETE', '/v1/tokens/fuzz-revoked')).status, 204);
  tokens = {
    admin: TEST_ADMIN_TOKEN,
    producer: await makeToken('fuzz-producer', ['producer'], 'fz-*'),
    consumer: await makeToken('fuzz-consumer', ['consumer'], 'fz-a*'),
    otherAdmin: await makeToken('fuzz-other-admin', ['admin'], 'other-*'),
    expired: revoked,
  };
});
after(async () => {
  await serve?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Keeps the queues stocked with tasks and some leases, over fetch. */
async function replenish(state: FuzzState): Promise<void> {
  for (const queue of FUZZ_QUEUES) {
    await call('POST', `/v1/queues/${queue}/tasks`, {
      tasks: Array.from({ length: 5 }, (_, i) => ({ text: `stock ${i}`, tag: 'a' })),
    });
    const leased = await call('POST', `/v1/queues/${queue}/lease`, { max: 3, leaseSeconds: 30 });
    state.observe({
      status: leased.status,
      headers: {},
      body: Buffer.from(await leased.arrayBuffer()),
    });
  }
}

/** One fuzzed exchange: the framing picked at random, the request mutated or not. */
function nextExchange(
  random: Random,
  state: FuzzState,
): { framed: Framed; requests: FuzzRequest[]; slow: boolean } {
  const one = (): FuzzRequest => {
    const context: CorpusContext = { random, state, token: tokens.admin, now: Date.now() };
    const valid = validRequest(context, ENDPOINTS);
    const headers = { ...valid.headers };
    delete headers['authorization'];
    const base = { ...valid, headers: { ...headers, ...credential(random, tokens) } };
    return tame(random.chance(0.15) ? base : mutate(base, random));
  };
  const roll = random.next();
  const request = one();
  if (roll < 0.6) return { framed: wellFramed(request, random), requests: [request], slow: false };
  if (roll < 0.83)
    return { framed: badlyFramed(request, random), requests: [request], slow: false };
  if (roll < 0.9) return { framed: truncated(request, random), requests: [request], slow: false };
  if (roll < 0.97) {
    const second = one();
    return { framed: pipelined(request, second, random), requests: [request, second], slow: false };
  }
  return { framed: wellFramed(request, random), requests: [request], slow: true };
}

/** A slow client: the bytes in 4 to 12 pieces, 20 to 80 ms apart. */
function slowPieces(bytes: Buffer, random: Random): { bytes: Buffer; pauseMs: number }[] {
  const count = random.int(4, 12);
  const size = Math.ceil(bytes.length / count);
  return Array.from({ length: count }, (_, i) => ({
    bytes: bytes.subarray(i * size, (i + 1) * size),
    pauseMs: random.int(20, 80),
  }));
}

function asAnswer(response: RawResponse): RawAnswer {
  return { status: response.status, headers: response.headers, body: response.body };
}

/** Why the exchange breaks the rules, or null. */
function problemOf(
  framed: Framed,
  requests: FuzzRequest[],
  responses: RawResponse[],
  closed: boolean,
): string | null {
  if (!closed) return `the server neither answered nor closed the connection in ${HANG_MS} ms`;
  for (const [index, response] of responses.entries()) {
    const request = requests[index] ?? requests[0]!;
    const answer = asAnswer(response);
    if (framed.strict && index < requests.length) {
      const problem = violation(request, answer);
      if (problem !== null) return problem;
      continue;
    }
    // Bytes that were not a request of either API: either envelope is right.
    const native = violation({ ...request, url: '/' }, answer);
    const google = violation({ ...request, url: '/taskqueue/v1beta2/projects/p' }, answer);
    if (native !== null && google !== null) return native;
  }
  // The server may close after an answer that says so (after a body it could not read, the
  // next request's framing is not to be trusted); otherwise every request gets its answer.
  const closing = responses.some((response) => response.headers['connection'] === 'close');
  if (framed.strict && responses.length < requests.length && !closing) {
    return `${requests.length} requests, ${responses.length} answers`;
  }
  return null;
}

it(`${settings.runs} fuzzed requests over sockets: catalogued answers, no hang, a live server and a sound store (FUZZ_SEED=${settings.seed})`, async (t) => {
  const started = performance.now();
  const state = new FuzzState();
  await replenish(state);
  const statuses = new Map<number, number>();
  const kinds = new Map<string, number>();
  let next = 0;
  // Each connection's own stream, drawn from the seed (seed + n would share streams with
  // the next seeds).
  const seeds = new Random(settings.seed);
  const workerSeeds = Array.from({ length: CONNECTIONS }, () => seeds.int(0, 2 ** 32 - 1));
  const worker = async (connection: number): Promise<void> => {
    const random = new Random(workerSeeds[connection]!);
    for (let index = next++; index < settings.runs; index = next++) {
      if (index % 250 === 0) await replenish(state);
      const { framed, requests, slow } = nextExchange(random, state);
      const result = await exchange(port, framed.bytes, {
        timeoutMs: HANG_MS,
        methods: framed.methods,
        // Node ends the connection when the client half-closes, dropping answers not yet
        // written: only requests that may go unanswered end the stream early.
        endAfterWrite: !framed.strict,
        ...(slow ? { pieces: slowPieces(framed.bytes, random) } : {}),
      });
      const problem = problemOf(framed, requests, result.responses, result.closedByServer);
      if (problem !== null) {
        assert.fail(
          `request ${index} (${framed.kind}, connection ${connection}): ${problem}\n  sent: ${JSON.stringify(framed.bytes.subarray(0, 1500).toString('latin1'))}\n  got: ${result.responses.map((r) => `${r.status} ${r.body.subarray(0, 300).toString()}`).join(' | ')} ${JSON.stringify(result.leftover.subarray(0, 200).toString('latin1'))}`,
        );
      }
      kinds.set(framed.kind, (kinds.get(framed.kind) ?? 0) + 1);
      for (const response of result.responses)
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      for (const response of result.responses) state.observe(asAnswer(response));
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, connection) => worker(connection)));
  const fuzzedMs = Math.round(performance.now() - started);

  // Alive and serving: the process still runs, and a producer and a consumer get their work done.
  assert.equal(serve.child.exitCode, null, 'the server process died');
  assert.equal((await fetch(`${serve.url}/healthz`)).status, 200);
  const inserted = await call('POST', '/v1/queues/after-fuzz/tasks', {
    tasks: [{ text: 'still here' }],
  });
  assert.equal(inserted.status, 200);
  const leased = (await (
    await call('POST', '/v1/queues/after-fuzz/lease', { max: 1, leaseSeconds: 60 })
  ).json()) as { tasks: { id: string; leaseToken: string }[] };
  assert.equal(leased.tasks.length, 1);
  const acked = await call('POST', '/v1/queues/after-fuzz/ack', {
    leases: [{ id: leased.tasks[0]!.id, token: leased.tasks[0]!.leaseToken }],
  });
  assert.deepEqual(await acked.json(), { results: [{ ok: true }] });

  // A clean stop, and nothing logged at error level (pino JSON: level 50 and above).
  assert.equal(await serve.stop('SIGTERM'), 0, serve.stderr());
  const errors = serve
    .stdout()
    .split('\n')
    .filter((line) => /"level":(50|60)/.test(line));
  assert.deepEqual(errors, [], 'the server logged errors');

  const clock = new ManualClock(Date.now());
  const backend = new SqliteBackend({ path: join(dir, 'pullq.db'), clock });
  try {
    const report = await checkIntegrity(join(dir, 'pullq.db'), backend, clock.now());
    assert.deepEqual(report.problems, [], 'the store failed its integrity check');
    t.diagnostic(
      `${settings.runs} exchanges in ${fuzzedMs} ms; statuses ${formatStatuses(statuses)}; kinds ${[...kinds].map(([k, n]) => `${k}:${n}`).join(', ')}; store: ${report.queues} queues, ${report.tasks} tasks`,
    );
  } finally {
    await backend.close();
  }
});
