/**
 * What a handler receives: the message as its child process decoded it, and `ctx` (abort
 * signal, attempt number, lease extension, logger).
 */
import type { Headers } from '../client/envelope.ts';
import type { PullqError } from '../protocol/errors.ts';

export interface WorkerMessage<T = unknown> {
  id: string;
  queue: string;
  tag: string | null;
  /** 1 on the first delivery. */
  attempts: number;
  enqueuedAt: Date;
  /** The task's bytes as stored. */
  payload: Uint8Array;
  /** The decoded body; reading it throws `decodeError` when the payload could not be decoded. */
  readonly body: T;
  headers: Headers;
  contentType: string;
  /** True when the task has no pullq envelope (its body is then the raw bytes). */
  raw: boolean;
  decodeError: PullqError | null;
}

/** The subset of a pino logger handlers get; bound to the task's id and attempt. */
export interface WorkerLogger {
  debug(object: object | string, message?: string): void;
  info(object: object | string, message?: string): void;
  warn(object: object | string, message?: string): void;
  error(object: object | string, message?: string): void;
}

export interface HandlerContext<T = unknown> {
  /** Aborts on the task's timeout and on a forced shutdown. */
  signal: AbortSignal;
  /** The same as `message.attempts`. */
  attempt: number;
  /** Keeps the task this many seconds from now (the worker also renews it on its own). */
  extendLease(seconds: number): Promise<void>;
  logger: WorkerLogger;
  message: WorkerMessage<T>;
}

/** A handler module's default export. */
export type Handler<T = unknown> = (
  message: WorkerMessage<T>,
  ctx: HandlerContext<T>,
) => Promise<void>;
