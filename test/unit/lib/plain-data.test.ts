// Equality of plain data as the reload compares services.
import { describe, expect, it } from 'vitest';
import { samePlainData } from '../../../src/lib/plain-data.js';

describe('samePlainData', () => {
  const service = { name: 'www', port: 80, vip: { address: '192.0.2.100', prefix: 24 }, servers: [{ weight: 1 }, { weight: 2 }] };

  it('finds equal what has the same keys and values, in any key order', () => {
    expect(samePlainData(service, structuredClone(service))).toBe(true);
    expect(samePlainData({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(samePlainData([], [])).toBe(true);
  });

  it('tells apart a value, a missing or extra key, a longer array, a type', () => {
    expect(samePlainData(service, { ...service, servers: [{ weight: 1 }, { weight: 3 }] })).toBe(false);
    expect(samePlainData({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(samePlainData({ a: 1, b: undefined }, { a: 1 })).toBe(false);
    expect(samePlainData({ a: 1, b: undefined }, { a: 1, c: undefined })).toBe(false);
    expect(samePlainData([1, 2], [1, 2, 3])).toBe(false);
    expect(samePlainData([1], { 0: 1 })).toBe(false);
    expect(samePlainData({ a: null }, { a: {} })).toBe(false);
    expect(samePlainData(1, '1')).toBe(false);
  });

  it('leaves other objects to isDeepStrictEqual', () => {
    expect(samePlainData(new Map([[1, 2]]), new Map([[1, 2]]))).toBe(true);
    expect(samePlainData(new Map([[1, 2]]), new Map([[1, 3]]))).toBe(false);
  });
});
