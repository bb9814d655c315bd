/**
 * A worker's child process: loads the handler module and runs up to `concurrency` handlers at
 * once, as the supervisor asks over IPC. It holds no lease and talks to no backend: a handler
 * that blocks this event loop delays only this process's answers, while the supervisor keeps
 * renewing the leases.
 *
 * Signals from a terminal (Ctrl-C reaches the whole process group) are ignored here: shutdown
 * is the supervisor's to order, by `drain`. When the supervisor goes away the child exits, and
 * the leases it held simply run out.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { decodeEnvelope } from '../client/envelope.ts';
import type { Handler, HandlerContext, WorkerLogger, WorkerMessage } from './context.ts';
import { isPermanentError, retryAfterMs } from './errors.ts';
import {
  CHILD_CONFIG_ENV,
  type ChildConfig,
  type FailureReport,
  type FromChild,
  type TaskForChild,
  type ToChild,
} from './protocol.ts';
import { TASK_HEADER, isTask, type Task } from './tasks.ts';

interface Running {
  controller: AbortController;
  /** The outcome was sent (a timeout reports before the handler returns). */
  reported: boolean;
}

const config = JSON.parse(process.env[CHILD_CONFIG_ENV] ?? '{}') as ChildConfig;
const logger = pino({ level: config.logLevel, name: 'pullq-worker' }, pino.destination(2));
const running = new Map<number, Running>();
const pendingExtends = new Map<number, { resolve(): void; reject(error: Error): void }>();
let nextRequestId = 1;
let draining = false;

