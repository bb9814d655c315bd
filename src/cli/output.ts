/**
 * How client commands print: aligned tables for people, one JSON document for scripts
 * (`--json`), payloads as text when they are printable UTF-8 and as base64 otherwise.
 */
import type { LeasedTask, QueueInfo, Task } from '../backends/backend.ts';

export type Align = 'left' | 'right';

/** Columns separated by two spaces; the last column is not padded (long payloads stay whole). */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        if (column === cells.length - 1 && align[column] !== 'right') return cell;
        const width = widths[column] ?? 0;
        return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Label/value lines for one record. */
export function formatRecord(entries: readonly (readonly [string, string])[]): string {
  const width = Math.max(...entries.map(([label]) => label.length));
  return (
    entries.map(([label, value]) => `${`${label}:`.padEnd(width + 1)}  ${value}`).join('\n') + '\n'
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload as text when it is valid UTF-8 without control characters (tab, CR, LF allowed). */
export function payloadText(payload: Uint8Array): string | null {
  let text: string;
  try {
    text = strictUtf8.decode(payload);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
}

/** One table cell for a payload: raw text, quoted when it holds line breaks, else `base64:...`. */
export function payloadCell(payload: Uint8Array): string {
  const text = payloadText(payload);
  if (text === null) return `base64:${Buffer.from(payload).toString('base64')}`;
  return /[\t\n\r]/.test(text) ? JSON.stringify(text) : text;
}

/** A time relative to now, for people: "now", "in 12s", "4m ago". */
export function relativeTime(ms: number, now: number = Date.now()): string {
  const delta = Math.round((ms - now) / 1000);
  if (delta === 0) return 'now';
  const span = Math.abs(delta);
  const text =
    span < 120
      ? `${span}s`
      : span < 7200
        ? `${Math.round(span / 60)}m`
        : span < 172_800
          ? `${Math.round(span / 3600)}h`
          : `${Math.round(span / 86_400)}d`;
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/**
 * A task as scripts get it: the native wire form (payload in standard base64) plus `text`,
 * the payload decoded when it is printable UTF-8 (else null), so `jq -r .text` just works.
 */
export function taskJson(task: Task | LeasedTask): Record<string, unknown> {
  return {
    ...task,
    payload: Buffer.from(task.payload).toString('base64'),
    text: payloadText(task.payload),
  };
}

export function queueRows(queues: readonly QueueInfo[]): string[][] {
  return queues.map((queue) => [
    queue.name,
    queue.maxLeases === null ? 'unlimited' : String(queue.maxLeases),
    queue.deadLetterQueue ?? '-',
    formatSeconds(queue.dedupWindowSeconds),
    queue.paused ? 'paused' : 'active',
  ]);
}

export const QUEUE_HEADERS = ['QUEUE', 'MAX LEASES', 'DEAD LETTERS TO', 'DEDUP WINDOW', 'STATE'];

export function formatQueue(queue: QueueInfo): string {
  return formatRecord([
    ['queue', queue.name],
    ['state', queue.paused ? 'paused (accepts inserts, leases nothing)' : 'active'],
    ['max leases', queue.maxLeases === null ? 'unlimited' : String(queue.maxLeases)],
    [
      'dead letters',
      queue.deadLetterQueue === null
        ? 'kept here in the dead state'
        : `moved to ${queue.deadLetterQueue}`,
    ],
    ['dedup window', `${formatSeconds(queue.dedupWindowSeconds)} (${queue.dedupWindowSeconds}s)`],
    ['created', new Date(queue.createdAt).toISOString()],
  ]);
}

/** Writes one JSON document (pretty on a terminal, one line otherwise). */
export function printJson(value: unknown): void {
  const pretty = process.stdout.isTTY === true;
  process.stdout.write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

export function print(text: string): void {
  process.stdout.write(text);
}

/** Notes for people (hints, summaries) go to stderr so that stdout stays parseable. */
export function note(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}
