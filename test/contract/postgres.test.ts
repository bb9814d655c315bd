/**
 * The backend contract against real PostgreSQL ($PULLQ_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test). Every test opens a fresh backend on one schema
 * made for this run (the suite's queue names are unique per run); the schema is dropped at
 * the end. An unreachable database fails the file under CI=true and skips it otherwise.
 */
import { after, before, it } from 'node:test';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { backendContract } from '../../src/testing/index.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `pq_contract_${process.pid}_${Date.now().toString(36)}`;

async function sql(text: string): Promise<void> {
  const client = new pg.Client(URL);
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const unreachable = await sql('SELECT 1').then(
  () => null,
  (error: unknown) => `PostgreSQL at ${URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

if (unreachable !== null) {
  it('postgres backend contract', { skip: unreachable }, () => {});
} else {
  before(async () => {
    // Migrates the schema once; every test then opens it as an existing one.
    await (await PostgresBackend.open({ connection: URL, schema: SCHEMA, poolSize: 1 })).close();
  });
  after(() => sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));

  backendContract('postgres', (clock) =>
    PostgresBackend.open({ connection: URL, schema: SCHEMA, clock, poolSize: 4 }),
  );
}
