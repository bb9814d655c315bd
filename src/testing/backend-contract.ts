/**
 * The backend contract suite: one set of node:test tests that every Backend must pass
 * unchanged (memory, SQLite, PostgreSQL, Redis, HTTP over a server). Each test names the rule
 * of docs/protocol.md it checks. Call it at the top level of a test file:
 *
 *   backendContract('memory', (clock) => new MemoryBackend({ clock }));
 *
 * The factory gets a fresh ManualClock per test and must return a fresh, empty backend on it
 * (or one over a shared store: queue names are unique per run). The suite closes it.
 */
import { describe } from 'node:test';
import { deadLetterContract } from './contract/dead-letters.ts';
import {
  contractSuite,
  type BackendContractOptions,
  type MakeBackend,
} from './contract/harness.ts';
import { inputCheckContract } from './contract/input-checks.ts';
import { leaseTokenContract } from './contract/lease-tokens.ts';
import { leaseContract } from './contract/leases.ts';
import { listingContract } from './contract/listing.ts';
import { longPollContract } from './contract/long-poll.ts';
import { queueContract } from './contract/queues.ts';
import { taskContract } from './contract/tasks.ts';

export type { BackendContractOptions, MakeBackend };

export function backendContract(
  name: string,
  makeBackend: MakeBackend,
  options: BackendContractOptions = {},
): void {
  const suite = contractSuite(makeBackend, options);
  describe(`${name} backend contract`, () => {
    leaseContract(suite);
    leaseTokenContract(suite);
    taskContract(suite);
    deadLetterContract(suite);
    listingContract(suite);
    queueContract(suite);
    inputCheckContract(suite);
    longPollContract(suite);
  });
}
