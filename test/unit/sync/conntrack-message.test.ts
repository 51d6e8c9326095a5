import { describe, expect, it } from 'vitest';
import { AttributeReader } from '../../../src/lib/netlink-attributes.js';
import { buildCreate, buildUpdate, decodeConntrackMessage } from '../../../src/sync/conntrack/message.js';
import { masqueraded, ping6, udp } from './conntrack-fixtures.js';

// ctnetlink attributes written by hand (host order little-endian, ctnetlink's integers
// big-endian), independent of the encoder under test.
function attr(type: number, ...data: Buffer[]): Buffer {
  const value = Buffer.concat(data);
  const header = Buffer.alloc(4);
  header.writeUInt16LE(4 + value.length, 0);
  header.writeUInt16LE(type, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}
const nested = (type: number, ...data: Buffer[]) => attr(type | 0x8000, ...data);
const u8 = (v: number) => Buffer.from([v]);
const be16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const be32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const ipv4 = (text: string) => Buffer.from(text.split('.').map(Number));
const tuple = (type: number, source: string, destination: string, sourcePort: number, destinationPort: number) =>
  nested(
    type,
    nested(1, attr(1, ipv4(source)), attr(2, ipv4(destination))),
    nested(2, attr(1, u8(6)), attr(2, be16(sourcePort)), attr(3, be16(destinationPort))),
  );

/** A dump reply for the masqueraded flow, laid out as the kernel sends it. */
const kernelMessage = Buffer.concat([
  Buffer.from([2, 0, 0, 0]), // nfgenmsg: AF_INET
  tuple(1, '10.1.0.2', '203.0.113.9', 40000, 80),
  tuple(2, '203.0.113.9', '198.51.100.1', 80, 61000),
  attr(3, be32(masqueraded.status)),
  attr(7, be32(431999)),
  nested(4, nested(1, attr(1, u8(3)), attr(2, u8(7)), attr(3, u8(9)), attr(4, Buffer.from([0x23, 0])), attr(5, Buffer.from([0x23, 0])))),
  attr(8, be32(7)),
  attr(12, be32(0xdeadbeef)), // CTA_ID: not synced
  attr(9, nested(1, Buffer.alloc(8))), // counters: not synced
]);

const payload = (parts: Buffer[]) => Buffer.concat(parts);
const attributes = (parts: Buffer[]) => new AttributeReader(payload(parts).subarray(4), 26);

describe('ctnetlink messages', () => {
  it('decodes a dumped masqueraded TCP flow', () => {
    expect(decodeConntrackMessage(kernelMessage)).toEqual(masqueraded);
  });

  it('reads back what it builds for flows without NAT (ICMPv6 in a zone, UDP)', () => {
    for (const entry of [ping6, udp]) {
      expect(decodeConntrackMessage(payload(buildCreate(entry)))).toEqual({
        ...entry,
        status: entry.status | 0x8,
      });
    }
  });

  it('creates a masqueraded flow with its binding in CTA_NAT_SRC and an untranslated reply', () => {
    const message = buildCreate(masqueraded);
    expect(payload(message).readUInt8(0)).toBe(2);
    const created = decodeConntrackMessage(payload(message));
    expect(created.original).toEqual(masqueraded.original);
    expect(created.reply).toEqual({ source: '203.0.113.9', destination: '10.1.0.2', sourcePort: 80, destinationPort: 40000 });
    const nat = attributes(message).nested(6, 5);
    expect([...nat.bytes(1)]).toEqual([198, 51, 100, 1]);
    expect([...nat.bytes(2)]).toEqual([198, 51, 100, 1]);
    const ports = nat.nested(3, 2);
    expect([ports.be16(1), ports.be16(2)]).toEqual([61000, 61000]);
    expect(attributes(message).has(13)).toBe(false);
  });

  it('asks for liberal window tracking, keeps window scaling, never sets EXPECTED', () => {
    const message = buildCreate({ ...masqueraded, status: masqueraded.status | 0x1 });
    const tcp = attributes(message).nested(4, 3).nested(1, 5);
    expect([...tcp.bytes(4)]).toEqual([0x23 | 0x08, 0xff]);
    expect([tcp.u8(1), tcp.u8(2), tcp.u8(3)]).toEqual([3, 7, 9]);
    expect(attributes(message).be32(3) & 0x1).toBe(0);
  });

  it('puts a DNAT binding in CTA_NAT_DST', () => {
    const dnat = {
      ...udp,
      reply: { ...udp.reply, source: '10.2.0.5', sourcePort: 5353 },
      status: udp.status | 0x20,
    };
    const nat = attributes(buildCreate(dnat)).nested(13, 5);
    expect([...nat.bytes(1)]).toEqual([10, 2, 0, 5]);
    expect(nat.nested(3, 2).be16(1)).toBe(5353);
  });

  it('updates an existing flow without NAT or status, which the kernel fixes at creation', () => {
    const update = attributes(buildUpdate(masqueraded));
    expect([1, 2, 3, 6, 13].map((type) => update.has(type))).toEqual([true, false, false, false, false]);
    expect(update.be32(7)).toBe(431999);
  });

  it('refuses a message that is not conntrack', () => {
    expect(() => decodeConntrackMessage(Buffer.from([7, 0, 0, 0]))).toThrow(/address family 7/);
    expect(() => decodeConntrackMessage(Buffer.from([2, 0, 0, 0, 8, 0, 1, 0]))).toThrow(/malformed netlink attribute|missing/);
  });
});
