/** Page cursors: opaque to callers, a position in insertion order (seq) to backends. */
import { PullqError } from '../protocol/errors.ts';

export function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const match = /^seq:(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const seq = match?.[1] === undefined ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(seq)) {
    throw new PullqError('invalid_argument', 'cursor is not one this server handed out', {
      details: { field: 'cursor' },
    });
  }
  return seq;
}
