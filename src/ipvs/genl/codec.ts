// Encoding and decoding of IPVS generic netlink attributes. Pure: buffers in, values
// out, so the byte layouts are unit-tested without a kernel.
import type { IpFamily, TunnelChecksum } from '../../config/model.js';
import { ipBytes, formatIp, ipv4Netmask, ipv6PrefixLength } from '../../lib/address.js';
import {
  familyNumber,
  protocolFromNumber,
  protocolNumber,
  AF_INET6,
  type IpvsDestination,
  type IpvsForwarding,
  type IpvsService,
  type ServiceIdentity,
} from '../table.js';
import { AttributeReader, AttributeWriter } from '../../lib/netlink-attributes.js';
import {
  CommandAttr,
  DaemonAttr,
  DaemonState,
  DestAttr,
  Forward,
  IFNAME_MAX,
  InfoAttr,
  maxAttribute,
  PENAME_MAX,
  SCHEDNAME_MAX,
  ServiceAttr,
  ServiceFlag,
  TunnelFlag,
  tunnelTypes,
} from './uapi.js';

export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export type SyncDaemonState = 'master' | 'backup';

export interface SyncDaemon {
  state: SyncDaemonState;
  /** The interface the sync messages leave and arrive on. */
  interface: string;
  syncId: number;
  /** UDP payload size; the kernel picks one from the interface's MTU when absent. */
  maxLength?: number;
  /** Multicast group (default 224.0.0.81), port (default 8848) and TTL (default 1). */
  group?: string;
  port?: number;
  ttl?: number;
}

export interface IpvsInfo {
  /** `1.2.1` */
  version: string;
  connectionTableSize: number;
}

/** Addresses as bytes, parsed once: a table of 100,000 services names a few hundred
 *  addresses over and over. Emptied when it grows past a bound (the values are never
 *  written to: AttributeWriter copies them). */
const addressBytes = new Map<string, Buffer>();
const ADDRESS_CACHE = 65_536;

function cachedIpBytes(address: string): Buffer {
  let bytes = addressBytes.get(address);
  if (bytes === undefined) {
    if (addressBytes.size >= ADDRESS_CACHE) addressBytes.clear();
    bytes = ipBytes(address);
    addressBytes.set(address, bytes);
  }
  return bytes;
}

/** union nf_inet_addr: 16 bytes, an IPv4 address in the first four. */
function putInetAddress(out: AttributeWriter, type: number, address: string): void {
  out.bytes(type, cachedIpBytes(address), 16);
}

function familyFromNumber(af: number): IpFamily {
  return af === AF_INET6 ? 6 : 4;
}

function checkLength(value: string, max: number, what: string): string {
  // at most 3 bytes of UTF-8 per UTF-16 unit: short names need no counting
  if (value.length * 3 >= max && Buffer.byteLength(value) >= max)
    throw new Error(`${what} ${JSON.stringify(value)} is longer than ${max - 1} bytes`);
  return value;
}

/** IPVS_CMD_ATTR_SERVICE; `full` adds what adding or editing a service needs. */
export function putService(out: AttributeWriter, service: ServiceIdentity | IpvsService, full: boolean): void {
  out.nest(CommandAttr.service, () => {
    out.u16(ServiceAttr.af, familyNumber(service.family));
    if (service.fwmark > 0) {
      out.u32(ServiceAttr.fwmark, service.fwmark);
    } else {
      out.u16(ServiceAttr.protocol, protocolNumber(service.protocol));
      putInetAddress(out, ServiceAttr.addr, service.address);
      out.be16(ServiceAttr.port, service.port);
    }
    if (full) putServiceSettings(out, service as IpvsService);
  });
}

/** Scratch for the flags of the service being written (copied into the message). */
const flagsAndMask = new Uint32Array([0, 0xffffffff]);
const flagsAndMaskBytes = new Uint8Array(flagsAndMask.buffer);

function putServiceSettings(out: AttributeWriter, service: IpvsService): void {
  out.string(ServiceAttr.schedName, checkLength(service.scheduler, SCHEDNAME_MAX, 'scheduler name'));
  const flags =
    (service.persistence ? ServiceFlag.persistent : 0) |
    (service.onePacket ? ServiceFlag.onePacket : 0) |
    (service.schedulerFlags & ServiceFlag.schedulerMask);
  // struct ip_vs_flags { flags; mask }: the mask says every flag is being set
  flagsAndMask[0] = flags;
  out.bytes(ServiceAttr.flags, flagsAndMaskBytes);
  out.u32(ServiceAttr.timeout, service.persistence?.timeout ?? 0);
  // IPv4: the mask in network order; IPv6: the prefix length. Without persistence the
  // kernel still wants one (ipvsadm sends /32 and /128).
  const netmask = service.persistence?.netmask;
  if (service.family === 6) out.u32(ServiceAttr.netmask, netmask === undefined ? 128 : ipv6PrefixLength(netmask));
  else out.bytes(ServiceAttr.netmask, cachedIpBytes(netmask === undefined ? '255.255.255.255' : ipv4Netmask(netmask)));
  // Without it an edit takes the engine away, as ipvsadm -E does.
  if (service.persistenceEngine !== undefined)
    out.string(ServiceAttr.peName, checkLength(service.persistenceEngine, PENAME_MAX, 'persistence engine name'));
}

