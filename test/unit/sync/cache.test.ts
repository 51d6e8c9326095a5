import { describe, expect, it } from 'vitest';
import { ExternalCache } from '../../../src/sync/cache.js';

describe('the external cache', () => {
  it('expires each entry at its own time, an update moving it', () => {
    const cache = new ExternalCache<string>(10);
    cache.put('a', 'a1', 100);
    cache.put('b', 'b1', 50);
    cache.put('a', 'a2', 300);
    expect(cache.nextExpiry()).toBe(50);
    expect(cache.expire(100)).toBe(1);
    expect(cache.entries(100)).toEqual([{ key: 'a', entry: 'a2', expiresAt: 300 }]);
    expect(cache.nextExpiry()).toBe(300);
    expect(cache.expire(300)).toBe(1);
    expect(cache.size).toBe(0);
    expect(cache.nextExpiry()).toBeUndefined();
  });

  it('refuses a new entry when full, but updates an existing one', () => {
    const cache = new ExternalCache<number>(2);
    expect(cache.put('a', 1, 10)).toBe('added');
    expect(cache.put('b', 1, 10)).toBe('added');
    expect(cache.put('c', 1, 10)).toBe('full');
    expect(cache.put('a', 2, 10)).toBe('updated');
    cache.delete('b');
    expect(cache.put('c', 1, 10)).toBe('added');
  });

  it('drops what a bulk resync did not refresh', () => {
    const cache = new ExternalCache<number>(10);
    cache.put('kept', 1, 10);
    cache.put('gone', 1, 10);
    cache.markStale();
    cache.put('kept', 2, 10);
    cache.put('new', 1, 10);
    expect(cache.dropStale()).toBe(1);
    expect(cache.entries(0).map(({ key }) => key)).toEqual(['kept', 'new']);
  });

  it('keeps its heap small under many updates of few entries', () => {
    const cache = new ExternalCache<number>(10);
    for (let i = 0; i < 100_000; i++) cache.put(`k${i % 5}`, i, 1_000_000 - i);
    expect(cache.size).toBe(5);
    expect(cache.expire(1_000_000 - 99_995)).toBe(5);
  });
});
