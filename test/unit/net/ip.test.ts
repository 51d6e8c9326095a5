import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inSubnet, ipBytes, ipFamily } from '../../../src/net/ip.js';

const hex = (b: Buffer) => b.toString('hex');

describe('ipBytes', () => {
  it('reads IPv4 literals', () => {
    expect([...ipBytes('192.0.2.100')]).toEqual([192, 0, 2, 100]);
    expect(ipFamily(ipBytes('203.0.113.1'))).toBe(4);
  });

  it('reads IPv6 literals in every shorthand', () => {
    expect(hex(ipBytes('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(ipBytes('::'))).toBe('0'.repeat(32));
    expect(hex(ipBytes('::1'))).toBe('0'.repeat(31) + '1');
    expect(hex(ipBytes('fe80::'))).toBe('fe80' + '0'.repeat(28));
    expect(hex(ipBytes('2001:db8:0:0:1:0:0:1'))).toBe('20010db8000000000001000000000001');
    expect(hex(ipBytes('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(ipBytes('64:ff9b::198.51.100.7'))).toBe('0064ff9b0000000000000000c6336407');
    expect(ipFamily(ipBytes('2001:db8::1'))).toBe(6);
  });

  it('agrees with the fully written form for any address', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
        fc.nat(7),
        fc.nat(8),
        (groups, start, length) => {
          const full = groups.map((g) => g.toString(16)).join(':');
          const zeroed = groups.map((g, i) => (i >= start && i < start + length ? 0 : g));
          const end = Math.min(8, start + length);
          const shorthand =
            length >= 2 && end - start >= 2
              ? `${zeroed
                  .slice(0, start)
                  .map((g) => g.toString(16))
                  .join(':')}::${zeroed
                  .slice(end)
                  .map((g) => g.toString(16))
                  .join(':')}`
              : zeroed.map((g) => g.toString(16)).join(':');
          const expected = Buffer.alloc(16);
          zeroed.forEach((g, i) => expected.writeUInt16BE(g, i * 2));
          expect(hex(ipBytes(shorthand))).toBe(hex(expected));
          expect(ipBytes(full).length).toBe(16);
        },
      ),
    );
  });

  it('rejects what is not an address', () => {
    expect(() => ipBytes('192.0.2.256')).toThrow(/not an IP address/);
    expect(() => ipBytes('eth0')).toThrow(/not an IP address/);
    expect(() => ipBytes('2001:db8::1%eth0')).toThrow(/not an IP address/);
  });
});

describe('inSubnet', () => {
  it('compares the prefix bits only', () => {
    expect(inSubnet(ipBytes('192.0.2.100'), ipBytes('192.0.2.1'), 24)).toBe(true);
    expect(inSubnet(ipBytes('192.0.3.100'), ipBytes('192.0.2.1'), 24)).toBe(false);
    expect(inSubnet(ipBytes('192.0.2.130'), ipBytes('192.0.2.1'), 25)).toBe(false);
    expect(inSubnet(ipBytes('192.0.2.130'), ipBytes('192.0.2.129'), 25)).toBe(true);
    expect(inSubnet(ipBytes('198.51.100.1'), ipBytes('192.0.2.1'), 0)).toBe(true);
    expect(inSubnet(ipBytes('2001:db8::10'), ipBytes('2001:db8::1'), 64)).toBe(true);
    expect(inSubnet(ipBytes('2001:db8:1::10'), ipBytes('2001:db8::1'), 64)).toBe(false);
  });

  it('never mixes families', () => {
    expect(inSubnet(ipBytes('::ffff:192.0.2.1'), ipBytes('192.0.2.1'), 0)).toBe(false);
  });

  it('holds exactly when the first prefix bits are equal', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 32 }),
        (a, b, prefix) => {
          const bits = (x: Uint8Array) => [...x].map((v) => v.toString(2).padStart(8, '0')).join('');
          expect(inSubnet(a, b, prefix)).toBe(bits(a).slice(0, prefix) === bits(b).slice(0, prefix));
        },
      ),
    );
  });
});
