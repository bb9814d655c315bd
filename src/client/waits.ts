/**
 * Waiting without blocking shutdown: sleeps and waits that an AbortSignal or a deadline ends.
 */
import { performance } from 'node:perf_hooks';

/** Resolves after `ms`, or early (without an error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for `promise`, but no later than `deadline` (performance.now ms); rejects with the
 * signal's reason if it aborts first. The fill it waits for goes on either way: what it
 * leases lands in the buffer for the next get.
 */
export function settledOrDeadline(
  promise: Promise<void>,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    };
    const abort = (): void => {
      cleanup();
      reject(signal?.reason as Error);
    };
    const timer =
      deadline === Infinity
        ? undefined
        : setTimeout(
            () => {
              cleanup();
              resolve();
            },
            Math.max(0, deadline - performance.now()),
          );
    if (signal?.aborted) {
      abort();
      return;
    }
    signal?.addEventListener('abort', abort, { once: true });
    promise.then(
      () => {
        cleanup();
        resolve();
      },
      (error: Error) => {
        cleanup();
        reject(error);
      },
    );
  });
}
