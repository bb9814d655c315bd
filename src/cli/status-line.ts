/**
 * A live status line for a long-running command (`pullq worker` on a terminal): redrawn in
 * place every second at the bottom of the terminal, with log lines scrolling above it. Forced
 * on a stream that is not a terminal, it prints one plain status line per interval instead.
 */
import type { WorkerStats } from '../worker/worker-events.ts';
import { formatCount } from './output.ts';

export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class StatusLine {
  readonly #stream: StatusStream;
  readonly #render: () => string;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(stream: StatusStream, render: () => string, intervalMs = 1000) {
    this.#stream = stream;
    this.#render = render;
    this.#tty = stream.isTTY === true;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#draw(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Prints a line above the status line. */
  log(line: string): void {
    if (this.#tty && this.#timer !== undefined) {
      this.#stream.write(`\r\x1b[K${line}\n${this.#render()}`);
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  /** Stops redrawing and clears the line. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#stream.write('\r\x1b[K');
  }

  #draw(): void {
    const line = this.#render();
    this.#stream.write(this.#tty ? `\r\x1b[K${line}` : `${line}\n`);
  }
}

/** The worker's status in one line; processed/s is over the time since the previous line. */
export function workerStatus(
  stats: () => WorkerStats,
  now: () => number = () => performance.now(),
): () => string {
  let previous = { processed: stats().processed, at: now() };
  return () => {
    const current = stats();
    const at = now();
    const seconds = (at - previous.at) / 1000;
    const rate = seconds > 0 ? (current.processed - previous.processed) / seconds : 0;
    previous = { processed: current.processed, at };
    return [
      `processed ${formatCount(current.processed)} (${formatCount(Math.round(rate))}/s)`,
      `in flight ${formatCount(current.inFlight)}`,
      `buffered ${formatCount(current.buffered)}`,
      `failed ${formatCount(current.failed)}`,
      `retried ${formatCount(current.retried)}`,
      `dead ${formatCount(current.dead)}`,
      `renewals ${formatCount(current.renewals)}`,
      `processes ${current.pids.length}`,
    ].join(' · ');
  };
}
