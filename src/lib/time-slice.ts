// Work over big tables on the daemon's event loop (the heartbeat's) returns to the loop
// every few milliseconds: by time, not by a count of items, as an item costs a
// microsecond in one step and fifty in another, and more on a busy machine.
import { performance as realPerformance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** The longest stretch of such work between two turns of the event loop. */
export const SLICE_MS = 4;
/** The least a slice runs, so that the work goes on however busy the turns between are. */
export const LEAST_SLICE_MS = 1;

/** The event loop's clock: the time, and how long the loop has run in all (not waited for I/O). */
export interface LoopClock {
  now(): number;
  activeMs(): number;
}

/** The time from the global `performance`, which tests in simulated time replace (without
 *  eventLoopUtilization): their slices then end by the simulated clock, as before. */
const eventLoop: LoopClock = {
  now: () => performance.now(),
  activeMs: () => realPerformance.eventLoopUtilization().active,
};

export class TimeSlice {
  private startedAt: number;
  private budget = SLICE_MS;

  /** `turn`: how to let the event loop run (a caller whose tests fake setImmediate gives its own). */
  constructor(
    private readonly turn: () => Promise<unknown> = yieldToEventLoop,
    private readonly clock: LoopClock = eventLoop,
  ) {
    this.startedAt = clock.now();
  }

  /** True once this slice has run its time: the caller awaits next() before going on. */
  get spent(): boolean {
    return this.clock.now() - this.startedAt >= this.budget;
  }

  /** A turn of the event loop, then a new slice. */
  async next(): Promise<void> {
    const activeBefore = this.clock.activeMs();
    await this.turn();
    // a timer that comes due in the turn waits for what else the turn ran (a scavenge of
    // 5 ms, a message) and then for this slice: the slice has what is left of SLICE_MS
    const between = this.clock.activeMs() - activeBefore;
    this.budget = Math.max(LEAST_SLICE_MS, SLICE_MS - between);
    this.startedAt = this.clock.now();
  }
}
