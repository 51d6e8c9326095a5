// The pure parts of the IPVS table: the kernel's sync protocol v1 (records and
// messages), /proc/net/ip_vs_conn, /proc/net/udp and the kernel knobs.
import { describe, expect, it } from 'vitest';
import { ipvsKernelSyncDefaults } from '../../../src/config/index.js';
import { ConnFlag, connectionKey, describeConnection, type IpvsConnection } from '../../../src/sync/ipvs/connection.js';
import { forwardingLookup, parseProcLine, toConnection } from '../../../src/sync/ipvs/proc.js';
import { kernelSyncSettings } from '../../../src/sync/ipvs/settings.js';
import { decodeRecord, encodeRecord, packMessages, parseMessage, SyncMessageError } from '../../../src/sync/ipvs/sync-message.js';
import { udpSocketStats } from '../../../src/sync/ipvs/udp-stats.js';
import { realServer, virtualService } from '../../support/ipvs-models.js';
import { desiredTable } from '../../../src/ipvs/index.js';
import { model } from '../../support/ipvs-models.js';

const established: IpvsConnection = {
  family: 4,
  protocol: 6,
  flags: ConnFlag.masquerade,
  state: 1,
  client: { address: '192.0.2.50', port: 40000 },
  virtual: { address: '192.0.2.100', port: 80 },
  destination: { address: '198.51.100.11', port: 80 },
  fwmark: 0,
  timeoutSeconds: 900,
};

const ipv6: IpvsConnection = {
  ...established,
  family: 6,
  protocol: 17,
  flags: ConnFlag.directRoute | ConnFlag.inactive,
  state: 0,
  client: { address: '2001:db8::50', port: 5353 },
  virtual: { address: '2001:db8::100', port: 53 },
  destination: { address: '2001:db8:1::11', port: 53 },
  timeoutSeconds: 300,
  sequence: Uint8Array.from({ length: 24 }, (_, i) => i),
  persistence: { engine: 'sip', data: Uint8Array.from(Buffer.from('call-id-1')) },
};

