/**
 * Bulk import for `pullq put QUEUE --file tasks.jsonl`: one task per line, inserted in batches.
 *
 * A line is either a task spec, a JSON object whose keys are all among `payload` (base64),
 * `text`, `json` (any JSON value, stored as its JSON text), `id`, `tag` and `delaySeconds`,
 * or any other JSON value, stored as the payload (the line's own JSON text). Blank lines are
 * skipped. A line that is wrong fails alone, named by its number; the rest go in.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Backend, NewTask } from '../backends/backend.ts';
import { isPullqError, PullqError } from '../protocol/errors.ts';
import { decodePayload } from '../protocol/native.ts';
import { LIMITS, checkPayloadSize, checkTag, checkTaskId } from '../protocol/limits.ts';

export const IMPORT_BATCH_SIZE = 500;

const SPEC_KEYS = new Set(['payload', 'text', 'json', 'id', 'tag', 'delaySeconds']);

export interface LineDefaults {
  tag?: string;
  delaySeconds?: number;
}

/** Turns one non-blank line into a task, or throws a PullqError saying what is wrong. */
export function parseTaskLine(line: string, now: number, defaults: LineDefaults = {}): NewTask {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new PullqError(
      'invalid_argument',
      `not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const isSpec =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).every((key) => SPEC_KEYS.has(key));
  const spec: Record<string, unknown> = isSpec
    ? (value as Record<string, unknown>)
    : { json: value, raw: line.trim() };

  const sources = ['payload', 'text', 'json'].filter((key) => spec[key] !== undefined);
  if (sources.length > 1) {
    throw new PullqError('invalid_argument', `give only one of ${sources.join(', ')}`);
  }
  let payload: Uint8Array;
  if (typeof spec.raw === 'string') {
    payload = Buffer.from(spec.raw, 'utf8');
  } else if (spec.payload !== undefined) {
    if (typeof spec.payload !== 'string') {
      throw new PullqError('invalid_argument', '"payload" must be a base64 string');
    }
    payload = decodePayload(spec.payload);
  } else if (spec.text !== undefined) {
    if (typeof spec.text !== 'string')
      throw new PullqError('invalid_argument', '"text" must be a string');
    payload = Buffer.from(spec.text, 'utf8');
  } else if (spec.json !== undefined) {
    payload = Buffer.from(JSON.stringify(spec.json), 'utf8');
  } else {
    payload = new Uint8Array(0);
  }
  checkPayloadSize(payload.byteLength);

  const task: NewTask = { payload };
  if (spec.id !== undefined) {
    if (typeof spec.id !== 'string')
      throw new PullqError('invalid_argument', '"id" must be a string');
    checkTaskId(spec.id);
    task.id = spec.id;
  }
  const tag = spec.tag ?? defaults.tag;
  if (tag !== undefined && tag !== null) {
    if (typeof tag !== 'string') throw new PullqError('invalid_argument', '"tag" must be a string');
    checkTag(tag);
    task.tag = tag;
  }
  const delay = spec.delaySeconds ?? defaults.delaySeconds;
  if (delay !== undefined) {
    if (
      typeof delay !== 'number' ||
      !Number.isFinite(delay) ||
      delay < 0 ||
      delay > LIMITS.maxEtaAheadSeconds
    ) {
      throw new PullqError(
        'invalid_argument',
        `"delaySeconds" must be a number from 0 to ${LIMITS.maxEtaAheadSeconds}`,
      );
    }
    if (delay > 0) task.eta = now + Math.round(delay * 1000);
  }
  return task;
}

export interface LineFailure {
  line: number;
  code: string;
  message: string;
}

export interface ImportResult {
  imported: number;
  failed: LineFailure[];
  /** Lines read, blank ones included. */
  lines: number;
}

export interface ImportOptions {
  defaults?: LineDefaults;
  /** Batches in flight at once. More is faster; file order then holds only within a batch. */
  parallel?: number;
  batchSize?: number;
  /** Called as lines are settled (imported, failed or blank). */
  onProgress?: (lines: number) => void;
}

interface Batch {
  lines: number[];
  tasks: NewTask[];
}

/**
 * Streams `input` into `queue`. Per-line failures are collected; a failure of a whole batch
 * that does not name one line (the server is gone, the queue does not exist) stops the
 * import and is thrown as `ImportAborted`, carrying what got in before it.
 */
export async function importTasks(
  backend: Backend,
  queue: string,
  input: Readable,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const batchSize = options.batchSize ?? IMPORT_BATCH_SIZE;
  const parallel = Math.max(1, options.parallel ?? 1);
  const result: ImportResult = { imported: 0, failed: [], lines: 0 };
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown = null;
  const settle = (count: number): void => options.onProgress?.(count);

  const send = (batch: Batch): void => {
    const promise = insertBatch(backend, queue, batch, result)
      .then((settled) => settle(settled))
      .catch((error: unknown) => {
        fatal ??= error;
      })
      .finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };

  let batch: Batch = { lines: [], tasks: [] };
  const reader = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of reader) {
      result.lines += 1;
      if (fatal) break;
      if (text.trim() === '') {
        settle(1);
        continue;
      }
      try {
        batch.tasks.push(parseTaskLine(text, Date.now(), options.defaults));
        batch.lines.push(result.lines);
      } catch (error) {
        result.failed.push(lineFailure(result.lines, error));
        settle(1);
      }
      if (batch.tasks.length >= batchSize) {
        send(batch);
        batch = { lines: [], tasks: [] };
        while (inFlight.size >= parallel) await Promise.race(inFlight);
      }
    }
    if (!fatal && batch.tasks.length > 0) send(batch);
    while (inFlight.size > 0) await Promise.race(inFlight);
  } finally {
    reader.close();
  }
  result.failed.sort((a, b) => a.line - b.line);
  if (fatal) throw new ImportAborted(fatal, result);
  return result;
}

export class ImportAborted extends Error {
  override readonly name = 'ImportAborted';
  readonly result: ImportResult;

  constructor(cause: unknown, result: ImportResult) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.result = result;
  }
}

/**
 * Inserts one batch. A batch refused as a whole because of one task (`details.index`) is
 * retried without it, so one bad line never costs its 499 neighbours. Returns the number of
 * lines settled.
 */
async function insertBatch(
  backend: Backend,
  queue: string,
  batch: Batch,
  result: ImportResult,
): Promise<number> {
  const lines = [...batch.lines];
  const tasks = [...batch.tasks];
  let settled = 0;
  while (tasks.length > 0) {
    let results;
    try {
      results = await backend.insert(queue, tasks, { createQueue: true });
    } catch (error) {
      const index = isPullqError(error) ? error.details?.index : undefined;
      if (
        isPullqError(error) &&
        !error.retryable &&
        error.code !== 'queue_not_found' &&
        typeof index === 'number' &&
        index >= 0 &&
        index < tasks.length
      ) {
        const [line] = lines.splice(index, 1);
        tasks.splice(index, 1);
        result.failed.push(
          lineFailure(
            line ?? 0,
            new PullqError(error.code, error.message.replace(/^tasks\[\d+\]: /, '')),
          ),
        );
        settled += 1;
        continue;
      }
      throw error;
    }
    results.forEach((item, index) => {
      if (item.ok) result.imported += 1;
      else result.failed.push(lineFailure(lines[index] ?? 0, item.error));
    });
    settled += tasks.length;
    break;
  }
  return settled;
}

function lineFailure(line: number, error: unknown): LineFailure {
  if (isPullqError(error)) return { line, code: error.code, message: error.message };
  return {
    line,
    code: 'invalid_argument',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Counts lines (for the progress total) without holding the file in memory. */
export async function countLines(input: Readable): Promise<number> {
  let count = 0;
  let last = 10;
  for await (const chunk of input) {
    const bytes = chunk as Buffer;
    for (let index = bytes.indexOf(10); index !== -1; index = bytes.indexOf(10, index + 1))
      count += 1;
    if (bytes.length > 0) last = bytes[bytes.length - 1] ?? 10;
  }
  return last === 10 ? count : count + 1;
}
