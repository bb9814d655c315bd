/**
 * The worker's prefetch buffer size: fixed when given, otherwise about 20 ms of work at the
 * rate tasks start, between one task per slot and 1000.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTO_PREFETCH_MAX, PREFETCH_AHEAD_MS, PrefetchTarget } from '../../src/worker/prefetch.ts';

/** Starts `perMs` tasks each ms for `ms` ms from `from`; returns the time it ends at. */
function startSteadily(target: PrefetchTarget, from: number, ms: number, perMs: number): number {
  for (let t = from + 1; t <= from + ms; t += 1) target.started(perMs, t);
  return from + ms;
}

describe('PrefetchTarget', () => {
  it('uses a given prefetch whatever the rate', () => {
    const target = new PrefetchTarget(7, 100, 0);
    const end = startSteadily(target, 0, 1000, 50);
    assert.equal(target.limit(end), 7);
  });

  it('starts at one task per slot', () => {
    assert.equal(new PrefetchTarget(undefined, 40, 0).limit(0), 40);
  });

  it('grows to about 20 ms of work when tasks start fast', () => {
    const target = new PrefetchTarget(undefined, 100, 0);
    // 30 tasks per ms (30,000/s): 20 ms of work is 600.
    const end = startSteadily(target, 0, 1000, 30);
    const limit = target.limit(end);
    assert.ok(
      Math.abs(limit - 30 * PREFETCH_AHEAD_MS) <= 10,
      `expected about ${30 * PREFETCH_AHEAD_MS}, got ${limit}`,
    );
  });

  it('stays at one task per slot when tasks start slowly', () => {
    const target = new PrefetchTarget(undefined, 100, 0);
    // One task per 10 ms (100/s): 20 ms of work is 2 tasks.
    let t = 0;
    for (let i = 0; i < 200; i += 1) target.started(1, (t += 10));
    assert.equal(target.limit(t), 100);
  });

  it('never grows past the cap, unless the slots alone need more', () => {
    const small = new PrefetchTarget(undefined, 100, 0);
    assert.equal(small.limit(startSteadily(small, 0, 1000, 500)), AUTO_PREFETCH_MAX);
    const large = new PrefetchTarget(undefined, 4000, 0);
    assert.equal(large.limit(startSteadily(large, 0, 1000, 500)), 4000);
  });

  it('shrinks back once the tasks stop starting', () => {
    const target = new PrefetchTarget(undefined, 100, 0);
    const end = startSteadily(target, 0, 1000, 30);
    assert.ok(target.limit(end) > 500);
    // Each 50 ms window with no start halves the rate: 600 -> under 100 within 3 windows.
    let t = end;
    for (let i = 0; i < 3; i += 1) target.limit((t += 50));
    assert.equal(target.limit(t), 100);
  });
});
