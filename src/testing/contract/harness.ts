/**
 * The contract suite's harness: a fresh backend per test, fresh queue names, explicit skips,
 * and the few assertions every section shares. Sections use only the Backend interface, so
 * the suite runs unchanged against any backend, including one behind an HTTP server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type {
  Backend,
  Capabilities,
  ItemResult,
  LeaseRequest,
  LeasedTask,
  NewTask,
  QueueConfig,
  Task,
} from '../../backends/backend.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import { ManualClock } from '../manual-clock.ts';

export interface BackendContractOptions {
  /**
   * The backend keeps its own time (a remote server whose clock cannot be injected): tests
   * that tick the clock or check exact times are skipped, each with its reason.
   */
  realTimeOnly?: boolean;
  /** How soon (ms) a waiting lease must return after a task arrives. Default 1000. */
  wakeupWithinMs?: number;
}

export type MakeBackend = (clock: ManualClock) => Promise<Backend> | Backend;

export interface ContractContext {
  backend: Backend;
  clock: ManualClock;
  /** The backend's time: the manual clock, or the wall clock for real-time-only backends. */
  now(): number;
  /** A queue name no other test of this run uses (stores may be shared between tests). */
  name(): string;
  /** Creates a queue with a fresh name and returns the name. */
  queue(config?: Partial<QueueConfig>): Promise<string>;
  /** Closes the backend now; the harness then leaves it alone. */
  close(): Promise<void>;
}

export interface TestNeeds {
  /** The test ticks the manual clock or checks exact times. */
  clock?: boolean;
  /** The test exercises this capability. */
  capability?: keyof Capabilities;
}

export interface ContractSuite {
  readonly options: Readonly<Required<BackendContractOptions>>;
  test: (title: string, body: (ctx: ContractContext) => Promise<void>, needs?: TestNeeds) => void;
}

export function contractSuite(
  makeBackend: MakeBackend,
  options: BackendContractOptions,
): ContractSuite {
  const resolved = {
    realTimeOnly: options.realTimeOnly ?? false,
    wakeupWithinMs: options.wakeupWithinMs ?? 1000,
  };
  // Random per run: a backend over a shared store (PostgreSQL, Redis) keeps other runs' queues.
  const prefix = `c${randomBytes(4).toString('hex')}`;
  let names = 0;
  return {
    options: resolved,
    test: (title, body, needs = {}) => {
      if (needs.clock && resolved.realTimeOnly) {
        it(
          title,
          {
            skip: 'needs the manual clock; this backend runs on real time (realTimeOnly)',
          },
          () => {},
        );
        return;
      }
      it(title, async (t) => {
        const clock = new ManualClock();
        const backend = await makeBackend(clock);
        let closed = false;
        const ctx: ContractContext = {
          backend,
          clock,
          now: () => (resolved.realTimeOnly ? Date.now() : clock.now()),
          name: () => `${prefix}-${++names}`,
          async queue(config) {
            const name = ctx.name();
            await backend.createQueue(name, config);
            return name;
          },
          async close() {
            closed = true;
            await backend.close();
          },
        };
        try {
          if (needs.capability && !backend.capabilities[needs.capability]) {
            t.skip(`the backend does not declare the ${needs.capability} capability`);
            return;
          }
          await body(ctx);
        } finally {
          if (!closed) await backend.close();
        }
      });
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(payload: Uint8Array): string {
  return decoder.decode(payload);
}

/** A task to insert: `text` becomes the payload. */
export type TaskSpec = Omit<NewTask, 'payload'> & { text?: string; payload?: Uint8Array };

export function newTask(spec: TaskSpec): NewTask {
  const { text: body, ...rest } = spec;
  return { ...rest, payload: spec.payload ?? bytes(body ?? '') };
}

/** Inserts tasks that must all be accepted; returns them as stored. */
export async function put(ctx: ContractContext, queue: string, specs: TaskSpec[]): Promise<Task[]> {
  return values(await ctx.backend.insert(queue, specs.map(newTask)));
}

/** Leases with defaults (up to 100 tasks, 60 s). */
export function take(
  ctx: ContractContext,
  queue: string,
  request: Partial<LeaseRequest> = {},
): Promise<LeasedTask[]> {
  return ctx.backend.lease(queue, { max: 100, leaseSeconds: 60, ...request });
}

/** The values of a batch answer whose items must all have succeeded. */
export function values<T>(results: ItemResult<T>[]): T[] {
  return results.map((result, index) => {
    if (!result.ok) {
      assert.fail(`item ${index} failed with ${result.error.code}: ${result.error.message}`);
    }
    return result.value;
  });
}

/** Asserts that one item of a batch answer failed with `code`. */
export function assertItemError(result: ItemResult<unknown> | undefined, code: ErrorCode): void {
  assert.ok(result, 'missing item in the batch answer');
  assert.equal(result.ok, false, `expected the item to fail with ${code}, it succeeded`);
  if (!result.ok) assert.equal(result.error.code, code, result.error.message);
}

/** Asserts that a verb fails as a whole with `code`, as a rejected promise (never a sync throw). */
export async function rejectsWith(call: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  let promise: Promise<unknown>;
  try {
    promise = call();
  } catch (error) {
    assert.fail(`threw synchronously instead of rejecting: ${String(error)}`);
  }
  await assert.rejects(promise, (error: unknown) => {
    const got = (error as { code?: unknown } | null)?.code;
    assert.equal(got, code, `expected ${code}, got ${String(got)}: ${String(error)}`);
    return true;
  });
}

export function ids(tasks: readonly Task[]): string[] {
  return tasks.map((task) => task.id);
}

export function texts(tasks: readonly Task[]): string[] {
  return tasks.map((task) => text(task.payload));
}

/** A lease's native fence. */
export function ref(task: LeasedTask): { id: string; token: string } {
  return { id: task.id, token: task.leaseToken };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
