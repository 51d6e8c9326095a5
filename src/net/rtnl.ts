// What tandem reads from rtnetlink, reduced to the few fields it decides on. The
// `netlink` package parses the messages; these helpers only pick fields.
import { endianness } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { RtNetlinkSocket } from 'netlink';
import { createRtNetlink, rt } from 'netlink';
import { NLMSG_HEADER, readHostS32, readHostU16, readHostU32 } from '../lib/netlink-attributes.js';
import { NetlinkChannel, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from '../lib/netlink-channel.js';

export type { RtNetlinkSocket };

export const AF_INET = 2;
export const AF_INET6 = 10;

export interface HostLink {
  index: number;
  name: string;
  /** Hardware address; set only for Ethernet links that do ARP / neighbour discovery. */
  mac?: Buffer;
  /** Administratively up (IFF_UP). */
  adminUp: boolean;
  /** Operationally up (IFF_RUNNING: carrier present, lower layers up). */
  running: boolean;
}

export interface HostAddress {
  index: number;
  /** Network-order bytes of the local address. */
  bytes: Buffer;
  prefix: number;
  /** IPv4 label (`eth0:1`); IPv6 addresses have none. */
  label?: string;
  secondary: boolean;
}

/** A socket for requests only: it lets the process exit when nothing is pending. */
export function openRtnetlink(): RtNetlinkSocket {
  return createRtNetlink();
}

export function hostLink(message: rt.LinkMessage): HostLink | undefined {
  const { data, attrs } = message;
  if (data.index === undefined || attrs.ifname === undefined) return undefined;
  const flags = data.flags ?? {};
  const ethernet = data.type === rt.LinkType.ETHER || data.type === 'ETHER';
  return linkOf(data.index, attrs.ifname, ethernet && !flags.noarp, attrs.address, flags.up === true, flags.running === true);
}

function linkOf(index: number, name: string, arp: boolean, address: Buffer | undefined, adminUp: boolean, running: boolean): HostLink {
  return { index, name, ...(arp && address?.length === 6 ? { mac: address } : {}), adminUp, running };
}

// The messages of a dump of links and addresses, read in place: the netlink package's
// parser decodes every attribute (statistics, nested tables) and took several times the
// kernel's time for the dump, more on the first takeover of a process.
const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFF_NOARP = 0x80;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFINFOMSG = 16;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;
const IFA_F_SECONDARY = 0x1;
const IFADDRMSG = 8;
const NLA_TYPE_MASK = 0x3fff;

/** Calls `each` with the type, start and end of every attribute between `start` and `end`. */
function forEachAttribute(buffer: Buffer, start: number, end: number, each: (type: number, from: number, to: number) => void): void {
  let at = start;
  while (at + 4 <= end) {
    const length = readHostU16(buffer, at);
    if (length < 4 || at + length > end) return;
    each(readHostU16(buffer, at + 2) & NLA_TYPE_MASK, at + 4, at + length);
    at += (length + 3) & ~3;
  }
}

/** A NUL-terminated string attribute. */
function text(buffer: Buffer, from: number, to: number): string {
  const nul = buffer.indexOf(0, from);
  return buffer.toString('utf8', from, nul >= 0 && nul < to ? nul : to);
}

/** An RTM_NEWLINK message (struct ifinfomsg, then attributes) between `start` and `end`. */
export function linkIn(buffer: Buffer, start: number, end: number): HostLink | undefined {
  if (end - start < IFINFOMSG) return undefined;
  const type = readHostU16(buffer, start + 2);
  const flags = readHostU32(buffer, start + 8);
  let name: string | undefined;
  let address: Buffer | undefined;
  forEachAttribute(buffer, start + IFINFOMSG, end, (attribute, from, to) => {
    if (attribute === IFLA_IFNAME) name = text(buffer, from, to);
    else if (attribute === IFLA_ADDRESS) address = Buffer.from(buffer.subarray(from, to));
  });
  if (name === undefined) return undefined;
  const arp = type === ARPHRD_ETHER && (flags & IFF_NOARP) === 0;
  return linkOf(readHostS32(buffer, start + 4), name, arp, address, (flags & IFF_UP) !== 0, (flags & IFF_RUNNING) !== 0);
}

/** An RTM_NEWADDR message (struct ifaddrmsg, then attributes) between `start` and `end`. */
export function addressIn(buffer: Buffer, start: number, end: number): HostAddress | undefined {
  if (end - start < IFADDRMSG) return undefined;
  const family = buffer.readUInt8(start);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  let flags = buffer.readUInt8(start + 2);
  let local: Buffer | undefined;
  let address: Buffer | undefined;
  let label: string | undefined;
  forEachAttribute(buffer, start + IFADDRMSG, end, (attribute, from, to) => {
    if (attribute === IFA_LOCAL) local = Buffer.from(buffer.subarray(from, to));
    else if (attribute === IFA_ADDRESS) address = Buffer.from(buffer.subarray(from, to));
    else if (attribute === IFA_LABEL) label = text(buffer, from, to);
    else if (attribute === IFA_FLAGS && to - from >= 4) flags = readHostU32(buffer, from);
  });
  // IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links)
  const bytes = local ?? address;
  if (!bytes) return undefined;
  return {
    index: readHostU32(buffer, start + 4),
    bytes,
    prefix: buffer.readUInt8(start + 1),
    ...(label !== undefined ? { label } : {}),
    secondary: (flags & IFA_F_SECONDARY) !== 0,
  };
}

/** The errno name in an rtnetlink rejection (`Request rejected: EEXIST`), if any. */
export function netlinkErrorCode(error: unknown): string | undefined {
  return /Request rejected: (\w+)/.exec(error instanceof Error ? error.message : String(error))?.[1];
}

const NETLINK_ROUTE = 0;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const IFA_F_NODAD = 0x2;
const littleEndian = endianness() === 'LE';

/** An address as rtnetlink's RTM_NEWADDR and RTM_DELADDR name it. */
export interface AddressRequest {
  family: typeof AF_INET | typeof AF_INET6;
  index: number;
  prefix: number;
  bytes: Buffer;
  /** IPv4 only. */
  label?: string;
}

/** A request the kernel refused, by its errno name (EEXIST…). */
export class RtnetlinkError extends Error {
  override readonly name = 'RtnetlinkError';
  constructor(readonly code: string) {
    super(`Request rejected: ${code}`);
  }
}

/**
 * The address requests of a takeover over tandem's netlink addon: the kernel handles an
 * rtnetlink request inside sendmsg, so each call returns with its answer, and a claim
 * adds an address and announces it without a turn of the event loop in between (the
 * netlink package's socket took one per request, up to milliseconds each on a busy host).
 */
export class AddressNetlink {
  private readonly channel = new NetlinkChannel({ protocol: NETLINK_ROUTE, familyHeader: 0, timeout: 5000 });

  /** The host's links and addresses, in one call (two dumps, one after the other). */
  readHost(): { links: HostLink[]; addresses: HostAddress[] } {
    const links: HostLink[] = [];
    const addresses: HostAddress[] = [];
    const first = this.channel.reserve(2);
    const port = this.channel.port;
    const dumps = Buffer.concat([
      message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, first, port, Buffer.alloc(IFINFOMSG)),
      message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, first + 1, port, Buffer.alloc(IFADDRMSG)),
    ]);
    const failures: string[] = [];
    const failed = (errno: number) => {
      if (errno > 0) failures.push(errnoName(errno));
    };
    this.channel.runEachNow(dumps, {
      first,
      last: first + 1,
      reply: (buffer, start, end, seq) => {
        if (seq === first) {
          const link = linkIn(buffer, start, end);
          if (link) links.push(link);
        } else {
          const address = addressIn(buffer, start, end);
          if (address) addresses.push(address);
        }
      },
      status: (_, errno) => failed(errno),
      done: failed,
    });
    if (failures.length > 0) throw new RtnetlinkError(failures.join(', '));
    return { links, addresses };
  }

  /** Adds the address (never replacing one there); throws an RtnetlinkError when the kernel refuses. */
  add(address: AddressRequest): void {
    const attributes: Attribute[] =
      address.family === AF_INET
        ? [
            [IFA_LOCAL, address.bytes],
            [IFA_ADDRESS, address.bytes],
            ...(address.label !== undefined ? [[IFA_LABEL, cString(address.label)] as Attribute] : []),
          ]
        : // no duplicate address detection: the address must serve at once, and the peer that held it a moment ago would make DAD fail
          [
            [IFA_ADDRESS, address.bytes],
            [IFA_FLAGS, u32(IFA_F_NODAD)],
          ];
    this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, address, attributes);
  }

  /** Removes the address; throws an RtnetlinkError when the kernel refuses. */
  remove(address: AddressRequest): void {
    const attributes: Attribute[] =
      address.family === AF_INET
        ? [
            [IFA_LOCAL, address.bytes],
            [IFA_ADDRESS, address.bytes],
          ]
        : [[IFA_ADDRESS, address.bytes]];
    this.request(RTM_DELADDR, 0, address, attributes);
  }

  close(): void {
    this.channel.close();
  }

  private request(type: number, flags: number, address: AddressRequest, attributes: Attribute[]): void {
    const seq = this.channel.reserve(1);
    const header = Buffer.alloc(IFADDRMSG);
    header.writeUInt8(address.family, 0);
    header.writeUInt8(address.prefix, 1);
    writeHostU32(header, address.index, 4);
    let refused = 0;
    const answered = (errno: number) => (refused = errno);
    this.channel.runNow(message(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, this.channel.port, header, attributes), {
      first: seq,
      last: seq,
      reply: () => undefined,
      status: (_, errno) => answered(errno),
      done: answered,
    });
    if (refused > 0) throw new RtnetlinkError(errnoName(refused));
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

/** An attribute's type and value. */
type Attribute = [number, Buffer];

const cString = (value: string): Buffer => Buffer.from(`${value}\0`);

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  writeHostU32(buffer, value, 0);
  return buffer;
}

