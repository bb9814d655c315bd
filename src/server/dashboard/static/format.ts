/**
 * How the dashboard writes numbers, durations, times and payloads. Times on the wire are
 * milliseconds since the epoch; the page shows them relative to now ("12s ago", "in 3m") with
 * the exact local time in a tooltip.
 */

const counts = new Intl.NumberFormat('en-US');

export function formatCount(value: number): string {
  return counts.format(value);
}

/** A duration in seconds, short: 850ms, 4.2s, 3m 10s, 2h 5m, 3d 4h (zero parts left out). */
export function formatDuration(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs < 1) return `${Math.round(abs * 1000)}ms`;
  if (abs < 10) return `${abs.toFixed(1)}s`;
  if (abs < 60) return `${Math.round(abs)}s`;
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit} ${small}${smallUnit}`;
  const minutes = Math.floor(abs / 60);
  if (minutes < 60) return pair(minutes, 'm', Math.floor(abs % 60), 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return pair(hours, 'h', minutes % 60, 'm');
  return pair(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

/** "12s ago" or "in 3m 10s" from a time in ms. */
export function formatRelative(time: number, now: number = Date.now()): string {
  const seconds = (time - now) / 1000;
  if (Math.abs(seconds) < 1) return 'now';
  return seconds > 0 ? `in ${formatDuration(seconds)}` : `${formatDuration(seconds)} ago`;
}

/** The exact local time, for tooltips. */
export function formatTime(time: number): string {
  return new Date(time).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export type PayloadView =
  | { kind: 'json'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'binary'; text: string };

/** The bytes of a base64 payload. */
export function decodeBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/**
 * A payload as people read it: pretty JSON when it parses as JSON, text when it is valid
 * UTF-8 without control characters (tabs and newlines aside), a hex dump otherwise.
 */
export function viewPayload(bytes: Uint8Array): PayloadView {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { kind: 'binary', text: hexDump(bytes) };
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is looked for
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text))
    return { kind: 'binary', text: hexDump(bytes) };
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2) };
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return { kind: 'text', text };
}

/** 16 bytes a line: offset, hex, and the printable ASCII. */
export function hexDump(bytes: Uint8Array, maxBytes = 64 * 1024): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, maxBytes);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = [...row].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row]
      .map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.'))
      .join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > end) lines.push(`… ${formatBytes(bytes.length - end)} more`);
  return lines.join('\n');
}
