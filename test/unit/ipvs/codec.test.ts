import { describe, expect, it } from 'vitest';
import { decodeDaemon, decodeDestination, decodeService, putDaemon, putDestination, putService } from '../../../src/ipvs/genl/codec.js';
import type { IpvsDestination, IpvsService } from '../../../src/ipvs/table.js';
import { AttributeReader, AttributeWriter } from '../../../src/lib/netlink-attributes.js';

// Netlink attributes written by hand (host order is little-endian on the machines
// tandem runs on), independent of the encoder under test.
function attr(type: number, data: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16LE(4 + data.length, 0);
  header.writeUInt16LE(type, 2);
  const padding = Buffer.alloc((4 - (data.length % 4)) % 4);
  return Buffer.concat([header, data, padding]);
}
const u16 = (v: number) => Buffer.from([v & 0xff, v >> 8]);
const u16be = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const inet = (...bytes: number[]) => Buffer.concat([Buffer.from(bytes), Buffer.alloc(16 - bytes.length)]);

function encoded(build: (out: AttributeWriter) => void): Buffer {
  const out = new AttributeWriter();
  build(out);
  return out.toBuffer();
}

const service: IpvsService = {
  family: 4,
  protocol: 'tcp',
  address: '192.0.2.10',
  port: 80,
  fwmark: 0,
  scheduler: 'wlc',
  persistence: { timeout: 600, netmask: '255.255.255.0' },
  onePacket: false,
  schedulerFlags: 0,
  destinations: [],
};

describe('IPVS attribute encoding (uapi linux/ip_vs.h)', () => {
  it('identifies a service by family, protocol, 16-byte address and big-endian port', () => {
    expect(encoded((out) => putService(out, service, false))).toEqual(
      attr(1, Buffer.concat([attr(1, u16(2)), attr(2, u16(6)), attr(3, inet(192, 0, 2, 10)), attr(4, u16be(80))])),
    );
  });

  it('adds scheduler, flags with a full mask, timeout and the IPv4 netmask in network order', () => {
    const full = encoded((out) => putService(out, service, true));
    const tail = Buffer.concat([
      attr(6, Buffer.from('wlc\0')),
      attr(7, Buffer.concat([u32(1), u32(0xffffffff)])),
      attr(8, u32(600)),
      attr(9, Buffer.from([255, 255, 255, 0])),
    ]);
    expect(full.subarray(full.length - tail.length)).toEqual(tail);
  });

  it('identifies a firewall-mark service by family and mark; IPv6 netmasks are prefix lengths', () => {
    const fwmark: IpvsService = { ...service, family: 6, address: '::', port: 0, fwmark: 80, persistence: { timeout: 30, netmask: '64' } };
    const bytes = encoded((out) => putService(out, fwmark, true));
    expect(bytes.subarray(4, 20)).toEqual(Buffer.concat([attr(1, u16(10)), attr(5, u32(80))]));
    expect(bytes.subarray(bytes.length - 8)).toEqual(attr(9, u32(64)));
  });

  it('describes a destination with family, address, port, forwarding, weight and thresholds', () => {
    const destination: IpvsDestination = {
      family: 4,
      address: '198.51.100.2',
      port: 8080,
      forwarding: 'gate',
      weight: 5,
      upperThreshold: 100,
      lowerThreshold: 10,
    };
    expect(encoded((out) => putDestination(out, destination, true))).toEqual(
      attr(
        2,
        Buffer.concat([
          attr(11, u16(2)),
          attr(1, inet(198, 51, 100, 2)),
          attr(2, u16be(8080)),
          attr(3, u32(3)),
          attr(4, u32(5)),
          attr(5, u32(100)),
          attr(6, u32(10)),
        ]),
      ),
    );
  });

  it('adds the tunnel type, big-endian port and checksum flags of a tunnelled destination (uapi 5.3)', () => {
    const tunnelled: IpvsDestination = {
      family: 4,
      address: '198.51.100.2',
      port: 80,
      forwarding: 'ipip',
      weight: 1,
      upperThreshold: 0,
      lowerThreshold: 0,
    };
    const tail = (destination: IpvsDestination) => {
      const bytes = encoded((out) => putDestination(out, destination, true));
      return bytes.subarray(bytes.length - 3 * 8);
    };
    expect(tail({ ...tunnelled, tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'remcsum' })).toEqual(
      Buffer.concat([attr(13, Buffer.from([1])), attr(14, u16be(6080)), attr(15, u16(2))]),
    );
    expect(tail({ ...tunnelled, tunnelType: 'gre', tunnelChecksum: 'csum' })).toEqual(
      Buffer.concat([attr(13, Buffer.from([2])), attr(14, u16be(0)), attr(15, u16(1))]),
    );
    // plain IPIP says so, so that an edit from GUE back to IPIP takes
    expect(tail(tunnelled)).toEqual(Buffer.concat([attr(13, Buffer.from([0])), attr(14, u16be(0)), attr(15, u16(0))]));
  });

  it('sends the scheduler flags in the flags and the persistence engine by name', () => {
    const bytes = encoded((out) => putService(out, { ...service, scheduler: 'sh', schedulerFlags: 0x18, persistenceEngine: 'sip' }, true));
    expect(bytes.includes(attr(7, Buffer.concat([u32(0x1 | 0x18), u32(0xffffffff)])))).toBe(true);
    expect(bytes.subarray(bytes.length - 8)).toEqual(attr(11, Buffer.from('sip\0')));
    expect(encoded((out) => putService(out, service, true)).includes(attr(11, Buffer.from('sip\0')))).toBe(false);
  });

  it('refuses names the kernel would truncate', () => {
    expect(() => encoded((out) => putService(out, { ...service, scheduler: 'a-very-long-scheduler' }, true))).toThrow(
      /scheduler name .* longer than 15 bytes/,
    );
    expect(() => encoded((out) => putDaemon(out, { state: 'master', interface: 'an-interface-name', syncId: 1 }))).toThrow(
      /interface name/,
    );
  });
});

