/**
 * The model-based test's vocabulary: random operations over a few queues, names and tags
 * (few, so that operations collide). Operations name earlier tasks and leases by position
 * (see model-runner.ts), never by their random ids, so one sequence means the same thing to
 * every backend.
 */
import fc from 'fast-check';
import type { QueueConfig, TaskState } from '../../src/backends/backend.ts';

export const QUEUES = ['qa', 'qb', 'qc'] as const;
export const NAMES = ['n0', 'n1', 'n2', 'n3'] as const;
const TAGS = ['red', 'blue'] as const;

type Queue = (typeof QUEUES)[number];
/**
 * A lease seen earlier, counted back from the newest (modulo their number), among those not
 * yet acked or released (`live`) or among all, and how to present it.
 */
export interface LeasePick {
  from: 'live' | 'all';
  lease: number;
  fence: 'token' | 'expires' | 'forged';
}
/** A task id seen earlier (index modulo their number), or a caller-chosen name. */
export type IdPick = { known: number } | { name: string };

export type Op =
  | {
      kind: 'insert';
      queue: Queue;
      createQueue: boolean;
      items: { id?: string; tag?: string; etaOffset?: number; text: string }[];
    }
  | {
      kind: 'lease';
      queue: Queue;
      max: number;
      leaseSeconds: number;
      tag?: string;
      groupByTag?: boolean;
    }
  | { kind: 'ack'; picks: LeasePick[] }
  | { kind: 'extend'; picks: LeasePick[]; leaseSeconds: number }
  | {
      kind: 'release';
      items: { pick: LeasePick; delaySeconds?: number; error?: string; deadLetter?: boolean }[];
    }
  | { kind: 'delete'; queue: Queue; ids: IdPick[] }
  | { kind: 'get'; queue: Queue; id: IdPick }
  | { kind: 'list'; queue: Queue; limit: number; state?: TaskState; tag?: string; payload: boolean }
  | { kind: 'stats'; queue: Queue }
  | { kind: 'advance'; ms: number }
  | { kind: 'createQueue'; queue: Queue; config: Partial<QueueConfig> }
  | { kind: 'updateQueue'; queue: Queue; patch: Partial<QueueConfig> }
  | { kind: 'redrive'; queue: Queue; ids?: IdPick[] }
  | { kind: 'purge'; queue: Queue }
  | { kind: 'deleteQueue'; queue: Queue }
  | { kind: 'listQueues' };

const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 2 });
const queueArb: fc.Arbitrary<Queue> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('qa' as const) },
  { weight: 1, arbitrary: fc.constantFrom('qb' as const, 'qc' as const) },
);
/** Mostly one of the last few leases (likely still held), sometimes any. */
const recentArb = fc.oneof(
  { weight: 3, arbitrary: fc.nat(2) },
  { weight: 1, arbitrary: fc.nat(30) },
);
const leasePickArb: fc.Arbitrary<LeasePick> = fc.record({
  from: fc.constantFrom('live', 'live', 'live', 'all'),
  lease: recentArb,
  fence: fc.constantFrom('token', 'token', 'token', 'expires', 'forged'),
});
const idPickArb: fc.Arbitrary<IdPick> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ known: recentArb }) },
  { weight: 1, arbitrary: fc.record({ name: fc.constantFrom(...NAMES, 'never') }) },
);
const configArb: fc.Arbitrary<Partial<QueueConfig>> = fc.record(
  {
    maxLeases: fc.constantFrom(null, 1, 2, 3),
    deadLetterQueue: fc.constantFrom(null, ...QUEUES),
    dedupWindowSeconds: fc.constantFrom(0, 60, 604800),
    // Rarely paused: a paused queue leases nothing, which would hide everything else.
    paused: fc.constantFrom(false, false, false, false, true),
  },
  { requiredKeys: [] },
);

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      queue: queueArb,
      createQueue: fc.constantFrom(true, true, true, false),
      items: fc.array(
        fc.record({
          id: opt(fc.constantFrom(...NAMES)),
          tag: opt(fc.constantFrom(...TAGS)),
          etaOffset: opt(fc.constantFrom(-5_000, 0, 1_000, 30_000, 3_600_000)),
          text: fc.constantFrom('a', 'b', ''),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant('lease' as const),
      queue: queueArb,
      max: fc.integer({ min: 1, max: 4 }),
      leaseSeconds: fc.constantFrom(0, 1, 10, 60),
      // Mostly untagged: a tag filter often finds nothing, which tests little.
      tag: fc.constantFrom(undefined, undefined, undefined, ...TAGS),
      groupByTag: opt(fc.boolean()),
    }),
  },
  {
    weight: 18,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      picks: fc.array(leasePickArb, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('extend' as const),
      picks: fc.array(leasePickArb, { minLength: 1, maxLength: 2 }),
      leaseSeconds: fc.constantFrom(0, 5, 60),
    }),
  },
  {
    weight: 18,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      items: fc.array(
        fc.record({
          pick: leasePickArb,
          delaySeconds: opt(fc.constantFrom(0, 1, 30)),
          error: opt(fc.constantFrom('boom', 'x'.repeat(5000))),
          deadLetter: opt(fc.boolean()),
        }),
        { minLength: 1, maxLength: 2 },
      ),
    }),
  },
  {
    weight: 18,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(
        fc.constantFrom(1, 1_000, 10_000, 30_000, 60_000, 3_600_000, 7 * 86_400_000),
        fc.integer({ min: 0, max: 120_000 }),
      ),
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      queue: queueArb,
      ids: fc.array(idPickArb, { minLength: 1, maxLength: 2 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('get' as const), queue: queueArb, id: idPickArb }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('list' as const),
      queue: queueArb,
      limit: fc.integer({ min: 1, max: 4 }),
      state: opt(fc.constantFrom('ready', 'delayed', 'leased', 'dead' as const)),
      tag: opt(fc.constantFrom(...TAGS)),
      payload: fc.boolean(),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('stats' as const), queue: queueArb }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('createQueue' as const),
      queue: queueArb,
      config: configArb,
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('updateQueue' as const),
      queue: queueArb,
      patch: configArb,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('redrive' as const),
      queue: queueArb,
      ids: opt(fc.array(idPickArb, { minLength: 1, maxLength: 2 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('purge' as const), queue: queueArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('deleteQueue' as const), queue: queueArb }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('listQueues' as const) }) },
);

/** How queue qa starts: mostly with a retry limit and a dead-letter queue, to reach them. */
export const setupArb: fc.Arbitrary<Partial<QueueConfig>> = fc.record({
  maxLeases: fc.constantFrom(null, 1, 2, 3),
  deadLetterQueue: fc.constantFrom(null, 'qb', 'qc'),
  dedupWindowSeconds: fc.constantFrom(0, 60, 604800),
});

/** Sequences long enough for leases to run out, tasks to die and tombstones to expire. */
export const sequenceArb: fc.Arbitrary<Op[]> = fc.array(opArb, { maxLength: 60, size: 'max' });
