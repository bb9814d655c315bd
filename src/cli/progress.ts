/**
 * A progress line for long jobs (bulk import, benchmarks): count/total, rate and ETA, redrawn
 * in place on a terminal at most ten times a second. Off a terminal it draws nothing: the
 * caller prints a plain summary instead, so logs do not fill with carriage returns.
 */
import { formatCount } from './output.ts';

export interface ProgressOptions {
  /** What is counted, plural ("tasks", "lines"). */
  unit: string;
  /** Known total, or null when the input is a stream of unknown length. */
  total: number | null;
  /** Where to draw; defaults to stderr. */
  stream?: NodeJS.WriteStream;
  /** Draw even when the stream is not a terminal (plain lines, every `intervalMs`). */
  force?: boolean;
  label?: string;
  intervalMs?: number;
}

const BAR_WIDTH = 24;

export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #unit: string;
  readonly #label: string;
  readonly #tty: boolean;
  readonly #enabled: boolean;
  readonly #intervalMs: number;
  readonly #started = performance.now();
  #total: number | null;
  #done = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ProgressOptions) {
    this.#stream = options.stream ?? process.stderr;
    this.#unit = options.unit;
    this.#label = options.label ?? '';
    this.#total = options.total;
    this.#tty = this.#stream.isTTY === true;
    this.#enabled = this.#tty || options.force === true;
    this.#intervalMs = options.intervalMs ?? (this.#tty ? 100 : 2000);
    if (this.#enabled) {
      this.#timer = setInterval(() => this.#draw(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  get done(): number {
    return this.#done;
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Items per second so far. */
  get rate(): number {
    const elapsed = this.elapsed;
    return elapsed > 0 ? this.#done / elapsed : 0;
  }

  add(count: number): void {
    this.#done += count;
  }

  set total(total: number | null) {
    this.#total = total;
  }

  /** Stops drawing and clears the line (the caller prints its own summary). */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#tty) this.#stream.write('\r\x1b[K');
  }

  /** The current line, without terminal control characters. */
  line(): string {
    const rate = this.rate;
    const parts: string[] = [];
    if (this.#label) parts.push(this.#label);
    if (this.#total !== null && this.#total > 0) {
      const fraction = Math.min(1, this.#done / this.#total);
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${formatCount(this.#done)}/${formatCount(this.#total)} ${this.#unit}`);
      parts.push(`${Math.floor(fraction * 100)}%`);
    } else {
      parts.push(`${formatCount(this.#done)} ${this.#unit}`);
    }
    parts.push(`${formatCount(Math.round(rate))}/s`);
    if (this.#total !== null && rate > 0 && this.#done < this.#total) {
      parts.push(`eta ${formatEta((this.#total - this.#done) / rate)}`);
    }
    return parts.join('  ');
  }

  #draw(): void {
    if (this.#tty) this.#stream.write(`\r\x1b[K${this.line()}`);
    else this.#stream.write(`${this.line()}\n`);
  }
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
