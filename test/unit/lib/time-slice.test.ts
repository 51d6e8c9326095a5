// A slice of work on the event loop has what the turn before it left of SLICE_MS.
import { describe, expect, it } from 'vitest';
import { LEAST_SLICE_MS, SLICE_MS, TimeSlice, type LoopClock } from '../../../src/lib/time-slice.js';

/** A clock that moves only when told: `run` is the loop at work, `wait` the loop idle. */
function manualClock() {
  let now = 0;
  let active = 0;
  const clock: LoopClock = { now: () => now, activeMs: () => active };
  return {
    clock,
    run: (ms: number) => ((now += ms), (active += ms)),
    wait: (ms: number) => (now += ms),
  };
}

/** How long a slice runs: the time until `spent`, in steps of 0.25 ms of work. */
function sliceLength(slice: TimeSlice, run: (ms: number) => void): number {
  let ran = 0;
  while (!slice.spent) {
    run(0.25);
    ran += 0.25;
  }
  return ran;
}

describe('TimeSlice', () => {
  it('runs SLICE_MS after a turn that did nothing else, however long the loop waited', async () => {
    const { clock, run, wait } = manualClock();
    const slice = new TimeSlice(() => Promise.resolve(wait(50)), clock);
    expect(sliceLength(slice, run)).toBe(SLICE_MS);
    await slice.next();
    expect(sliceLength(slice, run)).toBe(SLICE_MS);
  });

  it('runs what is left of SLICE_MS after a turn that worked (a collection, a message)', async () => {
    const { clock, run } = manualClock();
    let work = 1.5;
    const slice = new TimeSlice(() => Promise.resolve(run(work)), clock);
    sliceLength(slice, run);
    await slice.next();
    expect(sliceLength(slice, run)).toBe(SLICE_MS - 1.5);
    // a turn longer than a slice: the work still goes on, LEAST_SLICE_MS at a time
    work = 7;
    await slice.next();
    expect(sliceLength(slice, run)).toBe(LEAST_SLICE_MS);
    work = 0;
    await slice.next();
    expect(sliceLength(slice, run)).toBe(SLICE_MS);
  });
});
