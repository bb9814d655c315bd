/**
 * The property-based fuzzer over the App Engine v1beta2 API (fast-check): requests of every route,
 * their fields drawn from the parameter table of each method, four in five allowed and the rest
 * anything at all. Property: every answer is a 2xx or a catalogued 4xx in Google's
 * envelope. A failure shrinks to a minimal request, printed with the seed that replays it.
 */
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { toRequest, v1beta2Draft } from './request-drafts.ts';
import { FuzzState } from './fuzz-state.ts';
import { assertSound, formatStatuses, replenish, sendChecked, tame } from './fuzz-loop.ts';
import { fuzzServer, type FuzzServer } from './fuzz-server.ts';
import { Random, fuzzSettings } from './random.ts';

const settings = fuzzSettings(0x5eed_0102, 18_000);

let server: FuzzServer;
before(async () => {
  server = await fuzzServer();
});
after(() => server.close());

it(`${settings.runs} generated v1beta2 requests answer 2xx or a catalogued 4xx (FUZZ_SEED=${settings.seed})`, async (t) => {
  const started = performance.now();
  const random = new Random(settings.seed);
  const state = new FuzzState();
  let sent = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(v1beta2Draft(), async (draft) => {
      if (sent++ % 200 === 0) {
        await replenish(server, state, random);
        server.clock.advance(random.int(0, 90_000));
      }
      const request = tame(toRequest(draft, server.tokens));
      const answer = await sendChecked(server.send, request, 'v1beta2 property');
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }),
    { seed: settings.seed, numRuns: settings.runs, endOnFailure: false },
  );
  const store = await assertSound(server);
  t.diagnostic(
    `${sent} requests in ${Math.round(performance.now() - started)} ms; statuses ${formatStatuses(statuses)}; store: ${store.queues} queues, ${store.tasks} tasks`,
  );
});
