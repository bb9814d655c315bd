/**
 * A handler that leaks on purpose: it keeps SOAK_LEAK_BYTES of string per task it runs, for
 * as long as its process lives. `npm run soak -- --leak-bytes 2048` runs it instead of the
 * no-op handler, to check that the soak's verdict catches a leak of that size.
 */
import { randomBytes } from 'node:crypto';

const bytes = Number(process.env['SOAK_LEAK_BYTES'] ?? '0');
const kept: string[] = [];

export default async function leak(): Promise<void> {
  // Hex of random bytes: a flat string of `bytes` characters of its own on the V8 heap
  // (padEnd or repeat would share their filler, and leak far less than they say).
  kept.push(randomBytes(Math.ceil(bytes / 2)).toString('hex'));
}
