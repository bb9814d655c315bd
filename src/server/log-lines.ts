/**
 * pino's JSON log lines made readable on a terminal: `12:00:01 WARN  message key=value ...`.
 * Off a terminal the JSON lines are kept as they are (for log collectors); this is only for
 * people watching. A line that is not a pino record comes back unchanged.
 */

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every record has, shown in their own places or not at all. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);

function clock(ms: number): string {
  const at = new Date(ms);
  return [at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':');
}

function shown(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'object' && value !== null && 'message' in value) {
    return JSON.stringify(value.message);
  }
  return JSON.stringify(value) ?? String(value);
}

export function humanLogLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || !('level' in parsed)) return line;
    record = parsed;
  } catch {
    return line;
  }
  const level = LEVELS[record.level as number] ?? String(record.level);
  const time = typeof record.time === 'number' ? clock(record.time) : '--:--:--';
  const fields = Object.entries(record)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${shown(value)}`);
  const message = typeof record.msg === 'string' ? record.msg : '';
  return [time, level.padEnd(5), message, ...fields].filter((part) => part !== '').join(' ');
}
