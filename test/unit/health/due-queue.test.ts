import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DueQueue } from '../../../src/health/due-queue.js';

describe('DueQueue', () => {
  let fired: Array<[string, number]>;
  let queue: DueQueue<string>;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000 });
    fired = [];
    queue = new DueQueue(
      () => Date.now(),
      (item, at) => fired.push([item, at]),
    );
  });
  afterEach(() => {
    queue.clear();
    vi.useRealTimers();
  });

  it('fires each item at its time, in time order and in order of adding within a millisecond', async () => {
    expect(queue.add('c', 30)).toBe(1_030);
    queue.add('a', 10);
    queue.add('b', 10);
    queue.add('d', 20.2); // rounded up: never early
    await vi.advanceTimersByTimeAsync(9);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual([
      ['a', 1_010],
      ['b', 1_010],
    ]);
    await vi.advanceTimersByTimeAsync(20);
    expect(fired.map(([item]) => item)).toEqual(['a', 'b', 'd', 'c']);
  });

  it('runs one timer for all its items, armed again for an earlier one', async () => {
    for (let i = 0; i < 1_000; i++) queue.add(`item ${i}`, 100 + (i % 50));
    expect(vi.getTimerCount()).toBe(1);
    queue.add('early', 5);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(fired).toEqual([['early', 1_005]]);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toHaveLength(1_001);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires what a firing adds on a later turn, and nothing once cleared', async () => {
    queue = new DueQueue(
      () => Date.now(),
      (item, at) => {
        fired.push([item, at]);
        if (item === 'first') queue.add('again', 0);
      },
    );
    queue.add('first', 1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired.map(([item]) => item)).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired.map(([item]) => item)).toEqual(['first', 'again']);
    queue.add('never', 10);
    queue.clear();
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps its times in order whatever order they come in', async () => {
    const delays = Array.from({ length: 200 }, (_, i) => (i * 7919) % 211);
    for (const delay of delays) queue.add(String(delay), delay);
    await vi.advanceTimersByTimeAsync(300);
    const times = fired.map(([, at]) => at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(fired).toHaveLength(200);
  });
});