// One reader per level, reused by every decode (decoding is synchronous): a 100,000-service
// table is read without allocating two readers per reply.
const commandLevel = new AttributeReader(Buffer.alloc(0), maxAttribute.command);
const serviceLevel = new AttributeReader(Buffer.alloc(0), maxAttribute.service);
const destinationLevel = new AttributeReader(Buffer.alloc(0), maxAttribute.dest);

/** An address attribute (union nf_inet_addr) as text. */
function inetAddress(attributes: AttributeReader, type: number, family: IpFamily): string {
  return family === 4 ? attributes.ipv4(type) : formatIp(attributes.bytes(type), family);
}

/** A service from a GET_SERVICE reply: its attributes after the genl header (in `data`,
 *  or from `start` to `end` of a datagram holding many replies). */
export function decodeService(data: Buffer, start = 0, end = data.length): IpvsService {
  const attributes = commandLevel.parse(data, start, end).nestedInto(CommandAttr.service, serviceLevel);
  const family = familyFromNumber(attributes.u16(ServiceAttr.af));
  const fwmark = attributes.has(ServiceAttr.fwmark) ? attributes.u32(ServiceAttr.fwmark) : 0;
  const flags = attributes.u32(ServiceAttr.flags); // struct ip_vs_flags: flags, then mask
  const persistent = (flags & ServiceFlag.persistent) !== 0;
  const service: IpvsService = {
    family,
    fwmark,
    protocol: fwmark > 0 ? 'tcp' : protocolFromNumber(attributes.u16(ServiceAttr.protocol)),
    address: fwmark > 0 ? (family === 6 ? '::' : '0.0.0.0') : inetAddress(attributes, ServiceAttr.addr, family),
    port: fwmark > 0 ? 0 : attributes.be16(ServiceAttr.port),
    scheduler: attributes.string(ServiceAttr.schedName),
    onePacket: (flags & ServiceFlag.onePacket) !== 0,
    schedulerFlags: flags & ServiceFlag.schedulerMask,
    destinations: [],
  };
  if (persistent) {
    const netmask = family === 6 ? String(attributes.u32(ServiceAttr.netmask)) : attributes.ipv4(ServiceAttr.netmask);
    service.persistence = { timeout: attributes.u32(ServiceAttr.timeout), netmask };
  }
  if (attributes.has(ServiceAttr.peName)) service.persistenceEngine = attributes.string(ServiceAttr.peName);
  return service;
}

const forwardingCodes: Record<IpvsForwarding, number> = {
  masq: Forward.masq,
  local: Forward.local,
  ipip: Forward.tunnel,
  gate: Forward.route,
};
const forwardingByCode = Object.fromEntries(Object.entries(forwardingCodes).map(([name, code]) => [code, name as IpvsForwarding]));

/** IPVS_CMD_ATTR_DEST; `full` adds what adding or editing a destination needs. */
export function putDestination(out: AttributeWriter, destination: IpvsDestination, full: boolean): void {
  out.nest(CommandAttr.dest, () => {
    out.u16(DestAttr.addrFamily, familyNumber(destination.family));
    putInetAddress(out, DestAttr.addr, destination.address);
    out.be16(DestAttr.port, destination.port);
    if (!full) return;
    out.u32(DestAttr.fwdMethod, forwardingCodes[destination.forwarding]);
    out.u32(DestAttr.weight, destination.weight);
    out.u32(DestAttr.upperThreshold, destination.upperThreshold);
    out.u32(DestAttr.lowerThreshold, destination.lowerThreshold);
    // Kernels before 5.3 skip these (and tunnel with IPIP); newer ones take absent as IPIP.
    if (destination.forwarding === 'ipip') {
      out.u8(DestAttr.tunType, tunnelTypes.indexOf(destination.tunnelType ?? 'ipip'));
      out.be16(DestAttr.tunPort, destination.tunnelPort ?? 0);
      out.u16(DestAttr.tunFlags, tunnelFlags[destination.tunnelChecksum ?? 'none']);
    }
  });
}

const tunnelFlags: Record<TunnelChecksum, number> = { none: 0, csum: TunnelFlag.csum, remcsum: TunnelFlag.remcsum };

function tunnelChecksum(flags: number): TunnelChecksum {
  return flags & TunnelFlag.remcsum ? 'remcsum' : flags & TunnelFlag.csum ? 'csum' : 'none';
}

