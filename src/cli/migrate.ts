/**
 * `pullq migrate --from URL --to URL`: copies queues, their settings and their tasks from one
 * backend to another (SQLite to PostgreSQL, one server to another), through the Backend verbs
 * only, so any two backends the transport registry opens will do.
 *
 * What is copied and what is not, and why, is in docs/cli.md ("Moving between backends"). In
 * short: ready and delayed tasks with their ids, payloads, tags and ETAs; not leased ones
 * (their worker may still ack them on the source); dead ones with --include-dead. Attempts
 * start again from 0: insert has no attempts field. Run it with the workers stopped; run it
 * again after an interruption: ids already on the target are counted, not copied twice.
 */
import { Command } from 'commander';
import type { QueueConfig, QueueInfo } from '../backends/backend.ts';
import { LIMITS } from '../protocol/limits.ts';
import { commandPath, intOption } from './client.ts';
import { UsageError, reportError } from './errors.ts';
import { copyQueue } from './migrate-copy.ts';
import { emptyReport, type QueueReport } from './migrate-insert.ts';
import { exitCode, printSummary, queueLine, type MigrationSummary } from './migrate-report.ts';
import { MigrateError, makeSide, type MigrateSide } from './migrate-side.ts';
import { note } from './output.ts';
import { Progress } from './progress.ts';

interface MigrateFlags {
  from: string;
  to: string;
  fromToken?: string;
  toToken?: string;
  queue?: string[];
  includeDead?: boolean;
  dryRun?: boolean;
  pageSize: number;
  json?: boolean;
}

/** The settings that must agree when the target already has the queue. */
const CHECKED: readonly (keyof QueueConfig)[] = [
  'maxLeases',
  'deadLetterQueue',
  'dedupWindowSeconds',
];

export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'copy queues, their settings and their tasks from one backend to another (SQLite to PostgreSQL, server to server); safe to run again',
    )
    .requiredOption(
      '--from <url>',
      'where the queues are now: sqlite:///path/pullq.db, pullq://host:port, postgres://...',
    )
    .requiredOption('--to <url>', 'where they go (a URL of the same forms)')
    .option(
      '--from-token <token>',
      'token for a --from pullq server (env PULLQ_FROM_TOKEN, else the credentials file when it is for that server)',
    )
    .option(
      '--to-token <token>',
      'token for a --to pullq server (env PULLQ_TO_TOKEN, else the credentials file when it is for that server)',
    )
    .option(
      '--queue <name>',
      'only this queue (repeat for more; default: every queue)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--include-dead', 'also copy dead tasks, as dead tasks of the target (see below)')
    .option('--dry-run', 'count what would be copied and write nothing')
    .option(
      '--page-size <n>',
      'tasks read from the source per request (lower it for very large payloads)',
      intOption('--page-size', 1, LIMITS.maxListLimit),
      LIMITS.maxListLimit,
    )
    .option('--json', 'print one JSON document for scripts instead of a table')
    .addHelpText(
      'after',
      `
Stop the workers first. Ready and delayed tasks are copied with their ids, payloads, tags and
ETAs; leased ones are skipped and counted (exit code 1): run the command again once their
leases end. Attempts start again from 0 on the target. A queue the target already has must
have the same max leases, dead-letter queue and dedup window; its paused state is set to the
source's. Run it again after an interruption: tasks already there are counted, not copied.

--include-dead recreates dead tasks as dead on the target (inserted, leased once and
dead-lettered with their last error, so they show attempts 1). Without it they stay on the
source and are counted. See docs/cli.md, "Moving between backends".`,
    )
    .action(async (flags: MigrateFlags, self: Command) => {
      process.exitCode = await runMigrate(flags, commandPath(self));
    });
}

async function runMigrate(flags: MigrateFlags, command: string): Promise<number> {
  let from: MigrateSide;
  let to: MigrateSide;
  try {
    if (flags.from === flags.to) {
      throw new UsageError('--from and --to are the same: give the backend the queues go to');
    }
    const dryRun = flags.dryRun ?? false;
    from = makeSide('--from', flags.from, flags.fromToken, process.env, dryRun);
    to = makeSide('--to', flags.to, flags.toToken, process.env, dryRun);
  } catch (error) {
    return reportError(error, { command });
  }
  const summary: MigrationSummary = {
    dryRun: flags.dryRun ?? false,
    includeDead: flags.includeDead ?? false,
    from: from.url,
    to: to.url,
    read: 0,
    seconds: 0,
    queues: [],
  };
  const started = performance.now();
  try {
    await from.open();
    if (!from.backend.capabilities.list) {
      throw new MigrateError(
        'unsupported',
        `--from ${from.url}: this backend cannot list its tasks, so they cannot be copied from it`,
        'migrate from a backend that keeps its tasks listable: sqlite, pullq, postgres or redis',
      );
    }
    const sources = await selectQueues(from, flags.queue ?? []);
    await to.open(); // after the checks of --from: a mistake there leaves no new target file
    const existing = await checkTargets(from, to, sources);
    for (const [index, source] of sources.entries()) {
      const report = emptyReport(source.name);
      summary.queues.push(report);
      await migrateQueue(from, to, source, existing.get(source.name) ?? null, report, {
        flags,
        label: `queue ${index + 1}/${sources.length} ${source.name}`,
        onRead: (count) => (summary.read += count),
      });
      note(queueLine(report, index + 1, sources.length, summary.dryRun));
    }
    summary.seconds = (performance.now() - started) / 1000;
    printSummary(summary, flags.json ?? false);
    return exitCode(summary);
  } catch (error) {
    summary.seconds = (performance.now() - started) / 1000;
    if (summary.queues.length > 0) {
      summary.aborted = error instanceof Error ? error.message : String(error);
      printSummary(summary, flags.json ?? false);
    }
    return reportFailure(error, command);
  } finally {
    await Promise.allSettled([from.close(), to.close()]);
  }
}

