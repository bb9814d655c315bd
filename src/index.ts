/**
 * pullq: the public surface of the package root. The kombu-style client (Connection,
 * SimpleQueue, Message) lands here next; today it offers the backends and the error catalog.
 */
export { systemClock, DEFAULT_QUEUE_CONFIG, TASK_STATES } from './backends/backend.ts';
export type {
  Backend,
  Capabilities,
  Clock,
  InsertOptions,
  ItemResult,
  LeaseRef,
  LeaseRequest,
  LeasedTask,
  ListRequest,
  NewTask,
  QueueConfig,
  QueueInfo,
  QueueStats,
  RedriveRequest,
  ReleaseRequest,
  Task,
  TaskPage,
  TaskState,
} from './backends/backend.ts';
export { MemoryBackend } from './backends/memory.ts';
export { SqliteBackend } from './backends/sqlite/sqlite-backend.ts';
export type { SqliteBackendOptions } from './backends/sqlite/sqlite-backend.ts';
export { HttpBackend } from './backends/http.ts';
export type { HttpBackendOptions } from './backends/http.ts';
export { ERROR_CATALOG, PullqError, errorFromWire, isPullqError } from './protocol/errors.ts';
export type { ErrorCode } from './protocol/errors.ts';
export { LIMITS } from './protocol/limits.ts';
