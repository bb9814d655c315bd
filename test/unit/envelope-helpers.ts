/** What the envelope and serializer tests share: byte helpers and error assertions. */
import assert from 'node:assert/strict';
import type { DecodedPayload } from '../../src/client/envelope.ts';
import { isPullqError, type ErrorCode } from '../../src/protocol/errors.ts';

export const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
export const textOf = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** An envelope's bytes, written by hand (headers default to {}). */
export const envelopeJson = (fields: Record<string, unknown>): Uint8Array =>
  bytesOf(JSON.stringify({ pullq: 1, headers: {}, ...fields }));

/** The payload decoded to an error of `code` and no body. */
export function assertErrorCode(decoded: DecodedPayload, code: ErrorCode): void {
  assert.ok(decoded.error, `expected a ${code} error, got body ${String(decoded.body)}`);
  assert.equal(decoded.error.code, code, decoded.error.message);
  assert.equal(decoded.body, undefined);
}

export function assertThrowsCode(run: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(run, (error) => {
    assert.ok(isPullqError(error, code), `expected ${code}, got ${String(error)}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}
