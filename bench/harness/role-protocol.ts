/**
 * Messages between the runner and its producer and consumer processes (bench/harness/role.ts),
 * over the IPC channel of `fork`.
 */
import type { JobResult, ProducerJob } from './jobs.ts';

export interface RoleInit {
  role: 'producer' | 'consumer';
  /** The contender's name in the registry (bench/contenders/index.ts). */
  contender: string;
  /** What `prepare` returned. */
  config: Record<string, string>;
  /** Consumers: tasks at once in this process. */
  concurrency: number;
  /** Consumers: where the handler records deliveries. */
  recordDir: string;
}

export type ToRole =
  /** Producer: run the job. Consumer: start consuming. Answered by `done`. */
  | { type: 'go'; job?: ProducerJob }
  /** Producer: put task `id` now, t0 taken just before the call. Answered by `put-done`. */
  | { type: 'put'; id: number }
  /** Close (a consumer finishes and acks what it runs) and exit. Answered by `stopped`. */
  | { type: 'stop' };

export type FromRole =
  | { type: 'ready' }
  | { type: 'done'; result: JobResult | null }
  | { type: 'put-done' }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
