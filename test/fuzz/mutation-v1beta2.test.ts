/**
 * The mutation fuzzer over the App Engine v1beta2 API, in process:
 * valid requests of every endpoint, broken one to four ways, against a SQLite store with
 * authentication on. Every answer is a 2xx or a catalogued 4xx in Google's envelope; at
 * the end nothing was logged as an error and the store passes its integrity check.
 */
import { after, before, it } from 'node:test';
import { ENDPOINTS } from './corpus.ts';
import { assertSound, formatStatuses, runMutationFuzz } from './fuzz-loop.ts';
import { fuzzServer, type FuzzServer } from './fuzz-server.ts';
import { fuzzSettings } from './random.ts';

const settings = fuzzSettings(0x5eed_0002, 26_000);

let server: FuzzServer;
before(async () => {
  server = await fuzzServer();
});
after(() => server.close());

it(`${settings.runs} mutated v1beta2 requests: no 5xx, catalogued 4xx only, a sound store after (FUZZ_SEED=${settings.seed})`, async (t) => {
  const started = performance.now();
  const run = await runMutationFuzz(
    server,
    settings,
    ENDPOINTS.filter((endpoint) => endpoint.api === 'v1beta2'),
  );
  const store = await assertSound(server);
  t.diagnostic(
    `${run.requests} requests in ${Math.round(performance.now() - started)} ms; statuses ${formatStatuses(run.statuses)}; store: ${store.queues} queues, ${store.tasks} tasks`,
  );
});
