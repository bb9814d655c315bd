/** `pullq put QUEUE [DATA]`: one task from DATA or stdin; `--file tasks.jsonl`: bulk import. */
import { createReadStream } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import { Command } from 'commander';
import type { Backend, NewTask } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import {
  addClientOptions,
  intOption,
  runClient,
  secondsOption,
  type ClientSettings,
} from './client.ts';
import { UsageError } from './errors.ts';
import {
  IMPORT_BATCH_SIZE,
  ImportAborted,
  countLines,
  importTasks,
  type ImportResult,
} from './import-tasks.ts';
import { formatCount, note, print, printJson, relativeTime, taskJson } from './output.ts';
import { Progress } from './progress.ts';

interface PutFlags {
  tag?: string;
  id?: string;
  delay?: number;
  file?: string;
  parallel: number;
}

/** Failures listed in a human summary; `--json` lists them all. */
const LISTED_FAILURES = 20;

export function putCommand(): Command {
  const command = new Command('put')
    .description(
      'add a task to a queue (DATA, or stdin when DATA is left out), or many with --file',
    )
    .argument('<queue>', 'queue name')
    .argument('[data]', 'the payload, as text')
    .option('--tag <tag>', 'tag the task (with --file: for lines without a tag)')
    .option('--id <id>', 'choose the task id (refused while the id exists or is tombstoned)')
    .option(
      '--delay <seconds>',
      'make the task leasable only after this many seconds',
      secondsOption('--delay', 0, LIMITS.maxEtaAheadSeconds),
    )
    .option(
      '--file <path>',
      'bulk import: one task per line (JSON), `-` for stdin; see below for the line format',
    )
    .option(
      '--parallel <n>',
      'batches in flight during --file (more is faster; file order then holds only within each batch of 500)',
      intOption('--parallel', 1, 64),
      1,
    )
    .addHelpText(
      'after',
      `
Lines of --file:
  {"text": "hello", "tag": "t", "id": "job-1", "delaySeconds": 30}   text payload
  {"payload": "aGVsbG8="}                                            bytes, base64
  {"json": {"to": "a@b.c"}}                                          JSON payload
  {"to": "a@b.c"}     any other JSON value (or object with other keys) is the payload itself
Blank lines are skipped; a bad line is reported by number and the rest are imported.`,
    );
  addClientOptions(command);
  return command.action(
    async (queue: string, data: string | undefined, flags: PutFlags, self: Command) =>
      runClient(self, (backend, settings) =>
        flags.file === undefined
          ? putOne(backend, settings, queue, data, flags)
          : putFile(backend, settings, queue, data, flags),
      ),
  );
}

async function putOne(
  backend: Backend,
  settings: ClientSettings,
  queue: string,
  data: string | undefined,
  flags: PutFlags,
): Promise<void> {
  let payload: Uint8Array;
  if (data !== undefined) {
    payload = Buffer.from(data, 'utf8');
  } else if (process.stdin.isTTY) {
    throw new UsageError('give the payload as DATA, pipe it on stdin, or use --file');
  } else {
    payload = await buffer(process.stdin);
  }
  const task: NewTask = { payload };
  if (flags.id !== undefined) task.id = flags.id;
  if (flags.tag !== undefined) task.tag = flags.tag;
  if (flags.delay !== undefined && flags.delay > 0)
    task.eta = Date.now() + Math.round(flags.delay * 1000);
  const [result] = await backend.insert(queue, [task], { createQueue: true });
  if (!result) throw new Error('the server answered no result for the task');
  if (!result.ok) throw result.error;
  const inserted = result.value;
  if (settings.json) {
    printJson(taskJson(inserted));
    return;
  }
  const when = inserted.state === 'delayed' ? ` (leasable ${relativeTime(inserted.eta)})` : '';
  print(`${inserted.id}\n`);
  note(`put task ${inserted.id} into ${queue}${when}`);
}

async function putFile(
  backend: Backend,
  settings: ClientSettings,
  queue: string,
  data: string | undefined,
  flags: PutFlags,
): Promise<number> {
  if (data !== undefined) throw new UsageError('give either DATA or --file, not both');
  if (flags.id !== undefined)
    throw new UsageError('--id names one task; give ids per line in --file');
  const path = flags.file ?? '-';
  const fromStdin = path === '-';
  const total = fromStdin ? null : await countLines(createReadStream(path));
  const progress = new Progress({ unit: 'lines', total, label: `importing into ${queue}` });
  const input = fromStdin ? process.stdin : createReadStream(path);
  let result: ImportResult;
  let aborted: ImportAborted | null = null;
  try {
    result = await importTasks(backend, queue, input, {
      defaults: {
        ...(flags.tag === undefined ? {} : { tag: flags.tag }),
        ...(flags.delay === undefined ? {} : { delaySeconds: flags.delay }),
      },
      parallel: flags.parallel,
      batchSize: IMPORT_BATCH_SIZE,
      onProgress: (count) => progress.add(count),
    });
  } catch (error) {
    if (!(error instanceof ImportAborted)) throw error;
    aborted = error;
    result = error.result;
  } finally {
    progress.stop();
  }
  const seconds = progress.elapsed;
  if (settings.json) {
    printJson({
      queue,
      imported: result.imported,
      failed: result.failed,
      lines: result.lines,
      seconds: Math.round(seconds * 1000) / 1000,
      ...(aborted ? { aborted: aborted.message } : {}),
    });
  } else {
    const rate = seconds > 0 ? Math.round(result.imported / seconds) : 0;
    const source = fromStdin ? 'stdin' : path;
    note(
      `imported ${formatCount(result.imported)} task(s) into ${queue} from ${source} in ${seconds.toFixed(1)}s (${formatCount(rate)}/s)` +
        (result.failed.length > 0 ? `; ${formatCount(result.failed.length)} line(s) failed:` : ''),
    );
    for (const failure of result.failed.slice(0, LISTED_FAILURES)) {
      note(`  line ${failure.line}: ${failure.code}: ${failure.message}`);
    }
    if (result.failed.length > LISTED_FAILURES) {
      note(
        `  ... and ${formatCount(result.failed.length - LISTED_FAILURES)} more (--json lists them all)`,
      );
    }
  }
  if (aborted) {
    note(
      `the import stopped early, after reading ${formatCount(result.lines)} line(s); tasks of the batch that failed may or may not be in ${queue}`,
    );
    throw aborted.cause;
  }
  return result.failed.length > 0 ? 1 : 0;
}
