import { describe, expect, it } from 'vitest';
import { gratuitousArp, icmpv6Checksum, unsolicitedNeighbourAdvertisement } from '../../../src/net/frames.js';
import { ipBytes } from '../../../src/lib/address.js';

const mac = Buffer.from('020000000a01', 'hex');

describe('gratuitousArp', () => {
  it('builds the RFC 5227 announcement (request form)', () => {
    const frame = gratuitousArp(mac, '192.0.2.100', 'request');
    expect(frame.length).toBe(60);
    expect(frame.subarray(0, 6).toString('hex')).toBe('ffffffffffff');
    expect(frame.subarray(6, 12)).toEqual(mac);
    expect(frame.readUInt16BE(12)).toBe(0x0806);
    const arp = frame.subarray(14);
    expect(arp.readUInt16BE(0)).toBe(1); // Ethernet
    expect(arp.readUInt16BE(2)).toBe(0x0800);
    expect([arp[4], arp[5]]).toEqual([6, 4]);
    expect(arp.readUInt16BE(6)).toBe(1); // request
    expect(arp.subarray(8, 14)).toEqual(mac);
    expect([...arp.subarray(14, 18)]).toEqual([192, 0, 2, 100]);
    expect(arp.subarray(18, 24).toString('hex')).toBe('000000000000');
    expect([...arp.subarray(24, 28)]).toEqual([192, 0, 2, 100]);
    expect(frame.subarray(42).every((b) => b === 0)).toBe(true);
  });

  it('builds the reply form with our MAC as the target hardware address', () => {
    const arp = gratuitousArp(mac, '203.0.113.7', 'reply').subarray(14);
    expect(arp.readUInt16BE(6)).toBe(2);
    expect(arp.subarray(8, 14)).toEqual(mac);
    expect(arp.subarray(18, 24)).toEqual(mac);
    expect([...arp.subarray(14, 18)]).toEqual([...arp.subarray(24, 28)]);
  });

  it('refuses an IPv6 address', () => {
    expect(() => gratuitousArp(mac, '2001:db8::1', 'request')).toThrow(/IPv4/);
  });
});

describe('unsolicitedNeighbourAdvertisement', () => {
  const frame = unsolicitedNeighbourAdvertisement(mac, '2001:db8::100');
  const ipv6 = frame.subarray(14, 54);
  const icmp = frame.subarray(54);

  it('goes to all nodes with hop limit 255', () => {
    expect(frame.subarray(0, 6).toString('hex')).toBe('333300000001');
    expect(frame.readUInt16BE(12)).toBe(0x86dd);
    expect(ipv6[0]! >> 4).toBe(6);
    expect(ipv6.readUInt16BE(4)).toBe(32);
    expect(ipv6[6]).toBe(58);
    expect(ipv6[7]).toBe(255);
    expect(ipv6.subarray(8, 24)).toEqual(ipBytes('2001:db8::100'));
    expect(ipv6.subarray(24, 40)).toEqual(ipBytes('ff02::1'));
  });

  it('is an unsolicited override advertisement carrying our MAC', () => {
    expect(icmp.length).toBe(32);
    expect(icmp[0]).toBe(136);
    expect(icmp[1]).toBe(0);
    expect(icmp[4]).toBe(0x20); // override, not solicited, not a router
    expect(icmp.subarray(8, 24)).toEqual(ipBytes('2001:db8::100'));
    expect([icmp[24], icmp[25]]).toEqual([2, 1]);
    expect(icmp.subarray(26, 32)).toEqual(mac);
  });

  it('keeps the router flag for a gateway address', () => {
    expect(unsolicitedNeighbourAdvertisement(mac, '2001:db8::1', true)[54 + 4]).toBe(0xa0);
  });

  it('carries a checksum that verifies', () => {
    // Summing a message that includes its checksum gives zero (RFC 1071).
    expect(icmpv6Checksum(ipv6.subarray(8, 24), ipv6.subarray(24, 40), icmp)).toBe(0);
  });

  it('refuses an IPv4 address', () => {
    expect(() => unsolicitedNeighbourAdvertisement(mac, '192.0.2.1')).toThrow(/IPv6/);
  });
});