function send(message: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** Keys whose handlers resolved in this turn of the event loop, sent together by `flushDone`. */
let doneKeys: number[] = [];
let doneSent: Promise<void> | null = null;

/** Resolves once the key has been handed to the IPC channel, in one `done` with every other
 * key finished in the same turn. */
function reportDone(key: number): Promise<void> {
  doneKeys.push(key);
  doneSent ??= new Promise((resolve) =>
    setImmediate(() => {
      const keys = doneKeys;
      doneKeys = [];
      doneSent = null;
      void send({ type: 'done', keys }).then(resolve);
    }),
  );
  return doneSent;
}

interface Handlers {
  fallback: Handler | null;
  tasks: Map<string, Task<unknown>>;
}

async function load(path: string): Promise<Handlers> {
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const tasks = new Map<string, Task<unknown>>();
  for (const value of Object.values(module)) if (isTask(value)) tasks.set(value.name, value);
  const fallback = typeof module['default'] === 'function' ? (module['default'] as Handler) : null;
  if (fallback === null && tasks.size === 0) {
    throw new Error(
      `${path} exports no handler: export a default async (message, ctx) => {...} or tasks made with defineTask`,
    );
  }
  return { fallback, tasks };
}

function failureOf(error: unknown, timedOut: boolean): FailureReport {
  const message = error instanceof Error ? error.message : String(error);
  const note =
    error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return {
    note,
    message,
    permanent: isPermanentError(error),
    retryAfterMs: retryAfterMs(error),
    timedOut,
  };
}

function permanent(message: string): FailureReport {
  return { note: message, message, permanent: true, retryAfterMs: null, timedOut: false };
}

function messageFor(task: TaskForChild): WorkerMessage {
  const decoded = decodeEnvelope(task.payload);
  return {
    id: task.id,
    queue: task.queue,
    tag: task.tag,
    attempts: task.attempts,
    enqueuedAt: new Date(task.enqueuedAt),
    payload: task.payload,
    get body(): unknown {
      if (decoded.error !== null) throw decoded.error;
      return decoded.body;
    },
    headers: decoded.headers,
    contentType: decoded.contentType,
    raw: decoded.raw,
    decodeError: decoded.error,
  };
}

async function run(
  handlers: Handlers,
  key: number,
  task: TaskForChild,
  timeoutSeconds: number | null,
): Promise<void> {
  const controller = new AbortController();
  const entry: Running = { controller, reported: false };
  running.set(key, entry);
  const report = async (message: FromChild | 'done'): Promise<void> => {
    if (entry.reported) return;
    entry.reported = true;
    await (message === 'done' ? reportDone(key) : send(message));
    exitIfDrained();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const message = messageFor(task);
    const name = message.headers[TASK_HEADER];
    const named = typeof name === 'string' ? handlers.tasks.get(name) : undefined;
    if (typeof name === 'string' && named === undefined) {
      const known = [...handlers.tasks.keys()].join(', ') || 'none';
      await report({
        type: 'failed',
        key,
        failure: permanent(
          `unknown task ${JSON.stringify(name)}: the handler module ${config.handler} defines ${known}`,
        ),
      });
      return;
    }
    if (named === undefined && handlers.fallback === null) {
      await report({
        type: 'failed',
        key,
        failure: permanent(
          `the message has no ${TASK_HEADER} header and ${config.handler} has no default export`,
        ),
      });
      return;
    }
    if (named !== undefined && message.decodeError !== null) {
      await report({
        type: 'failed',
        key,
        failure: permanent(`the body cannot be decoded: ${message.decodeError.message}`),
      });
      return;
    }
    const limit = named?.options.timeoutSeconds ?? timeoutSeconds;
    if (limit !== null && limit !== undefined) {
      timer = setTimeout(() => {
        const error = new Error(`the attempt ran past its timeout of ${limit} s`);
        controller.abort(error);
        void report({ type: 'failed', key, failure: failureOf(error, true) });
      }, limit * 1000);
    }
    let taskLogger: WorkerLogger | undefined;
    const ctx: HandlerContext = {
      signal: controller.signal,
      attempt: task.attempts,
      extendLease: async (seconds) => extendLease(key, seconds),
      // Made on first use: a pino child per task costs more than a no-op handler.
      get logger() {
        return (taskLogger ??= logger.child({ task: task.id, attempt: task.attempts }));
      },
      message,
    };
    if (named !== undefined) await named.run(message.body, ctx);
    else await (handlers.fallback as Handler)(message, ctx);
    await report('done');
  } catch (error) {
    await report({ type: 'failed', key, failure: failureOf(error, false) });
  } finally {
    clearTimeout(timer);
    running.delete(key);
    exitIfDrained();
  }
}

/** A draining child exits once every attempt is reported: a handler that ignored its timeout's
 * signal keeps no process alive. */
function exitIfDrained(): void {
  if (!draining || ![...running.values()].every((entry) => entry.reported)) return;
  // A `done` still waiting for its turn goes out first: its tasks must be acked, not redone.
  if (doneSent === null) process.exit(0);
  else void doneSent.then(() => process.exit(0));
}

function extendLease(key: number, seconds: number): Promise<void> {
  const requestId = nextRequestId++;
  return new Promise((resolve, reject) => {
    pendingExtends.set(requestId, { resolve, reject });
    void send({ type: 'extend', key, requestId, seconds });
  });
}

async function main(): Promise<void> {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => process.exit(1));
  let handlers: Handlers;
  try {
    handlers = await load(config.handler);
  } catch (error) {
    await send({
      type: 'load-failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exit(1);
  }
  process.on('message', (message: ToChild) => {
    switch (message.type) {
      case 'run':
        for (const { key, task } of message.runs) {
          void run(handlers, key, task, message.timeoutSeconds);
        }
        break;
      case 'abort':
        running.get(message.key)?.controller.abort(new Error(message.reason));
        break;
      case 'drain':
        draining = true;
        exitIfDrained();
        break;
      case 'extended': {
        const pending = pendingExtends.get(message.requestId);
        pendingExtends.delete(message.requestId);
        if (message.error === null) pending?.resolve();
        else pending?.reject(new Error(message.error));
        break;
      }
    }
  });
  await send({ type: 'ready', pid: process.pid });
}

await main();
