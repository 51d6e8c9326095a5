import { describe, expect, it } from 'vitest';
import { ShardedMap } from '../../../src/lib/sharded-map.js';

describe('ShardedMap', () => {
  it('is a Map by string: get, set (replacing), has and size', () => {
    const map = new ShardedMap<number>();
    for (let i = 0; i < 10_000; i++) map.set(`TCP 10.0.${i >> 8}.${i & 255}:80 -> 172.16.0.${i & 255}:8080`, i);
    expect(map.size).toBe(10_000);
    expect(map.get('TCP 10.0.1.2:80 -> 172.16.0.2:8080')).toBe(258);
    map.set('TCP 10.0.1.2:80 -> 172.16.0.2:8080', -1);
    expect(map.size).toBe(10_000);
    expect(map.get('TCP 10.0.1.2:80 -> 172.16.0.2:8080')).toBe(-1);
    expect(map.has('TCP 10.0.1.2:80 -> 172.16.0.3:8080')).toBe(false);
    expect(map.get('')).toBeUndefined();
    map.set('', 0);
    expect(map.has('')).toBe(true);
  });

  it('iterates in the order keys were first set, as a Map does', () => {
    const map = new ShardedMap<number>();
    const keys = Array.from({ length: 500 }, (_, i) => `key ${(i * 7919) % 500}`);
    keys.forEach((key, i) => map.set(key, i));
    map.set(keys[3] ?? '', -3);
    const expected = new Map(keys.map((key, i) => [key, i]));
    expected.set(keys[3] ?? '', -3);
    expect([...map]).toEqual([...expected]);
    expect([...map.keys()]).toEqual([...expected.keys()]);
    expect([...map.values()]).toEqual([...expected.values()]);
    const visited: string[] = [];
    map.forEach((_, key) => visited.push(key));
    expect(visited).toEqual(keys);
  });
});
