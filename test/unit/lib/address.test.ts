import { isIPv4 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalAddress,
  familyOf,
  formatEndpoint,
  formatIp,
  inSubnet,
  ipBytes,
  ipv4Netmask,
  ipv6PrefixLength,
  netmaskToPrefix,
  parseIp,
  parseIpPrefix,
  prefixToNetmask,
} from '../../../src/lib/address.js';

const hex = (b: Buffer) => b.toString('hex');

describe('addresses as the kernel carries them and ipvsadm prints them', () => {
  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::192.0.2.1'],
    ['fe80::1:0:0:0', 'fe80::1:0:0:0'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
  ])('%s is printed as inet_ntop prints it: %s', (input, expected) => {
    expect(canonicalAddress(input)).toBe(expected);
  });

  it('IPv4 is four bytes in network order', () => {
    expect([...ipBytes('192.0.2.10')]).toEqual([192, 0, 2, 10]);
    expect(formatIp(Buffer.from([198, 51, 100, 7]), 4)).toBe('198.51.100.7');
  });

  it('any 16 bytes survive printing and parsing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect([...ipBytes(formatIp(bytes, 6))]).toEqual([...bytes]);
      }),
    );
  });

  it('formats endpoints like ipvsadm -n', () => {
    expect(formatEndpoint('192.0.2.1', 80)).toBe('192.0.2.1:80');
    expect(formatEndpoint('2001:db8::1', 443)).toBe('[2001:db8::1]:443');
  });

  it('reads persistence netmasks as dotted masks or prefix lengths', () => {
    expect(ipv4Netmask('24')).toBe('255.255.255.0');
    expect(ipv4Netmask('/32')).toBe('255.255.255.255');
    expect(ipv4Netmask('0')).toBe('0.0.0.0');
    expect(ipv4Netmask('255.255.0.0')).toBe('255.255.0.0');
    expect(() => ipv4Netmask('33')).toThrow(/longer than 32/);
    expect(ipv6PrefixLength('/64')).toBe(64);
    expect(() => ipv6PrefixLength('0')).toThrow(/1-128/);
  });
});

describe('IPv4 parsing', () => {
  it.each(['01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', ''])('rejects %j', (text) => {
    expect(() => ipBytes(text)).toThrow(/not an IP address/);
  });

  it('takes exactly what node:net takes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.stringMatching(/^[0-9.]{0,16}$/)), (text) => {
        expect(parseIp(text)).toEqual(isIPv4(text) ? { address: text, family: 4 } : undefined);
      }),
    );
  });
});

describe('ipBytes', () => {
  it('reads IPv4 literals', () => {
    expect([...ipBytes('192.0.2.100')]).toEqual([192, 0, 2, 100]);
    expect(familyOf('203.0.113.1')).toBe(4);
  });

  it('reads IPv6 literals in every shorthand', () => {
    expect(hex(ipBytes('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(hex(ipBytes('::'))).toBe('0'.repeat(32));
    expect(hex(ipBytes('::1'))).toBe('0'.repeat(31) + '1');
    expect(hex(ipBytes('fe80::'))).toBe('fe80' + '0'.repeat(28));
    expect(hex(ipBytes('2001:db8:0:0:1:0:0:1'))).toBe('20010db8000000000001000000000001');
    expect(hex(ipBytes('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(ipBytes('64:ff9b::198.51.100.7'))).toBe('0064ff9b0000000000000000c6336407');
    expect(familyOf('2001:db8::1')).toBe(6);
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

describe('parseIp: the form the model keeps', () => {
  it('keeps IPv4 as written and prints IPv6 as inet_ntop does', () => {
    expect(parseIp('192.0.2.1')).toEqual({ address: '192.0.2.1', family: 4 });
    expect(parseIp('2001:DB8:0:0:0:0:0:10')).toEqual({ address: '2001:db8::10', family: 6 });
    expect(parseIp('0:0:0:0:0:ffff:c000:201')).toEqual({ address: '::ffff:192.0.2.1', family: 6 });
  });

  it.each(['fe80::1%eth0', '192.0.2.1/24', 'localhost', '2001:db8::1::2', ' 192.0.2.1'])('rejects %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it('gives one spelling per address, whatever the input spelling', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const parsed = parseIp(text);
        expect(parsed?.family).toBe(6);
        expect(parsed?.address).toBe(canonicalAddress(text));
        expect(parseIp(parsed?.address ?? '')).toEqual(parsed);
        expect(hex(ipBytes(parsed?.address ?? ''))).toBe(hex(ipBytes(text)));
      }),
    );
  });

  it('reads an address with an optional prefix length', () => {
    expect(parseIpPrefix('192.0.2.10/24')).toEqual({ address: '192.0.2.10', family: 4, prefix: 24 });
    expect(parseIpPrefix('192.0.2.10')).toEqual({ address: '192.0.2.10', family: 4, prefix: 32 });
    expect(parseIpPrefix('2001:DB8::10')).toEqual({ address: '2001:db8::10', family: 6, prefix: 128 });
    expect(parseIpPrefix('2001:db8::10/64')?.prefix).toBe(64);
    for (const bad of ['192.0.2.10/33', '2001:db8::10/129', '192.0.2.10/', '192.0.2.10/24/1', '192.0.2.10/+1', 'eth0/24']) {
      expect(parseIpPrefix(bad)).toBeUndefined();
    }
  });
});

describe('netmasks', () => {
  it('reads contiguous dotted netmasks as prefix lengths', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(netmaskToPrefix('255.255.255.255')).toBe(32);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(netmaskToPrefix('255.255.254.0')).toBe(23);
    expect(netmaskToPrefix('255.0.255.0')).toBeUndefined();
    expect(netmaskToPrefix('24')).toBeUndefined();
    expect(netmaskToPrefix('255.255.255.00')).toBeUndefined();
  });

  it('prints every prefix length as the netmask it reads back', () => {
    for (let prefix = 0; prefix <= 32; prefix++) expect(netmaskToPrefix(prefixToNetmask(prefix))).toBe(prefix);
    expect(prefixToNetmask(20)).toBe('255.255.240.0');
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
