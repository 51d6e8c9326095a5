import { TimeSlice } from '../lib/time-slice.js';

/** Visits every item, returning to the event loop after each `size` of them or sooner,
 *  when a time slice is spent: work over tables of tens of thousands of entries must not
 *  hold up the heartbeat. */
export async function forEachInChunks<T>(items: Iterable<T>, size: number, visit: (item: T) => void): Promise<void> {
  const slice = new TimeSlice();
  let count = 0;
  for (const item of items) {
    if (count > 0 && (count % size === 0 || slice.spent)) await slice.next();
    visit(item);
    count++;
  }
}
