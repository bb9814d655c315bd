/**
 * The transport contract over `postgres://...?schema=...`: every connection of the suite
 * opens the same schema of this run (dropped at the end) through the registry, as an
 * application would. The database URL and the rules for an unreachable one are those of
 * postgres.test.ts.
 */
import { it } from 'node:test';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { transportContract } from '../../src/testing/index.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `pq_transport_${process.pid}_${Date.now().toString(36)}`;

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
  it('postgres transport contract', { skip: unreachable }, () => {});
} else {
  transportContract('postgres', async () => {
    const admin = await PostgresBackend.open({ connection: URL, schema: SCHEMA, poolSize: 2 });
    const url = new globalThis.URL(URL);
    url.searchParams.set('schema', SCHEMA);
    url.searchParams.set('poolSize', '2');
    return {
      connectionOptions: () => ({ url: url.href }),
      createQueue: async (name) => {
        await admin.createQueue(name);
      },
      insertRaw: async (queue, payload) => {
        const [result] = await admin.insert(queue, [{ payload }]);
        if (!result?.ok) throw result?.error ?? new Error('no insert result');
      },
      close: async () => {
        await admin.close();
        await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
      },
    };
  });
}
