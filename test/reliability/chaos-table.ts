/**
 * The chaos runs as a Markdown table, and what went wrong in the ones that failed.
 */
import { formatCauses } from './chaos-checker.ts';
import { passed, type ChaosResult } from './chaos-run.ts';

const HEADER = [
  'backend',
  'inserted',
  'processed',
  'lost',
  'duplicated (by cause)',
  're-run (by cause)',
  'server kills',
  'worker kills',
  'seconds',
];

export function chaosTable(results: ChaosResult[]): string {
  const rows = results.map(({ backend, check, seconds }) => [
    backend,
    String(check.inserted),
    String(check.processed),
    String(check.lost.length),
    formatCauses(check.duplicated, check.duplicatedBy),
    formatCauses(check.rerun, check.rerunBy),
    String(check.serverKills),
    String(check.workerKills),
    seconds.toFixed(1),
  ]);
  return [HEADER, HEADER.map(() => '---'), ...rows]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n');
}

/** One paragraph per failed run: why, with the ids lost and unexplained re-runs. */
export function chaosFailures(results: ChaosResult[]): string {
  const lines: string[] = [];
  for (const result of results.filter((one) => !passed(one))) {
    const { check } = result;
    lines.push(`${result.backend} FAILED (run folder kept: ${result.dir})`);
    if (result.error !== null) lines.push(`  error: ${result.error}`);
    if (check.lost.length > 0) {
      const shown = check.lost.slice(0, 50).join(' ');
      lines.push(`  lost ${check.lost.length}: ${shown}${check.lost.length > 50 ? ' ...' : ''}`);
    }
    for (const line of check.unexplained) lines.push(`  unexplained re-run: ${line}`);
    if (check.serverCrashes > 0) lines.push(`  the server crashed ${check.serverCrashes} times`);
    if (check.torn > 0) lines.push(`  ${check.torn} torn ledger records`);
    if (check.inserted === 0) lines.push('  nothing was inserted');
  }
  return lines.join('\n');
}

/** Counts beside the table that a reader of it may want. */
export function chaosNotes(results: ChaosResult[]): string {
  return results
    .map(
      ({ backend, check, producers, workers }) =>
        `${backend}: ${check.landedEarlier} inserts known from a retry's already_exists, ` +
        `${producers.batchRetries} batches tried again after the client's retries ran out, ` +
        `${check.unacknowledged} processed without an acknowledged insert; workers: ` +
        `${workers.redelivered} redelivered after a child died, ${workers.leaseLost} leases lost`,
    )
    .join('\n');
}
