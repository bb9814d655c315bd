/** The transport contract over `sqlite:///...`: every connection opens the same file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { transportContract } from '../../src/testing/index.ts';

transportContract('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pullq-transport-'));
  const path = join(dir, 'queue.db');
  const admin = new SqliteBackend({ path });
  return {
    connectionOptions: () => ({ url: `sqlite://${path}` }),
    createQueue: async (name) => {
      await admin.createQueue(name);
    },
    insertRaw: async (queue, payload) => {
      const [result] = await admin.insert(queue, [{ payload }]);
      if (!result?.ok) throw result?.error ?? new Error('no insert result');
    },
    close: async () => {
      await admin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