/** A destination from a GET_DEST dump reply (see decodeService for `start` and `end`). */
export function decodeDestination(data: Buffer, serviceFamily: IpFamily, start = 0, end = data.length): IpvsDestination {
  const attributes = commandLevel.parse(data, start, end).nestedInto(CommandAttr.dest, destinationLevel);
  const family = attributes.has(DestAttr.addrFamily) ? familyFromNumber(attributes.u16(DestAttr.addrFamily)) : serviceFamily;
  const code = attributes.u32(DestAttr.fwdMethod) & Forward.mask;
  const forwarding = forwardingByCode[code];
  if (!forwarding) throw new Error(`unknown IPVS forwarding method ${code}`);
  const u32 = (type: number) => (attributes.has(type) ? attributes.u32(type) : 0);
  const destination: IpvsDestination = {
    family,
    address: inetAddress(attributes, DestAttr.addr, family),
    port: attributes.be16(DestAttr.port),
    forwarding,
    weight: attributes.u32(DestAttr.weight),
    upperThreshold: u32(DestAttr.upperThreshold),
    lowerThreshold: u32(DestAttr.lowerThreshold),
    counters: {
      activeConnections: u32(DestAttr.activeConns),
      inactiveConnections: u32(DestAttr.inactiveConns),
      persistentConnections: u32(DestAttr.persistentConns),
    },
  };
  if (forwarding === 'ipip' && attributes.has(DestAttr.tunType)) {
    const type = tunnelTypes[attributes.u8(DestAttr.tunType)];
    if (type !== undefined) destination.tunnelType = type;
    if (type === 'gue' && attributes.has(DestAttr.tunPort)) destination.tunnelPort = attributes.be16(DestAttr.tunPort);
    if ((type === 'gue' || type === 'gre') && attributes.has(DestAttr.tunFlags))
      destination.tunnelChecksum = tunnelChecksum(attributes.u16(DestAttr.tunFlags));
  }
  return destination;
}

/** IPVS_CMD_ATTR_DAEMON for starting (full) or stopping a sync daemon. */
export function putDaemon(out: AttributeWriter, daemon: SyncDaemon | { state: SyncDaemonState }): void {
  out.nest(CommandAttr.daemon, () => {
    out.u32(DaemonAttr.state, DaemonState[daemon.state]);
    if (!('interface' in daemon)) return;
    out.string(DaemonAttr.mcastInterface, checkLength(daemon.interface, IFNAME_MAX, 'interface name'));
    out.u32(DaemonAttr.syncId, daemon.syncId);
    if (daemon.maxLength !== undefined) out.u16(DaemonAttr.syncMaxLength, daemon.maxLength);
    if (daemon.group !== undefined) {
      const group = ipBytes(daemon.group);
      out.bytes(group.length === 4 ? DaemonAttr.mcastGroup : DaemonAttr.mcastGroup6, group);
    }
    if (daemon.port !== undefined) out.u16(DaemonAttr.mcastPort, daemon.port);
    if (daemon.ttl !== undefined) out.u8(DaemonAttr.mcastTtl, daemon.ttl);
  });
}

export function decodeDaemon(data: Buffer): SyncDaemon {
  const attributes = new AttributeReader(data, maxAttribute.command).nested(CommandAttr.daemon, maxAttribute.daemon);
  const daemon: SyncDaemon = {
    state: attributes.u32(DaemonAttr.state) === DaemonState.master ? 'master' : 'backup',
    interface: attributes.string(DaemonAttr.mcastInterface),
    syncId: attributes.u32(DaemonAttr.syncId),
  };
  if (attributes.has(DaemonAttr.syncMaxLength)) daemon.maxLength = attributes.u16(DaemonAttr.syncMaxLength);
  if (attributes.has(DaemonAttr.mcastGroup)) daemon.group = formatIp(attributes.bytes(DaemonAttr.mcastGroup), 4);
  else if (attributes.has(DaemonAttr.mcastGroup6)) daemon.group = formatIp(attributes.bytes(DaemonAttr.mcastGroup6), 6);
  if (attributes.has(DaemonAttr.mcastPort)) daemon.port = attributes.u16(DaemonAttr.mcastPort);
  if (attributes.has(DaemonAttr.mcastTtl)) daemon.ttl = attributes.u8(DaemonAttr.mcastTtl);
  return daemon;
}

export function putTimeouts(out: AttributeWriter, timeouts: Partial<IpvsTimeouts>): void {
  if (timeouts.tcp !== undefined) out.u32(CommandAttr.timeoutTcp, timeouts.tcp);
  if (timeouts.tcpFin !== undefined) out.u32(CommandAttr.timeoutTcpFin, timeouts.tcpFin);
  if (timeouts.udp !== undefined) out.u32(CommandAttr.timeoutUdp, timeouts.udp);
}

export function decodeTimeouts(data: Buffer): IpvsTimeouts {
  const attributes = new AttributeReader(data, maxAttribute.command);
  const u32 = (type: number) => (attributes.has(type) ? attributes.u32(type) : 0);
  return { tcp: u32(CommandAttr.timeoutTcp), tcpFin: u32(CommandAttr.timeoutTcpFin), udp: u32(CommandAttr.timeoutUdp) };
}

export function decodeInfo(data: Buffer): IpvsInfo {
  const attributes = new AttributeReader(data, maxAttribute.info);
  const version = attributes.u32(InfoAttr.version);
  return {
    version: `${(version >> 16) & 0xff}.${(version >> 8) & 0xff}.${version & 0xff}`,
    connectionTableSize: attributes.u32(InfoAttr.connTableSize),
  };
}
