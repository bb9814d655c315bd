/**
 * What `pullq migrate` tells: a line per queue as it finishes and warnings on stderr, the
 * per-queue table (or one JSON document with `--json`) on stdout, and the exit code, which is
 * 0 only when everything that was to be copied is on the target.
 */
import type { QueueReport } from './migrate-insert.ts';
import { formatCount, formatTable, note, print, printJson } from './output.ts';

/** Failures listed for people; `--json` lists them all. */
const LISTED = 20;

export interface MigrationSummary {
  dryRun: boolean;
  includeDead: boolean;
  from: string;
  to: string;
  /** Source tasks read (every state). */
  read: number;
  seconds: number;
  queues: QueueReport[];
  /** Set when the migration stopped early: the error's message. */
  aborted?: string;
}

interface Totals {
  copied: number;
  alreadyPresent: number;
  skippedLeased: number;
  deadCopied: number;
  deadSkipped: number;
  deadNotDeadOnTarget: number;
  failed: number;
}

export function totals(queues: readonly QueueReport[]): Totals {
  const sum = (pick: (report: QueueReport) => number): number =>
    queues.reduce((total, report) => total + pick(report), 0);
  return {
    copied: sum((report) => report.copied),
    alreadyPresent: sum((report) => report.alreadyPresent),
    skippedLeased: sum((report) => report.skippedLeased),
    deadCopied: sum((report) => report.deadCopied),
    deadSkipped: sum((report) => report.deadSkipped),
    deadNotDeadOnTarget: sum((report) => report.deadNotDeadOnTarget.length),
    failed: sum((report) => report.failed.length),
  };
}

/** 1 when anything that should be on the target is not (a dry run predicts the real one). */
export function exitCode(summary: MigrationSummary): number {
  const sums = totals(summary.queues);
  const deadMissing = summary.includeDead && sums.deadSkipped > 0;
  return sums.failed > 0 || sums.skippedLeased > 0 || sums.deadNotDeadOnTarget > 0 || deadMissing
    ? 1
    : 0;
}

/** One stderr line for a finished queue: "queue 2/5 emails: 1,200 copied, 3 leased skipped". */
export function queueLine(report: QueueReport, index: number, of: number, dryRun: boolean): string {
  const parts = [`${formatCount(report.copied)} ${dryRun ? 'to copy' : 'copied'}`];
  if (report.alreadyPresent > 0) {
    parts.push(`${formatCount(report.alreadyPresent)} already there`);
  }
  if (report.skippedLeased > 0) parts.push(`${formatCount(report.skippedLeased)} leased, skipped`);
  if (report.deadCopied > 0) {
    parts.push(`${formatCount(report.deadCopied)} dead ${dryRun ? 'to copy' : 'copied'}`);
  }
  if (report.deadSkipped > 0) parts.push(`${formatCount(report.deadSkipped)} dead, skipped`);
  if (report.failed.length > 0) parts.push(`${formatCount(report.failed.length)} failed`);
  const made = report.created ? (dryRun ? ' (to be created)' : ' (created)') : '';
  return `queue ${index}/${of} ${report.queue}${made}: ${parts.join(', ')}`;
}

export function printSummary(summary: MigrationSummary, json: boolean): void {
  const sums = totals(summary.queues);
  if (json) {
    printJson({
      dryRun: summary.dryRun,
      from: summary.from,
      to: summary.to,
      seconds: Math.round(summary.seconds * 1000) / 1000,
      read: summary.read,
      ...sums,
      failed: summary.queues.flatMap((report) =>
        report.failed.map((failure) => ({ queue: report.queue, ...failure })),
      ),
      queues: summary.queues,
      ...(summary.aborted === undefined ? {} : { aborted: summary.aborted }),
    });
  } else if (summary.queues.length > 0) {
    print(table(summary));
  }
  if (!json) printNotes(summary, sums);
}

function table(summary: MigrationSummary): string {
  const target = (report: QueueReport): string => {
    const state = report.created ? (summary.dryRun ? 'to create' : 'created') : 'existing';
    return report.pausedChanged ? `${state}, paused ${summary.dryRun ? 'to set' : 'set'}` : state;
  };
  return formatTable(
    ['QUEUE', 'TARGET', 'COPIED', 'ALREADY THERE', 'LEASED SKIPPED', 'DEAD', 'FAILED'],
    summary.queues.map((report) => [
      report.queue,
      target(report),
      formatCount(report.copied),
      formatCount(report.alreadyPresent),
      formatCount(report.skippedLeased),
      report.deadSkipped > 0
        ? `${formatCount(report.deadCopied)} (${formatCount(report.deadSkipped)} skipped)`
        : formatCount(report.deadCopied),
      formatCount(report.failed.length),
    ]),
    ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

function printNotes(summary: MigrationSummary, sums: Totals): void {
  const rate = summary.seconds > 0 ? Math.round(summary.read / summary.seconds) : 0;
  const copied = sums.copied + sums.deadCopied;
  note(
    summary.dryRun
      ? `dry run: ${formatCount(copied)} task(s) of ${summary.queues.length} queue(s) would be copied from ${summary.from} to ${summary.to}, ${formatCount(sums.alreadyPresent)} are there already; nothing was written`
      : `${summary.aborted === undefined ? 'migrated' : 'stopped early, after'} ${summary.queues.length} queue(s) from ${summary.from} to ${summary.to}: ${formatCount(copied)} task(s) copied, ${formatCount(sums.alreadyPresent)} already there, in ${summary.seconds.toFixed(1)}s (${formatCount(rate)} tasks read/s)`,
  );
  if (sums.skippedLeased > 0) {
    note(
      `${formatCount(sums.skippedLeased)} leased task(s) ${summary.dryRun ? 'would not be' : 'were not'} copied: a worker holds them and may still ack them on the source. Stop the workers, let their leases end, and run \`pullq migrate\` again: what is there already is not copied twice.`,
    );
  }
  for (const report of summary.queues) {
    if (report.deadSkipped > 0 && report.deadSkippedWhy !== null) {
      note(
        `${formatCount(report.deadSkipped)} dead task(s) of ${report.queue} stay on the source: ${report.deadSkippedWhy}`,
      );
    }
    if (report.deadNotDeadOnTarget.length > 0) {
      note(
        `${formatCount(report.deadNotDeadOnTarget.length)} task(s) dead in ${report.queue} on the source are on the target but not dead there (left by an interrupted run, or redriven there); check them: ${listIds(report.deadNotDeadOnTarget)}`,
      );
    }
  }
  if (sums.failed > 0) {
    note(`${formatCount(sums.failed)} task(s) could not be copied:`);
    const failures = summary.queues.flatMap((report) =>
      report.failed.map((failure) => ({ queue: report.queue, ...failure })),
    );
    for (const failure of failures.slice(0, LISTED)) {
      note(`  ${failure.queue} ${failure.id}: ${failure.code}: ${failure.message}`);
    }
    if (failures.length > LISTED) {
      note(`  ... and ${formatCount(failures.length - LISTED)} more (--json lists them all)`);
    }
  }
}

function listIds(ids: readonly string[]): string {
  const shown = ids.slice(0, LISTED).join(', ');
  return ids.length > LISTED ? `${shown}, ... (${ids.length - LISTED} more)` : shown;
}