describe('IPVS attribute decoding', () => {
  it('reads a service as the kernel dumps it (flags without the hashed bit, persistence)', () => {
    const reply = attr(
      1,
      Buffer.concat([
        attr(1, u16(2)),
        attr(2, u16(17)),
        attr(3, inet(203, 0, 113, 5)),
        attr(4, u16be(53)),
        attr(6, Buffer.from('sh\0')),
        attr(7, Buffer.concat([u32(0x1 | 0x2 | 0x8), u32(0xffffffff)])),
        attr(8, u32(300)),
        attr(9, Buffer.from([255, 255, 255, 255])),
      ]),
    );
    expect(decodeService(reply)).toEqual({
      family: 4,
      fwmark: 0,
      protocol: 'udp',
      address: '203.0.113.5',
      port: 53,
      scheduler: 'sh',
      onePacket: false,
      schedulerFlags: 0x8,
      persistence: { timeout: 300, netmask: '255.255.255.255' },
      destinations: [],
    });
  });

  it('reads a destination with its connection counters and tunnel type', () => {
    const reply = attr(
      2,
      Buffer.concat([
        attr(1, inet(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10)),
        attr(2, u16be(0)),
        attr(3, u32(2)),
        attr(4, u32(3)),
        attr(5, u32(0)),
        attr(6, u32(0)),
        attr(7, u32(4)),
        attr(8, u32(5)),
        attr(9, u32(6)),
        attr(11, u16(10)),
        attr(13, Buffer.from([0])),
      ]),
    );
    expect(decodeDestination(reply, 6)).toEqual({
      family: 6,
      address: '2001:db8::10',
      port: 0,
      forwarding: 'ipip',
      weight: 3,
      upperThreshold: 0,
      lowerThreshold: 0,
      counters: { activeConnections: 4, inactiveConnections: 5, persistentConnections: 6 },
      tunnelType: 'ipip',
    });
  });

  it('reads the port and checksum flags of GUE and GRE tunnels', () => {
    const tunnel = (type: number, port: number, flags: number) =>
      attr(
        2,
        Buffer.concat([
          attr(1, inet(198, 51, 100, 2)),
          attr(2, u16be(80)),
          attr(3, u32(2)),
          attr(4, u32(1)),
          attr(11, u16(2)),
          attr(13, Buffer.from([type])),
          attr(14, u16be(port)),
          attr(15, u16(flags)),
        ]),
      );
    const settings = ({ tunnelType, tunnelPort, tunnelChecksum }: IpvsDestination) => ({ tunnelType, tunnelPort, tunnelChecksum });
    expect(settings(decodeDestination(tunnel(1, 6080, 1), 4))).toEqual({ tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'csum' });
    expect(settings(decodeDestination(tunnel(1, 6081, 2), 4))).toEqual({ tunnelType: 'gue', tunnelPort: 6081, tunnelChecksum: 'remcsum' });
    expect(settings(decodeDestination(tunnel(2, 0, 0), 4))).toEqual({ tunnelType: 'gre', tunnelPort: undefined, tunnelChecksum: 'none' });
    expect(settings(decodeDestination(tunnel(0, 0, 0), 4))).toEqual({
      tunnelType: 'ipip',
      tunnelPort: undefined,
      tunnelChecksum: undefined,
    });
  });

  it('reads the persistence engine of a service', () => {
    const reply = attr(
      1,
      Buffer.concat([
        attr(1, u16(2)),
        attr(5, u32(5060)),
        attr(6, Buffer.from('rr\0')),
        attr(7, Buffer.concat([u32(0x1 | 0x4 | 0x20), u32(0xffffffff)])),
        attr(8, u32(180)),
        attr(9, Buffer.from([255, 255, 255, 255])),
        attr(11, Buffer.from('sip\0')),
      ]),
    );
    expect(decodeService(reply)).toMatchObject({ fwmark: 5060, onePacket: true, schedulerFlags: 0x20, persistenceEngine: 'sip' });
  });

  it('reads a sync daemon', () => {
    const reply = attr(3, Buffer.concat([attr(1, u32(2)), attr(2, Buffer.from('eth1\0')), attr(3, u32(7)), attr(7, u16(8848))]));
    expect(decodeDaemon(reply)).toEqual({ state: 'backup', interface: 'eth1', syncId: 7, port: 8848 });
  });
});

