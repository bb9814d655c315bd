/**
 * The property-based fuzzer's run, shared by the v1 and v1beta2 test files (one file per API,
 * so the test runner spreads them over its workers): drafts of `api`'s requests from
 * fast-check, sent in process to a fuzz server whose store is replenished and whose clock
 * moves every 200 requests; every answer is checked, and the store must be sound afterwards.
 */
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { toRequest, type RequestDraft } from './request-drafts.ts';
import { FuzzState } from './fuzz-state.ts';
import { assertSound, formatStatuses, replenish, sendChecked, tame } from './fuzz-loop.ts';
import { fuzzServer, type FuzzServer } from './fuzz-server.ts';
import { Random, fuzzSettings } from './random.ts';

export function propertyFuzz(
  api: 'v1' | 'v1beta2',
  drafts: fc.Arbitrary<RequestDraft>,
  seed: number,
  runs: number,
): void {
  const settings = fuzzSettings(seed, runs);
  let server: FuzzServer;
  before(async () => {
    server = await fuzzServer();
  });
  after(() => server.close());

  it(`${settings.runs} generated ${api} requests answer 2xx or a catalogued 4xx (FUZZ_SEED=${settings.seed})`, async (t) => {
    const started = performance.now();
    const random = new Random(settings.seed);
    const state = new FuzzState();
    let sent = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(drafts, async (draft) => {
        if (sent++ % 200 === 0) {
          await replenish(server, state, random);
          server.clock.advance(random.int(0, 90_000));
        }
        const request = tame(toRequest(draft, server.tokens));
        const answer = await sendChecked(server.send, request, `${api} property`);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      }),
      { seed: settings.seed, numRuns: settings.runs, endOnFailure: false },
    );
    const store = await assertSound(server);
    t.diagnostic(
      `${sent} requests in ${Math.round(performance.now() - started)} ms; statuses ${formatStatuses(statuses)}; store: ${store.queues} queues, ${store.tasks} tasks`,
    );
  });
}
