/**
 * The Worker's options, checked and given their defaults once: a bad value fails `new Worker`
 * with `invalid_argument` naming the option, before any process is forked.
 */
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import type { Connection } from '../client/connection.ts';
import { LIMITS, checkInt, checkNumber, checkQueueName } from '../protocol/limits.ts';
import { DEFAULT_BACKOFF, type Backoff } from './policy.ts';

export interface WorkerOptions {
  connection: Connection;
  queue: string;
  /** Path of the handler module (a default export, or tasks made with defineTask). */
  handler: string;
  /** Child processes. Default: the CPU count. */
  processes?: number;
  /** Handlers each child runs at once. Default 10. */
  concurrency?: number;
  /** Tasks leased ahead of a free slot. Default: automatic, what the slots use up in about
   * 20 ms, at least processes * concurrency and at most 1000 (or processes * concurrency,
   * if more) (./prefetch.ts). */
  prefetch?: number;
  /** Length of each lease (renewed while the task is held). Default 60. */
  leaseSeconds?: number;
  /** Retry delays: full jitter below baseMs * 2^(attempt-1), at most maxMs. */
  backoff?: Partial<Backoff>;
  /** Seconds an attempt may run before its signal aborts and it fails. Default: no limit. */
  timeoutSeconds?: number | null;
  /** Seconds running handlers get to finish on stop(). Default 30. */
  graceSeconds?: number;
  /** Stop once nothing is ready and nothing is in flight. */
  once?: boolean;
  /** pino level of the supervisor's and the children's logs. Default 'info'. */
  logLevel?: string;
  /** Where the supervisor logs. Default: pino JSON lines on stderr at `logLevel`. */
  logger?: Logger;
  /** Gets each line the children write to stderr (their logs). Default: the children write
   * to this process's stderr themselves. */
  onChildOutput?: (line: string) => void;
}
export interface ResolvedWorkerOptions {
  connection: Connection;
  queue: string;
  /** Absolute. */
  handler: string;
  processes: number;
  concurrency: number;
  /** undefined: automatic. */
  prefetch: number | undefined;
  leaseSeconds: number;
  backoff: Backoff;
  timeoutSeconds: number | null;
  graceSeconds: number;
  once: boolean;
  logLevel: string;
  logger: Logger | undefined;
  onChildOutput: ((line: string) => void) | undefined;
}

export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  checkQueueName(options.queue);
  const processes = options.processes ?? availableParallelism();
  checkInt(processes, 'processes', 1, 1024);
  const concurrency = options.concurrency ?? 10;
  checkInt(concurrency, 'concurrency', 1, 10_000);
  const prefetch = options.prefetch;
  if (prefetch !== undefined) checkInt(prefetch, 'prefetch', 1, 100_000);
  const leaseSeconds = options.leaseSeconds ?? 60;
  checkNumber(leaseSeconds, 'leaseSeconds', 1, LIMITS.maxLeaseSeconds);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  checkNumber(backoff.baseMs, 'backoff.baseMs', 0, 86_400_000);
  checkNumber(backoff.maxMs, 'backoff.maxMs', 0, LIMITS.maxEtaAheadSeconds * 1000);
  const timeoutSeconds = options.timeoutSeconds ?? null;
  if (timeoutSeconds !== null) {
    checkNumber(timeoutSeconds, 'timeoutSeconds', 0.001, LIMITS.maxLeaseSeconds);
  }
  const graceSeconds = options.graceSeconds ?? 30;
  checkNumber(graceSeconds, 'graceSeconds', 0, 86_400);
  return {
    connection: options.connection,
    queue: options.queue,
    handler: resolvePath(options.handler),
    processes,
    concurrency,
    prefetch,
    leaseSeconds,
    backoff,
    timeoutSeconds,
    graceSeconds,
    once: options.once ?? false,
    logLevel: options.logLevel ?? 'info',
    logger: options.logger,
    onChildOutput: options.onChildOutput,
  };
}
