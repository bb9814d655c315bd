/** The transport contract over `memory://`: connections of the suite share one store by name. */
import { randomBytes } from 'node:crypto';
import { Connection } from '../../src/client/connection.ts';
import { transportContract } from '../../src/testing/index.ts';

transportContract('memory', () => {
  const url = `memory://transport-${randomBytes(4).toString('hex')}`;
  // Held open for the whole suite, so the named store outlives each test's connections.
  const keeper = new Connection(url);
  return {
    connectionOptions: () => ({ url }),
    createQueue: async (name) => {
      await (await keeper.connect()).createQueue(name);
    },
    insertRaw: async (queue, payload) => {
      const [result] = await (await keeper.connect()).insert(queue, [{ payload }]);
      if (!result?.ok) throw result?.error ?? new Error('no insert result');
    },
    close: () => keeper.close(),
  };
});
