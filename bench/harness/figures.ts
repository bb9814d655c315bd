/**
 * Figures a run takes from its delivery records: latency samples, and the span of handler
 * starts a rate is measured over.
 */
import type { RecordReader } from './recorder.ts';

/** Handler start minus t0 of the first delivery of each id in [from, to), in ms. */
export function latencies(reader: RecordReader, from: number, to: number): Float64Array {
  const seen = new Uint8Array(to);
  const samples = new Float64Array(to - from);
  let count = 0;
  for (let index = 0; index < reader.length; index += 1) {
    const id = reader.id(index);
    if (id < from || id >= to || seen[id] === 1) continue;
    seen[id] = 1;
    samples[count++] = reader.start(index) - reader.t0(index);
  }
  return samples.subarray(0, count);
}

/** The first and last handler start among ids below `expected`. */
export function startSpan(reader: RecordReader, expected: number): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (let index = 0; index < reader.length; index += 1) {
    if (reader.id(index) >= expected) continue;
    const start = reader.start(index);
    if (start < first) first = start;
    if (start > last) last = start;
  }
  return { first, last };
}

/** The earliest t0 among ids below `expected` (open loop: the first scheduled send). */
export function firstT0(reader: RecordReader, expected: number): number {
  let first = Infinity;
  for (let index = 0; index < reader.length; index += 1) {
    if (reader.id(index) < expected) first = Math.min(first, reader.t0(index));
  }
  return first;
}
