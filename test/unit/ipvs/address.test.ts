import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressToBytes,
  bytesToAddress,
  canonicalAddress,
  formatEndpoint,
  ipv4Netmask,
  ipv6PrefixLength,
} from '../../../src/ipvs/address.js';

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
    expect([...addressToBytes('192.0.2.10')]).toEqual([192, 0, 2, 10]);
    expect(bytesToAddress(Buffer.from([198, 51, 100, 7]), 4)).toBe('198.51.100.7');
  });

  it('any 16 bytes survive printing and parsing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect([...addressToBytes(bytesToAddress(bytes, 6))]).toEqual([...bytes]);
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
    expect(() => addressToBytes(text)).toThrow(/not an IP address/);
  });
});
