// Work over big tables on the daemon's event loop (the heartbeat's) returns to the loop
// every few milliseconds: by time, not by a count of items, as an item costs a
// microsecond in one step and fifty in another, and more on a busy machine.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** The longest stretch of such work between two turns of the event loop. */
export const SLICE_MS = 4;

export class TimeSlice {
  private startedAt = performance.now();

  /** `turn`: how to let the event loop run (a caller whose tests fake setImmediate gives its own). */
  constructor(private readonly turn: () => Promise<unknown> = yieldToEventLoop) {}

  /** True once this slice has run its time: the caller awaits next() before going on. */
  get spent(): boolean {
    return performance.now() - this.startedAt >= SLICE_MS;
  }

  /** A turn of the event loop, then a new slice. */
  async next(): Promise<void> {
    await this.turn();
    this.startedAt = performance.now();
  }
}
