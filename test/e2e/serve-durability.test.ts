/**
 * Crash durability of `pullq serve` on SQLite: an insert answered 2xx survives SIGKILL of the
 * server. Producers stream single and small batch inserts (several requests in flight) over
 * the native API; the server is killed mid-stream and restarted on the same data folder.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Agent, fetch } from 'undici';
import { bearer, startServe, type ServeProcess } from './serve-process.ts';

const QUEUE = 'durable';
const PRODUCERS = 6;
/** Kill once this many inserts were acknowledged: enough for several in flight at the kill. */
const ACKED_BEFORE_KILL = 400;

describe('pullq serve durability', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('every insert acknowledged with a 2xx is still there after SIGKILL and a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullq-durability-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const agent = new Agent({ connections: PRODUCERS * 2 });
    cleanups.push(() => agent.close());

    const first = await startServe(['--data', dir]);
    cleanups.push(() => first.stop('SIGKILL'));
    const acknowledged = new Set<string>();
    const sent = new Set<string>();
    let killed = false;
    let reachedTarget: () => void = () => {};
    const target = new Promise<void>((resolve) => (reachedTarget = resolve));

    const producer = async (worker: number): Promise<void> => {
      for (let n = 0; ; n += 1) {
        const size = n % 3 === 0 ? 1 : 1 + (n % 5);
        const ids = Array.from({ length: size }, (_, index) => `w${worker}-${n}-${index}`);
        for (const id of ids) sent.add(id);
        let ok = false;
        try {
          const response = await fetch(`${first.url}/v1/queues/${QUEUE}/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...bearer() },
            body: JSON.stringify({ tasks: ids.map((id) => ({ id, text: `payload of ${id}` })) }),
            dispatcher: agent,
          });
          const body = (await response.json()) as { results?: { ok: boolean }[] };
          ok =
            response.ok &&
            body.results?.length === ids.length &&
            body.results.every((result) => result.ok);
          if (!response.ok && !killed) {
            throw new Error(`insert answered ${response.status}: ${JSON.stringify(body)}`);
          }
        } catch (error) {
          if (killed) return; // the server is gone: this request may or may not have landed
          throw error;
        }
        if (ok) for (const id of ids) acknowledged.add(id);
        if (acknowledged.size >= ACKED_BEFORE_KILL) reachedTarget();
      }
    };
    const producers = Array.from({ length: PRODUCERS }, (_, worker) => producer(worker));
    const failed = Promise.all(producers).then(() => {
      if (!killed) throw new Error('the producers stopped before the server was killed');
    });
    await Promise.race([target, failed]);

    killed = true;
    assert.equal(await first.stop('SIGKILL'), 'SIGKILL');
    await failed;
    const inFlightAtKill = sent.size - acknowledged.size;

    const second: ServeProcess = await startServe(['--data', dir]);
    cleanups.push(() => second.stop('SIGTERM'));
    const stored = await listIds(second.url, agent);

    const lost = [...acknowledged].filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged insert(s) were lost`);
    const unknown = [...stored].filter((id) => !sent.has(id));
    assert.deepEqual(unknown, [], 'the store holds only tasks that were sent');
    assert.ok(acknowledged.size >= ACKED_BEFORE_KILL);
    // Not an assertion of the rule, a check that the test kills mid-stream as it claims.
    assert.ok(inFlightAtKill > 0, 'some inserts were in flight when the server was killed');

    assert.equal(await second.stop('SIGTERM'), 0);
  });
});

async function listIds(url: string, agent: Agent): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${url}/v1/queues/${QUEUE}/tasks?${query.toString()}`, {
      headers: bearer(),
      dispatcher: agent,
    });
    assert.equal(response.status, 200);
    const page = (await response.json()) as { tasks: { id: string }[]; nextCursor: string | null };
    for (const task of page.tasks) ids.add(task.id);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return ids;
}
