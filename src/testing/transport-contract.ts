/**
 * The transport contract suite: the same SimpleQueue/Message scenarios against any transport a
 * Connection can open (memory, SQLite, a pullq server, and the backends added later). It
 * checks what a consumer relies on: put/get/ack, reject and requeue without copies, lease
 * expiry and extension, close giving back the prefetch buffer, settling once, and tasks
 * inserted by other tools arriving as raw messages. Call it at the top level of a test file:
 *
 *   transportContract('sqlite', () => ({
 *     connectionOptions: () => ({ url: `sqlite://${file}` }),
 *     createQueue: ..., insertRaw: ..., close: ...,
 *   }));
 *
 * Leases run on real time here (a transport's clock may live in another process), so the
 * scenarios that need a lease to run out take a second or two each.
 */
import { describe } from 'node:test';
import { deliveryContract } from './transport/delivery.ts';
import { transportSuite, type MakeHarness, type TransportHarness } from './transport/harness.ts';
import { payloadContract } from './transport/payloads.ts';
import { settlingContract } from './transport/settling.ts';

export type { MakeHarness, TransportHarness };

export function transportContract(name: string, makeHarness: MakeHarness): void {
  const suite = transportSuite(makeHarness);
  describe(`${name} transport contract`, () => {
    deliveryContract(suite);
    settlingContract(suite);
    payloadContract(suite);
  });
}
