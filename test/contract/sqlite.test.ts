import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { backendContract } from '../../src/testing/index.ts';

let dir = '';
let files = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pullq-contract-sqlite-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A file per test (not :memory:), so the suite exercises WAL and the real file path.
backendContract(
  'sqlite',
  (clock) => new SqliteBackend({ path: join(dir, `${++files}.db`), clock }),
);