describe('netlink attributes', () => {
  it('pads every value to 4 bytes and counts a nest with its members', () => {
    const out = new AttributeWriter();
    out.nest(1, () => {
      out.string(2, 'rr');
      out.u8(3, 7);
    });
    expect(out.toBuffer()).toEqual(attr(1, Buffer.concat([attr(2, Buffer.from('rr\0')), attr(3, Buffer.from([7]))])));
  });

  it('grows past its first buffer', () => {
    const out = new AttributeWriter();
    for (let i = 0; i < 100; i++) out.u32(1, i);
    const reader = new AttributeReader(out.toBuffer(), 1);
    expect(reader.u32(1)).toBe(99);
  });

  it('skips attribute types newer than it knows and rejects truncated ones', () => {
    const reader = new AttributeReader(Buffer.concat([attr(40, u32(1)), attr(2, u16(5))]), 3);
    expect([reader.has(1), reader.u16(2)]).toEqual([false, 5]);
    expect(() => reader.u32(1)).toThrow(/missing/);
    expect(() => reader.u32(2)).toThrow(/shorter than 4 bytes/);
    expect(() => new AttributeReader(attr(1, u32(1)).subarray(0, 6), 3)).toThrow(/malformed/);
  });
});

describe('AttributeWriter growth', () => {
  it('keeps every kind of value written where its buffer grows', () => {
    // 16 u32 attributes fill the first 128 bytes, so the next one makes the buffer grow
    const writers: Array<[string, (out: AttributeWriter) => void, Buffer]> = [
      ['u8', (out) => out.u8(40, 7), attr(40, Buffer.from([7]))],
      ['u16', (out) => out.u16(40, 0x1234), attr(40, u16(0x1234))],
      ['be16', (out) => out.be16(40, 0x1234), attr(40, u16be(0x1234))],
      ['u32', (out) => out.u32(40, 0x12345678), attr(40, u32(0x12345678))],
      ['string', (out) => out.string(40, 'sip'), attr(40, Buffer.from('sip\0'))],
    ];
    for (const [, write, expected] of writers) {
      const bytes = encoded((out) => {
        for (let i = 0; i < 16; i++) out.u32(1, i);
        write(out);
      });
      expect(bytes.subarray(128)).toEqual(expected);
    }
  });
});
