// The frames that tell a segment an address has moved: gratuitous ARP (RFC 5227
// announcement / RFC 2002 reply form) and unsolicited neighbour advertisements
// (RFC 4861 §7.2.6). Pure byte builders; the packet socket only sends them.
import { ipBytes } from '../lib/address.js';

const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]);
const ALL_NODES = ipBytes('ff02::1');

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
const ARP_HARDWARE_ETHERNET = 1;
const ARP_REQUEST = 1;
const ARP_REPLY = 2;
const IPPROTO_ICMPV6 = 58;
const ICMPV6_NEIGHBOUR_ADVERTISEMENT = 136;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_OVERRIDE = 0x20;
const ND_OPTION_TARGET_LINK_ADDRESS = 2;
/** Shorter frames are padded by the sender; veth does not, some switches drop runts. */
const MIN_FRAME = 60;

/** `request`: who-has VIP tell VIP (RFC 5227 announcement). `reply`: VIP is-at MAC. */
export type ArpForm = 'request' | 'reply';

function ethernet(destination: Buffer, source: Buffer, etherType: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(14);
  destination.copy(header, 0);
  source.copy(header, 6);
  header.writeUInt16BE(etherType, 12);
  const frame = Buffer.concat([header, payload]);
  return frame.length >= MIN_FRAME ? frame : Buffer.concat([frame, Buffer.alloc(MIN_FRAME - frame.length)]);
}

/** A broadcast gratuitous ARP for an IPv4 `address` owned by `mac`. */
export function gratuitousArp(mac: Buffer, address: string, form: ArpForm): Buffer {
  const ip = ipBytes(address);
  if (ip.length !== 4) throw new Error(`gratuitous ARP needs an IPv4 address, got ${address}`);
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(ARP_HARDWARE_ETHERNET, 0);
  arp.writeUInt16BE(ETHERTYPE_IPV4, 2);
  arp.writeUInt8(6, 4);
  arp.writeUInt8(4, 5);
  arp.writeUInt16BE(form === 'request' ? ARP_REQUEST : ARP_REPLY, 6);
  mac.copy(arp, 8);
  ip.copy(arp, 14);
  // target hardware address: unknown (zero) in a request, our own in the reply form
  if (form === 'reply') mac.copy(arp, 18);
  ip.copy(arp, 24);
  return ethernet(BROADCAST_MAC, mac, ETHERTYPE_ARP, arp);
}

/**
 * An unsolicited neighbour advertisement to all nodes for an IPv6 `address` owned by
 * `mac`, with the override flag so receivers replace a cached link-layer address.
 * `router` keeps the router flag for addresses that serve as a gateway: a receiver
 * seeing it cleared would stop treating the address as a router.
 */
export function unsolicitedNeighbourAdvertisement(mac: Buffer, address: string, router = false): Buffer {
  const target = ipBytes(address);
  if (target.length !== 16) throw new Error(`a neighbour advertisement needs an IPv6 address, got ${address}`);
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(ICMPV6_NEIGHBOUR_ADVERTISEMENT, 0);
  icmp.writeUInt8(NA_FLAG_OVERRIDE | (router ? NA_FLAG_ROUTER : 0), 4);
  target.copy(icmp, 8);
  icmp.writeUInt8(ND_OPTION_TARGET_LINK_ADDRESS, 24);
  icmp.writeUInt8(1, 25); // option length in units of 8 octets
  mac.copy(icmp, 26);
  icmp.writeUInt16BE(icmpv6Checksum(target, ALL_NODES, icmp), 2);

  const ipv6 = Buffer.alloc(40);
  ipv6.writeUInt32BE(6 << 28, 0);
  ipv6.writeUInt16BE(icmp.length, 4);
  ipv6.writeUInt8(IPPROTO_ICMPV6, 6);
  ipv6.writeUInt8(255, 7); // RFC 4861: receivers drop neighbour discovery with any other hop limit
  target.copy(ipv6, 8);
  ALL_NODES.copy(ipv6, 24);
  return ethernet(ALL_NODES_MAC, mac, ETHERTYPE_IPV6, Buffer.concat([ipv6, icmp]));
}

/** RFC 4443 §2.3: the one's complement sum over the pseudo-header and the message. */
export function icmpv6Checksum(source: Buffer, destination: Buffer, message: Buffer): number {
  const pseudo = Buffer.alloc(40);
  source.copy(pseudo, 0);
  destination.copy(pseudo, 16);
  pseudo.writeUInt32BE(message.length, 32);
  pseudo.writeUInt8(IPPROTO_ICMPV6, 39);
  let sum = 0;
  for (const part of [pseudo, message]) {
    for (let i = 0; i < part.length; i += 2) sum += ((part[i] ?? 0) << 8) + (part[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
