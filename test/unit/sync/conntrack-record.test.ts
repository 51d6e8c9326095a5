import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConntrackRecordError, conntrackKey } from '../../../src/sync/conntrack/index.js';
import { decodeConntrack, encodeConntrack } from '../../../src/sync/conntrack/record.js';
import { masqueraded, ping6, udp } from './conntrack-fixtures.js';

describe('conntrack record', () => {
  it('round-trips TCP with NAT, ICMPv6 in a zone, UDP', () => {
    for (const entry of [masqueraded, ping6, udp]) expect(decodeConntrack(encodeConntrack(entry))).toEqual(entry);
  });

  it('is compact: 47 bytes for an IPv4 TCP flow', () => {
    expect(encodeConntrack(masqueraded).length).toBe(47);
    expect(encodeConntrack(udp).length).toBe(42);
  });

  it('decodes from a view into a larger buffer', () => {
    const record = encodeConntrack(udp);
    const framed = new Uint8Array(record.length + 10);
    framed.set(record, 5);
    expect(decodeConntrack(framed.subarray(5, 5 + record.length))).toEqual(udp);
  });

  it('keys a flow by its original direction and zone', () => {
    expect(conntrackKey(masqueraded)).toBe('0/6/10.1.0.2/203.0.113.9/40000/80');
    expect(conntrackKey(ping6)).toBe('3/58/2001:db8::2/2001:db8:1::9/4711/128/0');
    expect(conntrackKey({ ...masqueraded, reply: udp.reply })).toBe(conntrackKey(masqueraded));
  });

  it.each([
    ['empty', new Uint8Array(0), /shorter than the 18-byte header/],
    ['another version', Uint8Array.from([2, ...encodeConntrack(udp).subarray(1)]), /version 2/],
    ['truncated', encodeConntrack(masqueraded).subarray(0, 46), /46 bytes, expected 47/],
    ['trailing bytes', Uint8Array.from([...encodeConntrack(udp), 0]), /43 bytes, expected 42/],
    ['unknown flags', Uint8Array.from(encodeConntrack(udp), (b, i) => (i === 1 ? 0x80 : b)), /unknown flags/],
    ['TCP state on UDP', Uint8Array.from(encodeConntrack(udp), (b, i) => (i === 1 ? 4 : b)), /TCP state on protocol 17/],
    ['ICMP flag on TCP', Uint8Array.from(encodeConntrack(masqueraded), (b, i) => (i === 1 ? 6 : b)), /ICMP flag disagrees/],
    ['no TCP state', Uint8Array.from(encodeConntrack(masqueraded), (b, i) => (i === 42 ? 10 : b)), /TCP state 10 is not a state/],
  ])('refuses %s with a clear error', (_, bytes, message) => {
    expect(() => decodeConntrack(bytes)).toThrow(ConntrackRecordError);
    expect(() => decodeConntrack(bytes)).toThrow(message);
  });

  it('throws only ConntrackRecordError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        try {
          decodeConntrack(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ConntrackRecordError);
        }
      }),
      { numRuns: 2000 },
    );
    // mutations of a valid record: each either decodes or is refused cleanly
    const valid = encodeConntrack(masqueraded);
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const mutated = Uint8Array.from(valid, (b, i) => (i === at ? value : b));
        try {
          decodeConntrack(mutated);
        } catch (error) {
          expect(error).toBeInstanceOf(ConntrackRecordError);
        }
      }),
    );
  });
});
