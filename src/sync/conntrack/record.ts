// The sync's record of one conntrack entry: a fixed binary layout (47 bytes for an IPv4
// TCP flow), big endian, its length fixed by the flags byte so a record is checked whole.
//
//   0 version (1)   1 flags (ipv6, icmp, tcp)   2 protocol   3 zero
//   4 status u32    8 timeout s u32   12 mark u32   16 zone u16
//  18 original tuple, then reply tuple: source, destination (4 or 16 bytes each),
//     then two u16: the ports, or for ICMP the identifier and type << 8 | code
//     then for TCP: state, window scale original, reply, flags original, reply (u8 each)
import { formatIp, ipBytes, type IpFamily } from '../../lib/address.js';
import type { ConntrackEntry, ConntrackTuple, TcpState } from './entry.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, TCP_CONNTRACK_MAX } from './uapi.js';

const VERSION = 1;
const Flag = { ipv6: 1, icmp: 2, tcp: 4 } as const;
const HEADER = 18;
const TCP_LENGTH = 5;

function recordLength(family: IpFamily, tcp: boolean): number {
  const address = family === 4 ? 4 : 16;
  return HEADER + 2 * (2 * address + 4) + (tcp ? TCP_LENGTH : 0);
}

export function isIcmp(family: IpFamily, protocol: number): boolean {
  return protocol === (family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
}

export function encodeConntrack(entry: ConntrackEntry): Uint8Array {
  const icmp = isIcmp(entry.family, entry.protocol);
  const out = Buffer.alloc(recordLength(entry.family, entry.tcp !== undefined));
  out.writeUInt8(VERSION, 0);
  out.writeUInt8((entry.family === 6 ? Flag.ipv6 : 0) | (icmp ? Flag.icmp : 0) | (entry.tcp ? Flag.tcp : 0), 1);
  out.writeUInt8(entry.protocol, 2);
  out.writeUInt32BE(entry.status >>> 0, 4);
  out.writeUInt32BE(entry.timeoutSeconds >>> 0, 8);
  out.writeUInt32BE(entry.mark >>> 0, 12);
  out.writeUInt16BE(entry.zone, 16);
  let at = writeTuple(out, HEADER, entry.original, entry.family, icmp);
  at = writeTuple(out, at, entry.reply, entry.family, icmp);
  if (entry.tcp) {
    const { state, windowScaleOriginal, windowScaleReply, flagsOriginal, flagsReply } = entry.tcp;
    for (const value of [state, windowScaleOriginal, windowScaleReply, flagsOriginal, flagsReply]) out.writeUInt8(value, at++);
  }
  return out;
}

function writeTuple(out: Buffer, at: number, tuple: ConntrackTuple, family: IpFamily, icmp: boolean): number {
  const size = family === 4 ? 4 : 16;
  for (const address of [tuple.source, tuple.destination]) {
    const bytes = ipBytes(address);
    if (bytes.length !== size) throw new Error(`conntrack entry of IPv${family} has the address ${address}`);
    out.set(bytes, at);
    at += size;
  }
  if (icmp) {
    const { id = 0, type = 0, code = 0 } = tuple.icmp ?? {};
    out.writeUInt16BE(id, at);
    out.writeUInt16BE((type << 8) | code, at + 2);
  } else {
    out.writeUInt16BE(tuple.sourcePort, at);
    out.writeUInt16BE(tuple.destinationPort, at + 2);
  }
  return at + 4;
}

/** Throws a ConntrackRecordError naming what is wrong; never anything else. */
export function decodeConntrack(bytes: Uint8Array): ConntrackEntry {
  const record = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (record.length < HEADER) throw new ConntrackRecordError(`${record.length} bytes, shorter than the ${HEADER}-byte header`);
  const version = record.readUInt8(0);
  if (version !== VERSION) throw new ConntrackRecordError(`version ${version}, expected ${VERSION}`);
  const flags = record.readUInt8(1);
  if ((flags & ~(Flag.ipv6 | Flag.icmp | Flag.tcp)) !== 0 || record.readUInt8(3) !== 0) {
    throw new ConntrackRecordError(`unknown flags 0x${flags.toString(16)}`);
  }
  const family: IpFamily = flags & Flag.ipv6 ? 6 : 4;
  const protocol = record.readUInt8(2);
  const icmp = (flags & Flag.icmp) !== 0;
  const hasTcp = (flags & Flag.tcp) !== 0;
  if (icmp !== isIcmp(family, protocol)) throw new ConntrackRecordError(`the ICMP flag disagrees with protocol ${protocol}`);
  if (hasTcp && protocol !== IPPROTO_TCP) throw new ConntrackRecordError(`TCP state on protocol ${protocol}`);
  const expected = recordLength(family, hasTcp);
  if (record.length !== expected) throw new ConntrackRecordError(`${record.length} bytes, expected ${expected}`);
  const original = readTuple(record, HEADER, family, icmp);
  const reply = readTuple(record, original.next, family, icmp);
  let tcp: TcpState | undefined;
  if (hasTcp) {
    const at = reply.next;
    tcp = {
      state: record.readUInt8(at),
      windowScaleOriginal: record.readUInt8(at + 1),
      windowScaleReply: record.readUInt8(at + 2),
      flagsOriginal: record.readUInt8(at + 3),
      flagsReply: record.readUInt8(at + 4),
    };
    if (tcp.state >= TCP_CONNTRACK_MAX) throw new ConntrackRecordError(`TCP state ${tcp.state} is not a state`);
  }
  return {
    family,
    protocol,
    original: original.tuple,
    reply: reply.tuple,
    status: record.readUInt32BE(4),
    timeoutSeconds: record.readUInt32BE(8),
    mark: record.readUInt32BE(12),
    zone: record.readUInt16BE(16),
    ...(tcp && { tcp }),
  };
}

function readTuple(record: Buffer, at: number, family: IpFamily, icmp: boolean): { tuple: ConntrackTuple; next: number } {
  const size = family === 4 ? 4 : 16;
  const source = formatIp(record.subarray(at, at + size), family);
  const destination = formatIp(record.subarray(at + size, at + 2 * size), family);
  const first = record.readUInt16BE(at + 2 * size);
  const second = record.readUInt16BE(at + 2 * size + 2);
  const tuple: ConntrackTuple = icmp
    ? { source, destination, sourcePort: 0, destinationPort: 0, icmp: { id: first, type: second >> 8, code: second & 0xff } }
    : { source, destination, sourcePort: first, destinationPort: second };
  return { tuple, next: at + 2 * size + 4 };
}

export class ConntrackRecordError extends Error {
  constructor(problem: string) {
    super(`malformed conntrack record: ${problem}`);
    this.name = 'ConntrackRecordError';
  }
}
