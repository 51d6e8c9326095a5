import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Visits every item, returning to the event loop after each `size` of them: work over
 *  tables of tens of thousands of entries must not hold up the heartbeat. */
export async function forEachInChunks<T>(items: Iterable<T>, size: number, visit: (item: T) => void): Promise<void> {
  let count = 0;
  for (const item of items) {
    if (count > 0 && count % size === 0) await yieldToEventLoop();
    visit(item);
    count++;
  }
}
