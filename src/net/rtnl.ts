// What tandem reads from rtnetlink, reduced to the few fields it decides on. The
// `netlink` package parses the messages; these helpers only pick fields.
import type { RtNetlinkSocket } from 'netlink';
import { createRtNetlink, rt } from 'netlink';

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
  const ethernet = (data.type === rt.LinkType.ETHER || data.type === 'ETHER') && !flags.noarp;
  return {
    index: data.index,
    name: attrs.ifname,
    ...(ethernet && attrs.address?.length === 6 ? { mac: attrs.address } : {}),
    adminUp: flags.up === true,
    running: flags.running === true,
  };
}

export function hostAddress(message: rt.AddressMessage): HostAddress | undefined {
  const { data, attrs } = message;
  // IPv4 keeps the local address in IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links)
  const bytes = attrs.local ?? attrs.address;
  if (data.index === undefined || data.prefixlen === undefined || !bytes) return undefined;
  if (data.family !== AF_INET && data.family !== AF_INET6) return undefined;
  const flags = attrs.flags ?? data.flags ?? {};
  return {
    index: data.index,
    bytes,
    prefix: data.prefixlen,
    ...(attrs.label !== undefined ? { label: attrs.label } : {}),
    secondary: flags.secondary === true,
  };
}

/** The errno name in an rtnetlink rejection (`Request rejected: EEXIST`), if any. */
export function netlinkErrorCode(error: unknown): string | undefined {
  return /Request rejected: (\w+)/.exec(error instanceof Error ? error.message : String(error))?.[1];
}
