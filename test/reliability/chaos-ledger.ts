/**
 * The chaos test's ledger: append-only files, one per process, of fixed 64-byte records (one
 * text line each, padded with spaces), written with one write(2) per record on a file opened
 * O_APPEND. A SIGKILL can end a process between two records but leaves no half record: the
 * kernel has the bytes once write() returned, whether or not the process lives on. A record
 * shorter than 64 bytes at a file's end is counted as torn all the same, never trusted.
 *
 * Records (fields are space-separated; `-` for one that does not apply):
 *
 *   I time id                       producer: the insert was answered 2xx
 *   E time id                       producer: a retried insert was answered already_exists,
 *                                   so an earlier try of it landed (ids are unique per run)
 *   S time id pid ppid attempt      handler: an attempt started (ppid: its worker supervisor)
 *   D time id pid ppid attempt      handler: the attempt's work is done (before the ack)
 *   A time id pid ppid attempt ok   supervisor: the ack of that attempt settled (ok 1) or not
 *   L time id - ppid                supervisor: a lease it held was lost (renewal or ack)
 *   R time id pid ppid              supervisor: a task of dead child `pid` handed to another
 *   K time server|child pid         controller: SIGKILL sent
 *   U time server pid               controller: the server listens again
 *   X time server pid code          controller: the server exited without being killed
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const RECORD_BYTES = 64;

export type RecordType = 'I' | 'E' | 'S' | 'D' | 'A' | 'L' | 'R' | 'K' | 'U' | 'X';

export interface LedgerRecord {
  type: RecordType;
  /** Date.now() of the writer; every process runs on this machine's one clock. */
  time: number;
  /** A task id, or `server` / `child` in controller records. */
  id: string;
  pid: number;
  ppid: number;
  attempt: number;
  /** A's ok (1 or 0), X's exit code. */
  flag: number;
}

export interface RecordFields {
  id: string;
  pid?: number;
  ppid?: number;
  attempt?: number;
  flag?: number;
}

/** One process's ledger file. */
export class LedgerWriter {
  readonly #fd: number;

  constructor(dir: string, name: string) {
    this.#fd = openSync(join(dir, `${name}.ledger`), 'a');
  }

  write(type: RecordType, fields: RecordFields): void {
    const parts = [
      type,
      String(Date.now()),
      fields.id,
      field(fields.pid),
      field(fields.ppid),
      field(fields.attempt),
      field(fields.flag),
    ];
    const line = parts.join(' ');
    if (line.length >= RECORD_BYTES) throw new Error(`ledger record too long: ${line}`);
    writeSync(this.#fd, `${line.padEnd(RECORD_BYTES - 1)}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function field(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}

export interface Ledger {
  records: LedgerRecord[];
  /** Records cut short at a file's end, or unreadable: reported, never trusted. */
  torn: number;
}

/** Every record of every `.ledger` file in `dir`, sorted by time (stable within a file). */
export function readLedger(dir: string): Ledger {
  const records: LedgerRecord[] = [];
  let torn = 0;
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.ledger'))) {
    const text = readFileSync(join(dir, name), 'latin1');
    for (let offset = 0; offset < text.length; offset += RECORD_BYTES) {
      const chunk = text.slice(offset, offset + RECORD_BYTES);
      const record = chunk.length === RECORD_BYTES ? parse(chunk) : null;
      if (record === null) torn += 1;
      else records.push(record);
    }
  }
  records.sort((a, b) => a.time - b.time);
  return { records, torn };
}

const TYPES = new Set<string>(['I', 'E', 'S', 'D', 'A', 'L', 'R', 'K', 'U', 'X']);

function parse(chunk: string): LedgerRecord | null {
  if (!chunk.endsWith('\n')) return null;
  const [type, time, id, pid, ppid, attempt, flag] = chunk.trimEnd().split(' ');
  if (type === undefined || !TYPES.has(type) || id === undefined || flag === undefined) {
    return null;
  }
  return {
    type: type as RecordType,
    time: Number(time),
    id,
    pid: number(pid),
    ppid: number(ppid),
    attempt: number(attempt),
    flag: number(flag),
  };
}

function number(text: string | undefined): number {
  return text === undefined || text === '-' ? -1 : Number(text);
}
