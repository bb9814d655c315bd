/**
 * The TokenStore contract (src/testing/token-store-contract.ts) against the postgres backend,
 * then what PostgreSQL adds: a token made through one backend is known at once to another
 * backend on the same schema (two servers behind a load balancer), and the table holds only
 * the hash. Each test gets a fresh schema of this run; all are dropped at the end. The
 * database URL and the rules for an unreachable one are those of
 * test/contract/postgres.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { newTokenRecord } from '../../src/auth/tokens.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { tokenStoreContract } from '../../src/testing/token-store-contract.ts';

const URL = process.env['PULLQ_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `pq_tokens_${process.pid}_${Date.now().toString(36)}`;
const NOW = Date.UTC(2030, 0, 1);

const client = new pg.Client(URL);
const unreachable = await client.connect().then(
  () => null,
  (error: unknown) => `PostgreSQL at ${URL} cannot be reached: ${String(error)}`,
);
if (unreachable !== null && process.env['CI'] === 'true') throw new Error(unreachable);

const schemas: string[] = [];
function freshSchema(): string {
  const schema = `${RUN}_${schemas.length + 1}`;
  schemas.push(schema);
  return schema;
}

after(async () => {
  if (unreachable !== null) return;
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

if (unreachable !== null) {
  it('token store: postgres', { skip: unreachable }, () => {});
} else {
  tokenStoreContract('postgres', () =>
    PostgresBackend.open({ connection: URL, schema: freshSchema(), poolSize: 2 }),
  );

  describe('token store: postgres database', () => {
    it('a token made through one backend is found at once through another on the schema', async () => {
      const schema = freshSchema();
      const one = await PostgresBackend.open({ connection: URL, schema, poolSize: 1 });
      const two = await PostgresBackend.open({ connection: URL, schema, poolSize: 1 });
      try {
        const { record } = newTokenRecord({ name: 'shared', roles: ['admin'] }, NOW);
        await one.createToken(record);
        assert.deepEqual(await two.findTokenByHash(record.tokenHash), record);
        assert.equal(await two.revokeToken('shared'), true);
        assert.equal(await one.findTokenByHash(record.tokenHash), null);
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('the tokens table holds the hash and never the token', async () => {
      const schema = freshSchema();
      const backend = await PostgresBackend.open({ connection: URL, schema, poolSize: 1 });
      try {
        const { token, record } = newTokenRecord({ name: 'secret', roles: ['admin'] }, NOW);
        await backend.createToken(record);
        const { rows } = await client.query<Record<string, unknown>>(
          `SELECT * FROM ${schema}.tokens`,
        );
        const stored = JSON.stringify(rows);
        assert.ok(stored.includes(record.tokenHash), 'the hash is stored');
        assert.equal(stored.includes(token), false);
        assert.equal(stored.includes(token.slice(3)), false);
      } finally {
        await backend.close();
      }
    });
  });
}
