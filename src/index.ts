/**
 * pullq: the public surface of the package root: the kombu-style client (Connection,
 * SimpleQueue, Message), the transport registry, the backends and the error catalog.
 */
export { Connection, CONNECTION_DEFAULTS } from './client/connection.ts';
export type { ConnectionOptions, ResolvedConnectionOptions } from './client/connection.ts';
export { SimpleQueue } from './client/simple-queue.ts';
export type { GetOptions, SimpleQueueOptions } from './client/simple-queue.ts';
export type { PutOptions, PutResult } from './client/put.ts';
export { Message } from './client/message.ts';
export type { MessageState, RequeueOptions } from './client/message.ts';
export { registerTransport, knownSchemes } from './client/registry.ts';
export type { Transport, TransportSettings } from './client/registry.ts';
export { DEFAULT_RETRY_POLICY } from './client/retry.ts';
export type { RetryEvent, RetryPolicy } from './client/retry.ts';
export { decodeEnvelope, encodeEnvelope } from './client/envelope.ts';
export type {
  DecodedPayload,
  DecodeOptions,
  EncodeOptions,
  HeaderValue,
  Headers,
  RawDecoding,
} from './client/envelope.ts';
export { SERIALIZER_NAMES, COMPRESSION_NAMES } from './client/serializers.ts';
export type { CompressionName, SerializerName } from './client/serializers.ts';
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
export { PostgresBackend } from './backends/postgres/postgres-backend.ts';
export type { PostgresBackendOptions } from './backends/postgres/postgres-backend.ts';
export { RedisBackend } from './backends/redis/redis-backend.ts';
export type { RedisBackendOptions } from './backends/redis/redis-backend.ts';
export { redisOptionsFromUrl } from './backends/redis/open.ts';
export { HttpBackend } from './backends/http.ts';
export type { HttpBackendOptions } from './backends/http.ts';
export { ERROR_CATALOG, PullqError, errorFromWire, isPullqError } from './protocol/errors.ts';
export type { ErrorCode } from './protocol/errors.ts';
export { LIMITS } from './protocol/limits.ts';
