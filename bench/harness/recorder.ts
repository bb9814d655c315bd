/**
 * How a run learns which tasks were delivered, from any process: each process that runs
 * handlers appends fixed-size records to a file of its own in the run's record folder, and
 * the runner reads every file of that folder. Files, not IPC, because pullq's Worker runs
 * handlers in children it forks itself, out of the harness's reach; the folder travels to
 * them in the environment (RECORD_DIR_ENV), which forked processes inherit.
 *
 * A record is 24 bytes: the task id (uint32; 0xffffffff when the body carried no usable id),
 * 4 unused bytes, the task's t0 and the handler's start (float64 ms since the epoch, from
 * `performance.timeOrigin + performance.now()`, comparable across processes on one host).
 *
 * Records are written in batches: at 512 buffered or 5 ms after the first, whichever comes
 * first, and on close or process exit. The time is taken when the handler starts, so the
 * batching delays only when the runner sees a record, never what it says. One write per
 * 5 ms costs a consumer ~200 small writes a second instead of one per task (at 20,000
 * tasks/s a write per task would be ~4% of a core).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskBody } from './contender.ts';

export const RECORD_BYTES = 24;
export const RECORD_DIR_ENV = 'BENCH_RECORD_DIR';
/** The id recorded for a body whose id is not a whole number in the uint32 range. */
export const NO_ID = 0xffffffff;
const FLUSH_RECORDS = 512;
const FLUSH_MS = 5;

/** Milliseconds since the epoch, sub-ms, comparable across processes on one host. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export class Recorder {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(FLUSH_RECORDS * RECORD_BYTES);
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onExit = (): void => this.close();

  constructor(dir: string) {
    // pid plus a random part: a restarted child may reuse a pid within one run.
    const name = `${process.pid}-${randomBytes(4).toString('hex')}.rec`;
    this.#fd = openSync(join(dir, name), 'a');
    process.on('exit', this.#onExit);
  }

  /** Records the delivery of `task` now (call it as the handler starts). */
  record(task: TaskBody): void {
    if (this.#closed) throw new Error('the recorder is closed');
    const start = epochMs();
    const id = Number.isInteger(task.id) && task.id >= 0 && task.id < NO_ID ? task.id : NO_ID;
    const offset = this.#count * RECORD_BYTES;
    this.#buffer.writeUInt32LE(id, offset);
    this.#buffer.writeUInt32LE(0, offset + 4);
    this.#buffer.writeDoubleLE(typeof task.t0 === 'number' ? task.t0 : Number.NaN, offset + 8);
    this.#buffer.writeDoubleLE(start, offset + 16);
    this.#count += 1;
    if (this.#count === FLUSH_RECORDS) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Writes the buffered records to the file. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    const length = this.#count * RECORD_BYTES;
    let written = 0;
    while (written < length)
      written += writeSync(this.#fd, this.#buffer, written, length - written);
    this.#count = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    process.off('exit', this.#onExit);
    closeSync(this.#fd);
  }
}

/** A recorder in the folder named by RECORD_DIR_ENV (for handler processes the harness did not
 * spawn itself). */
export function recorderFromEnvironment(): Recorder {
  const dir = process.env[RECORD_DIR_ENV];
  if (dir === undefined || dir === '') {
    throw new Error(`${RECORD_DIR_ENV} is not set: this handler records for the benchmark harness`);
  }
  return new Recorder(dir);
}

/** A Float64Array that grows by doubling. */
class Column {
  #values = new Float64Array(1024);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }

  at(index: number): number {
    return this.#values[index] as number;
  }
}

/** Reads the records of a folder as they are appended; each `poll` adds the new ones. */
export class RecordReader {
  readonly #dir: string;
  readonly #files = new Map<string, { fd: number; offset: number }>();
  readonly #chunk = Buffer.alloc(4096 * RECORD_BYTES);
  readonly #ids = new Column();
  readonly #t0s = new Column();
  readonly #starts = new Column();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Records read so far. */
  get length(): number {
    return this.#ids.length;
  }

  id(index: number): number {
    return this.#ids.at(index);
  }

  t0(index: number): number {
    return this.#t0s.at(index);
  }

  start(index: number): number {
    return this.#starts.at(index);
  }

  /** Reads what was appended since the last poll (whole records only); returns how many. */
  poll(): number {
    const before = this.length;
    for (const name of readdirSync(this.#dir)) {
      if (!name.endsWith('.rec')) continue;
      let file = this.#files.get(name);
      if (file === undefined) {
        file = { fd: openSync(join(this.#dir, name), 'r'), offset: 0 };
        this.#files.set(name, file);
      }
      this.#readFile(file);
    }
    return this.length - before;
  }

  #readFile(file: { fd: number; offset: number }): void {
    const size = fstatSync(file.fd).size;
    // A record being written may be half there: take whole records, the rest next time.
    let whole = Math.floor((size - file.offset) / RECORD_BYTES) * RECORD_BYTES;
    while (whole > 0) {
      const length = Math.min(whole, this.#chunk.length);
      const read = readSync(file.fd, this.#chunk, 0, length, file.offset);
      const records = Math.floor(read / RECORD_BYTES);
      for (let index = 0; index < records; index += 1) {
        const offset = index * RECORD_BYTES;
        this.#ids.push(this.#chunk.readUInt32LE(offset));
        this.#t0s.push(this.#chunk.readDoubleLE(offset + 8));
        this.#starts.push(this.#chunk.readDoubleLE(offset + 16));
      }
      if (records === 0) break;
      file.offset += records * RECORD_BYTES;
      whole -= records * RECORD_BYTES;
    }
  }

  close(): void {
    for (const file of this.#files.values()) closeSync(file.fd);
    this.#files.clear();
  }
}