/** Every queue of the source, or the ones --queue names (each must exist there). */
async function selectQueues(from: MigrateSide, names: readonly string[]): Promise<QueueInfo[]> {
  const all = await from.call(async (backend) => backend.listQueues());
  if (names.length === 0) return all;
  const byName = new Map(all.map((queue) => [queue.name, queue]));
  const unknown = names.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    const have = all.length === 0 ? 'none' : all.map((queue) => queue.name).join(', ');
    throw new MigrateError(
      'queue_not_found',
      `--queue ${unknown.join(', ')}: no such queue on --from ${from.url}`,
      `its queues are: ${have}; leave --queue out to migrate them all`,
    );
  }
  return [...new Set(names)].map((name) => byName.get(name) as QueueInfo);
}

/**
 * The queues the target has already, each checked to agree with its source before anything
 * is written, so a conflict stops the migration before it starts rather than halfway.
 */
async function checkTargets(
  from: MigrateSide,
  to: MigrateSide,
  sources: readonly QueueInfo[],
): Promise<Map<string, QueueInfo>> {
  const existing = new Map<string, QueueInfo>();
  const conflicts: string[] = [];
  for (const source of sources) {
    const target = await to.call(async (backend) => backend.getQueue(source.name));
    if (target === null) continue;
    existing.set(source.name, target);
    const differences = CHECKED.filter((field) => source[field] !== target[field]).map(
      (field) =>
        `${field} ${JSON.stringify(source[field])} on --from, ${JSON.stringify(target[field])} on --to`,
    );
    if (differences.length > 0) conflicts.push(`${source.name}: ${differences.join('; ')}`);
  }
  if (conflicts.length > 0) {
    throw new MigrateError(
      'already_exists',
      `the target already has queue(s) with other settings (${conflicts.join(' | ')}); nothing was copied`,
      `make the settings agree (\`pullq queue update\` on either side), or leave those queues out with --queue (from ${from.url} to ${to.url})`,
    );
  }
  return existing;
}

interface QueueRun {
  flags: MigrateFlags;
  label: string;
  onRead: (count: number) => void;
}

async function migrateQueue(
  from: MigrateSide,
  to: MigrateSide,
  source: QueueInfo,
  target: QueueInfo | null,
  report: QueueReport,
  run: QueueRun,
): Promise<void> {
  const dryRun = run.flags.dryRun ?? false;
  report.created = target === null;
  report.pausedChanged = target !== null && target.paused !== source.paused;
  if (!dryRun) {
    if (target === null) {
      const { maxLeases, deadLetterQueue, dedupWindowSeconds, paused } = source;
      await to.call(async (backend) =>
        backend.createQueue(source.name, {
          maxLeases,
          deadLetterQueue,
          dedupWindowSeconds,
          paused,
        }),
      );
    } else if (report.pausedChanged) {
      await to.call(async (backend) => backend.updateQueue(source.name, { paused: source.paused }));
    }
  }
  const stats = await from.call(async (backend) => backend.stats(source.name));
  const progress = new Progress({
    unit: 'tasks',
    total: stats.ready + stats.delayed + stats.leased + stats.dead,
    label: run.label,
  });
  try {
    await copyQueue(from, to, source, target, report, {
      dryRun,
      includeDead: run.flags.includeDead ?? false,
      pageSize: run.flags.pageSize,
      onTasks: (count) => {
        progress.add(count);
        run.onRead(count);
      },
    });
  } finally {
    progress.stop();
  }
}

function reportFailure(error: unknown, command: string): number {
  if (!(error instanceof MigrateError)) return reportError(error, { command });
  process.stderr.write(`error: ${error.code}: ${error.message}\n`);
  if (error.hint !== null) process.stderr.write(`hint: ${error.hint}\n`);
  return 1;
}
