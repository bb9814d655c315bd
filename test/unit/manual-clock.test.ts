import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/testing/index.ts';

describe('ManualClock', () => {
  it('stands still until advanced, then moves by exactly the given milliseconds', () => {
    const clock = new ManualClock(1_000);
    assert.equal(clock.now(), 1_000);
    assert.equal(clock.now(), 1_000);
    assert.equal(clock.advance(250), 1_250);
    assert.equal(clock.now(), 1_250);
  });

  it('starts at a fixed default time, so runs are reproducible', () => {
    assert.equal(new ManualClock().now(), ManualClock.DEFAULT_START);
  });

  it('set moves to any time, backwards too', () => {
    const clock = new ManualClock();
    clock.set(5);
    assert.equal(clock.now(), 5);
  });

  it('refuses negative, fractional and non-finite times', () => {
    const clock = new ManualClock(0);
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => clock.advance(bad), RangeError);
      assert.throws(() => clock.set(bad), RangeError);
      assert.throws(() => new ManualClock(bad), RangeError);
    }
    assert.equal(clock.now(), 0);
  });
});
