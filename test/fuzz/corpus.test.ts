/**
 * The seed corpus covers every endpoint of both APIs: a route added to either route table
 * without a corpus entry fails here, rather than going unfuzzed.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { V1_ROUTES } from '../../src/server/routes/v1.ts';
import { V1BETA2_METHODS } from '../../src/server/routes/v1beta2-methods.ts';
import { ENDPOINTS, type CorpusContext } from './corpus.ts';
import { FuzzState } from './fuzz-state.ts';
import { violation } from './oracle.ts';
import { replenish } from './fuzz-loop.ts';
import { fuzzServer } from './fuzz-server.ts';
import { Random } from './random.ts';

it('every v1 route and every v1beta2 method has a corpus entry', () => {
  const names = new Set(ENDPOINTS.map((endpoint) => endpoint.name));
  const missing = [
    ...V1_ROUTES.map((route) => route.operationId),
    ...V1BETA2_METHODS.map((method) => method.id),
  ].filter((name) => !names.has(name));
  assert.deepEqual(missing, []);
});

it('each corpus request, sent as is with the admin token, is answered without a 5xx', async () => {
  const server = await fuzzServer();
  try {
    const random = new Random(1);
    const state = new FuzzState();
    await replenish(server, state, random);
    const context: CorpusContext = {
      random,
      state,
      token: server.tokens.admin,
      now: server.clock.now(),
    };
    const statuses: Record<string, number> = {};
    // Deletes come last: the others need the queues, tasks and leases they would remove.
    const ordered = [...ENDPOINTS].sort(
      (a, b) => Number(a.name.startsWith('delete')) - Number(b.name.startsWith('delete')),
    );
    for (const endpoint of ordered) {
      const request = endpoint.make(context);
      const answer = await server.send(request);
      assert.equal(violation(request, answer), null, `${endpoint.name}: ${answer.body.toString()}`);
      statuses[endpoint.name] = answer.status;
      state.observe(answer);
    }
    // Inserts and leases of the corpus are valid as they stand: mutations start from there.
    assert.equal(statuses['insertTasks'], 200);
    assert.equal(statuses['lease'], 200);
    assert.equal(statuses['tasks.insert'], 200);
    assert.equal(statuses['tasks.lease'], 200);
    assert.equal(statuses['createQueue'], 201);
  } finally {
    await server.close();
  }
});