function writeHostU32(buffer: Buffer, value: number, at: number): void {
  if (littleEndian) buffer.writeUInt32LE(value, at);
  else buffer.writeUInt32BE(value, at);
}

function writeHostU16(buffer: Buffer, value: number, at: number): void {
  if (littleEndian) buffer.writeUInt16LE(value, at);
  else buffer.writeUInt16BE(value, at);
}

/** struct nlmsghdr, the family's header (ifinfomsg, ifaddrmsg), then the attributes, each padded to 4 bytes. */
function message(type: number, flags: number, seq: number, port: number, familyHeader: Buffer, attributes: Attribute[] = []): Buffer {
  const align = (n: number) => (n + 3) & ~3;
  const length = attributes.reduce((sum, [, value]) => sum + align(4 + value.length), NLMSG_HEADER + familyHeader.length);
  const buffer = Buffer.alloc(length);
  writeHostU32(buffer, length, 0);
  writeHostU16(buffer, type, 4);
  writeHostU16(buffer, flags, 6);
  writeHostU32(buffer, seq, 8);
  writeHostU32(buffer, port, 12);
  familyHeader.copy(buffer, NLMSG_HEADER);
  let at = NLMSG_HEADER + familyHeader.length;
  for (const [attribute, value] of attributes) {
    writeHostU16(buffer, 4 + value.length, at);
    writeHostU16(buffer, attribute, at + 2);
    value.copy(buffer, at + 4);
    at += align(4 + value.length);
  }
  return buffer;
}
