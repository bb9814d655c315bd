/**
 * `pullq/worker`: the supervised multi-process worker, named tasks and the errors that steer
 * its failure policy.
 */
export { Worker } from './worker.ts';
export type { WorkerOptions } from './worker.ts';
export type { StopReport, WorkerEvents, WorkerStats } from './worker-events.ts';
export { defineTask, TASK_HEADER } from './tasks.ts';
export type { Task, TaskOptions } from './tasks.ts';
export { PermanentError, RetryAfter } from './errors.ts';
export { DEFAULT_BACKOFF, backoffDelayMs } from './policy.ts';
export type { Backoff } from './policy.ts';
export type { Handler, HandlerContext, WorkerLogger, WorkerMessage } from './context.ts';
export { serveWorkerMetrics, workerRegistry } from './metrics.ts';
export type { MetricsServer, MetricsServerOptions } from './metrics.ts';
