// What tandem reads from rtnetlink, reduced to the few fields it decides on. The
// `netlink` package parses the messages; these helpers only pick fields.
import { getSystemErrorName } from 'node:util';
import type { RtNetlinkSocket } from 'netlink';
import { createRtNetlink, rt } from 'netlink';
import { AttributeReader, AttributeWriter, NLMSG_HEADER, readHostS32, readHostU16, readHostU32 } from '../lib/netlink-attributes.js';
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

/** The attributes of a link or an address message, read in place (one reader each, reused). */
const linkAttributes = new AttributeReader(Buffer.alloc(0), IFLA_IFNAME);
const addressAttributes = new AttributeReader(Buffer.alloc(0), IFA_FLAGS);

/** A copy of an attribute's bytes: the dump's buffer is reused for the next read. */
const copyOf = (reader: AttributeReader, type: number): Buffer | undefined =>
  reader.has(type) ? Buffer.from(reader.bytes(type)) : undefined;

/** An RTM_NEWLINK message (struct ifinfomsg, then attributes) between `start` and `end`. */
function linkIn(buffer: Buffer, start: number, end: number): HostLink | undefined {
  if (end - start < IFINFOMSG) return undefined;
  const type = readHostU16(buffer, start + 2);
  const flags = readHostU32(buffer, start + 8);
  const attributes = linkAttributes.parse(buffer, start + IFINFOMSG, end);
  if (!attributes.has(IFLA_IFNAME)) return undefined;
  const arp = type === ARPHRD_ETHER && (flags & IFF_NOARP) === 0;
  const name = attributes.string(IFLA_IFNAME);
  return linkOf(
    readHostS32(buffer, start + 4),
    name,
    arp,
    copyOf(attributes, IFLA_ADDRESS),
    (flags & IFF_UP) !== 0,
    (flags & IFF_RUNNING) !== 0,
  );
}

/** An RTM_NEWADDR message (struct ifaddrmsg, then attributes) between `start` and `end`. */
function addressIn(buffer: Buffer, start: number, end: number): HostAddress | undefined {
  if (end - start < IFADDRMSG) return undefined;
  const family = buffer.readUInt8(start);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const attributes = addressAttributes.parse(buffer, start + IFADDRMSG, end);
  // IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links)
  const bytes = copyOf(attributes, IFA_LOCAL) ?? copyOf(attributes, IFA_ADDRESS);
  if (!bytes) return undefined;
  const flags = attributes.has(IFA_FLAGS) ? attributes.u32(IFA_FLAGS) : buffer.readUInt8(start + 2);
  return {
    index: readHostU32(buffer, start + 4),
    bytes,
    prefix: buffer.readUInt8(start + 1),
    ...(attributes.has(IFA_LABEL) ? { label: attributes.string(IFA_LABEL) } : {}),
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
    const dumps = new AttributeWriter(2 * NLMSG_HEADER + IFINFOMSG + IFADDRMSG);
    dumps.messageWithHeader(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, first, port, new Uint8Array(IFINFOMSG));
    dumps.messageWithHeader(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, first + 1, port, new Uint8Array(IFADDRMSG));
    const failures: string[] = [];
    const failed = (errno: number) => {
      if (errno > 0) failures.push(errnoName(errno));
    };
    this.channel.runEachNow(dumps.toBuffer(), {
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
    this.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, address, (out) => {
      if (address.family === AF_INET6) out.u32(IFA_FLAGS, IFA_F_NODAD);
      else if (address.label !== undefined) out.string(IFA_LABEL, address.label);
    });
  }

  /** Removes the address; throws an RtnetlinkError when the kernel refuses. */
  remove(address: AddressRequest): void {
    this.request(RTM_DELADDR, 0, address);
  }

  close(): void {
    this.channel.close();
  }

  /**
   * One address request, answered before it returns: IPv4 names the address as both
   * IFA_LOCAL and IFA_ADDRESS, IPv6 as IFA_ADDRESS; `more` adds what the request needs.
   * IPv6 goes without duplicate address detection (add's IFA_F_NODAD): the address must
   * serve at once, and the peer that held it a moment ago would make DAD fail.
   */
  private request(type: number, flags: number, address: AddressRequest, more?: (out: AttributeWriter) => void): void {
    const seq = this.channel.reserve(1);
    const header = new Uint8Array(IFADDRMSG);
    header[0] = address.family;
    header[1] = address.prefix;
    // ifa_index, in host byte order as a typed array has it
    header.set(new Uint8Array(Uint32Array.of(address.index).buffer), 4);
    const out = new AttributeWriter(NLMSG_HEADER + IFADDRMSG + 64);
    out.messageWithHeader(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, this.channel.port, header, () => {
      if (address.family === AF_INET) out.bytes(IFA_LOCAL, address.bytes);
      out.bytes(IFA_ADDRESS, address.bytes);
      more?.(out);
    });
    let refused = 0;
    const answered = (errno: number) => (refused = errno);
    this.channel.runNow(out.toBuffer(), {
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
