/**
 * The transport suite's harness: one harness (one store, one server) per suite, fresh queue
 * names and fresh connections per test, every connection closed after its test, and skips
 * that name the capability a transport lacks.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { Capabilities } from '../../backends/backend.ts';
import { Connection, type ConnectionOptions } from '../../client/connection.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import { PullqError } from '../../protocol/errors.ts';

export interface TransportHarness {
  /** How to reach the transport under test: every connection of the suite opens these. */
  connectionOptions(): ConnectionOptions;
  /** Creates an empty queue, the way an administrator would. */
  createQueue(name: string): Promise<void>;
  /** Inserts bytes without a pullq envelope, as another tool would (for a server: through
   * its v1beta2 API). */
  insertRaw(queue: string, payload: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type MakeHarness = () => Promise<TransportHarness> | TransportHarness;

export interface TransportContext {
  /** A connection to the transport, closed after the test; options add to the harness's. */
  connect(options?: ConnectionOptions): Connection;
  /** A created, empty queue with a name no other test uses. */
  queue(): Promise<string>;
  /** A queue name no other test uses (the queue is not created). */
  name(): string;
  harness: TransportHarness;
  capabilities: Capabilities;
  /** Tasks in the queue in any state (to prove a requeue made no copy). */
  countTasks(queue: string): Promise<number>;
}

export interface TransportSuite {
  test: (
    title: string,
    body: (ctx: TransportContext) => Promise<void>,
    needs?: { capability?: keyof Capabilities },
  ) => void;
}

export function transportSuite(makeHarness: MakeHarness): TransportSuite {
  let harness: TransportHarness | undefined;
  let capabilities: Capabilities | undefined;
  const run = randomBytes(4).toString('hex');
  let counter = 0;

  before(async () => {
    harness = await makeHarness();
    const probe = new Connection({ ...harness.connectionOptions() });
    try {
      capabilities = (await probe.connect()).capabilities;
    } finally {
      await probe.close();
    }
  });
  after(async () => {
    await harness?.close();
  });

  return {
    test(title, body, needs = {}) {
      it(title, async (t) => {
        assert.ok(harness && capabilities, 'the harness did not start');
        // Only a capability declared false skips: an absent optional one means the transport has it.
        if (needs.capability !== undefined && capabilities[needs.capability] === false) {
          t.skip(`the transport lacks the ${needs.capability} capability`);
          return;
        }
        const connections: Connection[] = [];
        const h = harness;
        const ctx: TransportContext = {
          harness: h,
          capabilities,
          connect(options = {}) {
            const connection = new Connection({ ...h.connectionOptions(), ...options });
            connections.push(connection);
            return connection;
          },
          name: () => `tc-${run}-${++counter}`,
          async queue() {
            const name = ctx.name();
            await h.createQueue(name);
            return name;
          },
          async countTasks(queue) {
            const backend = await ctx.connect().connect();
            const stats = await backend.stats(queue);
            return stats.ready + stats.delayed + stats.leased + stats.dead;
          },
        };
        try {
          await body(ctx);
        } finally {
          await Promise.all(connections.map(async (connection) => connection.close()));
        }
      });
    },
  };
}

/** Asserts that `promise` rejects with a PullqError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<PullqError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof PullqError, `expected a PullqError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
