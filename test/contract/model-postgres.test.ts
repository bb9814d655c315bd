/**
 * Model-based test against real PostgreSQL: random operation sequences run against memory
 * (the reference) and the postgres backend side by side (see model.test.ts); every
 * observable result must be equal. The sequences use fixed queue names, so each run starts
 * from an emptied schema of this file's own, dropped at the end. One backend serves every
 * run, on the clock of the run (opening one per run, two new connections, tripled the time
 * of a run). The database URL and the rules for an unreachable one are those of
 * postgres.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import type { Backend, Clock } from '../../src/backends/backend.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { sequenceArb, setupArb } from './model-ops.ts';
import { compareWithReference } from './model-runner.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `pq_model_${process.pid}_${Date.now().toString(36)}`;
/** About 50 ms a run on an idle machine, 150 ms on a busy one: under 25 s either way. */
const RUNS = 150;

const client = new pg.Client(URL);
const unreachable = await client.connect().then(
  () => null,
  (error: unknown) => `PostgreSQL at ${URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

/** The clock of the running comparison. */
let runClock: Clock = { now: () => 0 };
let backend: PostgresBackend | undefined;

/** The shared backend for one run: emptied, on the run's clock, and left open by the run. */
async function forRun(clock: Clock): Promise<Backend> {
  await client.query(`DELETE FROM ${SCHEMA}.tasks; DELETE FROM ${SCHEMA}.tombstones;
    DELETE FROM ${SCHEMA}.lease_counts; DELETE FROM ${SCHEMA}.queues`);
  runClock = clock;
  const shared = backend as PostgresBackend;
  return new Proxy(shared, {
    get(target, property) {
      if (property === 'close') return async () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

describe('model-based: random operations agree with the memory reference', () => {
  before(async () => {
    if (unreachable !== null) return;
    backend = await PostgresBackend.open({
      connection: URL,
      schema: SCHEMA,
      clock: { now: () => runClock.now() },
      poolSize: 2,
    });
  });
  after(async () => {
    if (unreachable !== null) return;
    await backend?.close();
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await client.end();
  });

  it('postgres agrees with memory', { skip: unreachable ?? false }, async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, sequenceArb, (setup, ops) =>
        compareWithReference(forRun, setup, ops),
      ),
      { numRuns: RUNS },
    );
  });
});
