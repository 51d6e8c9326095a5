import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatConfigDuration, parseDuration } from '../../../src/lib/duration.js';

describe('durations as the configuration writes them', () => {
  it('reads a number with a unit as milliseconds', () => {
    expect(['100ms', '2s', '1.5s', '5m', '1h', '0s', '0.001s'].map(parseDuration)).toEqual([100, 2000, 1500, 300_000, 3_600_000, 0, 1]);
  });

  it.each(['2', '2 s', '-1s', '1.2345s', '1d', 's', '', '1234567890ms'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('writes the shortest exact form', () => {
    expect([2000, 60_000, 1500, 7_200_000, 90_000, 0, 12].map(formatConfigDuration)).toEqual([
      '2s',
      '1m',
      '1500ms',
      '2h',
      '90s',
      '0s',
      '12ms',
    ]);
  });

  it('reads back what it writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), (ms) => {
        expect(parseDuration(formatConfigDuration(ms))).toBe(ms);
      }),
    );
  });
});