describe('sync protocol v1 records', () => {
  it('encodes a TCP/IPv4 connection as the kernel lays it out, and decodes it back', () => {
    const record = encodeRecord(established);
    expect(record.toString('hex')).toBe(
      '00' +
        '06' +
        '0024' +
        '00000000' +
        '0001' +
        '9c40' +
        '0050' +
        '0050' +
        '00000000' +
        '00000384' +
        'c0000232' +
        'c0000264' +
        'c633640b',
    );
    expect(decodeRecord(record)).toEqual(established);
  });

  it('carries IPv6, the sequence option and persistence engine data', () => {
    const record = encodeRecord(ipv6);
    expect(record.length).toBe(24 + 48 + 26 + 2 + 9 + 2 + 3);
    expect(decodeRecord(record)).toEqual(ipv6);
  });

  it('throws a clear error on malformed bytes', () => {
    const record = encodeRecord(established);
    const broken = (edit: (bytes: Buffer) => Buffer) => () => decodeRecord(edit(Buffer.from(record)));
    expect(broken((b) => b.subarray(0, 20))).toThrow(/needs 24 bytes, 20 left/);
    expect(broken((b) => Buffer.concat([b, Buffer.alloc(2)]))).toThrow(/2 byte\(s\) after the sync record/);
    expect(broken((b) => (b.writeUInt8(4, 0), b))).toThrow(/unknown sync record type 4/);
    expect(broken((b) => (b.writeUInt16BE(0x1024, 2), b))).toThrow(/unknown sync record version 1/);
    expect(broken((b) => (b.writeUInt16BE(0x30, 2), b))).toThrow(/runs past the end/);
    expect(broken((b) => (b.writeUInt8(1, 1), b))).toThrow(/unsupported protocol 1/);
    expect(broken((b) => (b.writeUInt16BE(11, 8), b))).toThrow(/state 11 is out of range/);
    expect(broken((b) => (b.writeUInt32BE(0x10000, 4), b))).toThrow(/flags 0x10000 beyond a backup's/);
    const withOption = (option: number[]) => {
      const bytes = Buffer.concat([record, Buffer.from(option)]);
      bytes.writeUInt16BE(bytes.length, 2);
      return () => decodeRecord(bytes);
    };
    expect(withOption([9, 1, 0])).toThrow(/unknown mandatory sync record option 9/);
    expect(withOption([1, 3, 0, 0, 0])).toThrow(/bad or repeated sequence option/);
    expect(withOption([2, 0])).toThrow(/bad length 0/);
    expect(withOption([2, 1, 7])).toThrow(/persistence data without its engine name/);
    expect(withOption([9 | 64, 1, 0])).not.toThrow();
    expect(() => decodeRecord(Buffer.alloc(0))).toThrow(SyncMessageError);
  });
});

describe('sync messages', () => {
  it('packs at most 255 records per message, aligned, within the length; parses them back', () => {
    const many = Array.from({ length: 600 }, (_, i) => ({ ...established, client: { address: '192.0.2.50', port: 1000 + i } }));
    const messages = packMessages([ipv6, ...many], 7, 16384);
    expect(messages.map((m) => parseMessage(m).connections.length)).toEqual([255, 255, 91]);
    expect(messages.every((m) => m.length <= 16384 && m.readUInt16BE(2) === m.length && m[1] === 7 && m[5] === 1)).toBe(true);
    const parsed = messages.flatMap((m) => parseMessage(m).connections);
    expect(parsed).toEqual([ipv6, ...many]);
    // the IPv6 record (114 bytes) is padded to 116 before the next one
    expect(messages[0]!.readUInt8(8 + 116 + 1)).toBe(6);
    expect(packMessages(many.slice(0, 100), 0, 1500).map((m) => m.length)).toEqual([8 + 41 * 36, 8 + 41 * 36, 8 + 18 * 36]);
  });

  it('keeps only the flags a backup keeps from a master message; refuses version 0 and bad sizes', () => {
    const [message] = packMessages([established], 0, 1500);
    message!.writeUInt32BE(ConnFlag.sync | 0x10000 | ConnFlag.inactive, 8 + 4);
    expect(parseMessage(message!).connections[0]!.flags).toBe(ConnFlag.inactive);
    const v0 = Buffer.from(message!);
    v0.writeUInt8(1, 0);
    expect(() => parseMessage(v0)).toThrow(/not a version 1 sync message/);
    expect(() => parseMessage(message!.subarray(0, 20))).toThrow(/says 44 bytes and has 20/);
    expect(() => parseMessage(Buffer.alloc(4))).toThrow(/shorter than its header/);
  });
});

describe('/proc/net/ip_vs_conn', () => {
  const header = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData';

  it('reads IPv4 and IPv6 connections and templates; completes them from the service table', () => {
    const lines = [
      header,
      'TCP C0000232 9C40 C0000264 0050 C633640B 0050 ESTABLISHED     897',
      'UDP 2001:0db8:0000:0000:0000:0000:0000:0050 14E9 2001:0db8:0000:0000:0000:0000:0000:0100 0035 2001:0db8:0001:0000:0000:0000:0000:0011 0035 UDP             299',
      'TCP C0000232 0000 C0000264 0050 C633640B 0050 NONE            359',
      'TCP C0000233 9C41 C0000264 0050 C633640C 0050 FIN_WAIT          0',
    ];
    const parsed = lines.map((line, index) => parseProcLine(line, index + 1));
    expect(parsed[0]).toBeUndefined();
    const services = desiredTable(
      model([
        virtualService('web', '192.0.2.100/24', {
          realServers: [realServer('198.51.100.11', { forwarding: 'gate' }), realServer('198.51.100.12')],
        }),
      ]),
      { role: 'active' },
    ).services;
    const forwarding = forwardingLookup(services);
    const [, tcp, udp, template, closing] = parsed.map((entry) => entry && toConnection(entry, forwarding));
    expect(tcp).toEqual({ ...established, flags: ConnFlag.directRoute, timeoutSeconds: 897 });
    expect(udp).toMatchObject({
      family: 6,
      protocol: 17,
      state: 0,
      flags: ConnFlag.inactive,
      client: { address: '2001:db8::50', port: 5353 },
    });
    expect(template).toMatchObject({ flags: ConnFlag.directRoute | ConnFlag.template, state: 0, timeoutSeconds: 359 });
    expect(closing).toMatchObject({ flags: ConnFlag.masquerade | ConnFlag.inactive, state: 4, timeoutSeconds: 1 });
    expect(connectionKey(template!)).toBe('tpl/192.0.2.50:0>192.0.2.100:80');
    expect(describeConnection(tcp!)).toBe('TCP 192.0.2.50:40000 -> 192.0.2.100:80 -> 198.51.100.11:80 ESTABLISHED');
  });

  it('names the line of anything unexpected', () => {
    expect(() => parseProcLine('ICMP C0000232 9C40 C0000264 0050 C633640B 0050 NONE 1', 7)).toThrow(
      /^\/proc\/net\/ip_vs_conn line 7: unknown protocol ICMP/,
    );
    expect(() => parseProcLine('TCP C00002 9C40 C0000264 0050 C633640B 0050 NONE 1', 2)).toThrow(/bad address C00002/);
    expect(() => parseProcLine('TCP C0000232 9C40 C0000264 0050 C633640B 0050 SLEEPING 1', 2)).toThrow(/unknown state SLEEPING/);
  });
});

describe('/proc/net/udp and the knobs', () => {
  it("finds a socket's receive queue and drops by its bound address and port", () => {
    const text = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      ' 1043: 4E54FFEF:22B2 00000000:0000 07 00000000:00002400 00:00000000 00000000     0        0 0 2 0000000000000000 3',
      ' 1044: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0',
    ].join('\n');
    expect(udpSocketStats(text, '239.255.84.78', 8882)).toEqual({ receiveQueue: 0x2400, drops: 3 });
    expect(udpSocketStats(text, '239.255.84.78', 8850)).toBeUndefined();
  });

  it('sets the defaults: version 1, sent on state changes and every 10 s at most, every connection', () => {
    expect(kernelSyncSettings(ipvsKernelSyncDefaults())).toEqual([
      ['sync_version', '1'],
      ['sync_threshold', '3 0'],
      ['sync_refresh_period', '10'],
      ['sync_retries', '0'],
      ['sync_persist_mode', '0'],
      ['sync_ports', '1'],
    ]);
    expect(kernelSyncSettings({ ...ipvsKernelSyncDefaults(), queueLimit: 4096, socketSize: 1 << 20, ports: 4 }).slice(5)).toEqual([
      ['sync_qlen_max', '4096'],
      ['sync_sock_size', '1048576'],
      ['sync_ports', '4'],
    ]);
  });
});
