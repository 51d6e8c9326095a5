// Encoding and decoding of IPVS generic netlink attributes. Pure: buffers in, values
// out, so the byte layouts are unit-tested without a kernel.
import {
  AttrStream,
  getString,
  getU16,
  getU16be,
  getU32,
  getU8,
  parseAttributes,
  putString,
  putU16,
  putU16be,
  putU32,
  putU8,
} from 'netlink';
import type { IpFamily } from '../../config/model.js';
import { addressToBytes, bytesToAddress, ipv4Netmask, ipv6PrefixLength } from '../address.js';
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
import {
  CommandAttr,
  DaemonAttr,
  DaemonState,
  DestAttr,
  Forward,
  IFNAME_MAX,
  InfoAttr,
  SCHEDNAME_MAX,
  ServiceAttr,
  ServiceFlag,
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

type Attributes = Map<number, Buffer>;

export function readAttributes(data: Buffer): Attributes {
  const attributes: Attributes = new Map();
  parseAttributes(data, (attribute) => attributes.set(attribute.type, attribute.data));
  return attributes;
}

function required(attributes: Attributes, type: number, what: string): Buffer {
  const value = attributes.get(type);
  if (!value) throw new Error(`the kernel's IPVS reply has no ${what} attribute`);
  return value;
}

/** union nf_inet_addr: 16 bytes, an IPv4 address in the first four. */
function inetAddress(address: string): Buffer {
  const bytes = Buffer.alloc(16);
  addressToBytes(address).copy(bytes);
  return bytes;
}

function familyFromNumber(af: number): IpFamily {
  return af === AF_INET6 ? 6 : 4;
}

/** Pads a nested attribute's last member, as libnl does, so the nest's length is aligned. */
function closeNest(out: AttrStream): void {
  const length = out.bufs.reduce((sum, buffer) => sum + buffer.length, 0);
  if (length % 4) out.emit(Buffer.alloc(4 - (length % 4)));
}

function nulString(value: string, max: number, what: string): Buffer {
  if (Buffer.byteLength(value) >= max) throw new Error(`${what} ${JSON.stringify(value)} is longer than ${max - 1} bytes`);
  return putString(value);
}

/** IPVS_CMD_ATTR_SERVICE; `full` adds what adding or editing a service needs. */
export function putService(out: AttrStream, service: ServiceIdentity | IpvsService, full: boolean): void {
  out.push(CommandAttr.service, (nested: AttrStream) => {
    nested.push(ServiceAttr.af, putU16(familyNumber(service.family)));
    if (service.fwmark > 0) {
      nested.push(ServiceAttr.fwmark, putU32(service.fwmark));
    } else {
      nested.push(ServiceAttr.protocol, putU16(protocolNumber(service.protocol)));
      nested.push(ServiceAttr.addr, inetAddress(service.address));
      nested.push(ServiceAttr.port, putU16be(service.port));
    }
    if (full) putServiceSettings(nested, service as IpvsService);
    closeNest(nested);
  });
}

function putServiceSettings(nested: AttrStream, service: IpvsService): void {
  nested.push(ServiceAttr.schedName, nulString(service.scheduler, SCHEDNAME_MAX, 'scheduler name'));
  const flags =
    (service.persistence ? ServiceFlag.persistent : 0) |
    (service.onePacket ? ServiceFlag.onePacket : 0) |
    (service.schedulerFlags & ServiceFlag.schedulerMask);
  // struct ip_vs_flags { flags; mask }: the mask says every flag is being set
  nested.push(ServiceAttr.flags, Buffer.concat([putU32(flags), putU32(0xffffffff)]));
  nested.push(ServiceAttr.timeout, putU32(service.persistence?.timeout ?? 0));
  nested.push(ServiceAttr.netmask, encodeNetmask(service.family, service.persistence?.netmask));
}

/** IPv4: the mask in network order; IPv6: the prefix length as a host-order u32. Without
 *  persistence the kernel still wants one (ipvsadm sends /32 and /128). */
function encodeNetmask(family: IpFamily, netmask: string | undefined): Buffer {
  if (family === 6) return putU32(netmask === undefined ? 128 : ipv6PrefixLength(netmask));
  return addressToBytes(ipv4Netmask(netmask ?? '255.255.255.255'));
}

function decodeNetmask(family: IpFamily, value: Buffer): string {
  return family === 6 ? String(getU32(value)) : bytesToAddress(value, 4);
}

export function decodeService(data: Buffer): IpvsService {
  const attributes = readAttributes(required(readAttributes(data), CommandAttr.service, 'service'));
  const family = familyFromNumber(getU16(required(attributes, ServiceAttr.af, 'address family')));
  const fwmarkAttribute = attributes.get(ServiceAttr.fwmark);
  const fwmark = fwmarkAttribute ? getU32(fwmarkAttribute) : 0;
  const flags = getU32(required(attributes, ServiceAttr.flags, 'flags').subarray(0, 4)); // struct ip_vs_flags: flags, mask
  const timeout = getU32(required(attributes, ServiceAttr.timeout, 'timeout'));
  const netmask = decodeNetmask(family, required(attributes, ServiceAttr.netmask, 'netmask'));
  const peName = attributes.get(ServiceAttr.peName);
  const service: IpvsService = {
    family,
    fwmark,
    protocol: fwmark > 0 ? 'tcp' : protocolFromNumber(getU16(required(attributes, ServiceAttr.protocol, 'protocol'))),
    address: fwmark > 0 ? (family === 6 ? '::' : '0.0.0.0') : bytesToAddress(required(attributes, ServiceAttr.addr, 'address'), family),
    port: fwmark > 0 ? 0 : getU16be(required(attributes, ServiceAttr.port, 'port')),
    scheduler: getString(required(attributes, ServiceAttr.schedName, 'scheduler')),
    onePacket: (flags & ServiceFlag.onePacket) !== 0,
    schedulerFlags: flags & ServiceFlag.schedulerMask,
    destinations: [],
  };
  if (flags & ServiceFlag.persistent) service.persistence = { timeout, netmask };
  if (peName) service.persistenceEngine = getString(peName);
  return service;
}

const forwardingCodes: Record<IpvsForwarding, number> = {
  masq: Forward.masq,
  local: Forward.local,
  ipip: Forward.tunnel,
  gate: Forward.route,
};

/** IPVS_CMD_ATTR_DEST; `full` adds what adding or editing a destination needs. */
export function putDestination(out: AttrStream, destination: IpvsDestination, full: boolean): void {
  out.push(CommandAttr.dest, (nested: AttrStream) => {
    nested.push(DestAttr.addrFamily, putU16(familyNumber(destination.family)));
    nested.push(DestAttr.addr, inetAddress(destination.address));
    nested.push(DestAttr.port, putU16be(destination.port));
    if (full) {
      nested.push(DestAttr.fwdMethod, putU32(forwardingCodes[destination.forwarding]));
      nested.push(DestAttr.weight, putU32(destination.weight));
      nested.push(DestAttr.upperThreshold, putU32(destination.upperThreshold));
      nested.push(DestAttr.lowerThreshold, putU32(destination.lowerThreshold));
    }
    closeNest(nested);
  });
}

export function decodeDestination(data: Buffer, serviceFamily: IpFamily): IpvsDestination {
  const attributes = readAttributes(required(readAttributes(data), CommandAttr.dest, 'destination'));
  const familyAttribute = attributes.get(DestAttr.addrFamily);
  const family = familyAttribute ? familyFromNumber(getU16(familyAttribute)) : serviceFamily;
  const code = getU32(required(attributes, DestAttr.fwdMethod, 'forwarding method')) & Forward.mask;
  const forwarding = (Object.keys(forwardingCodes) as IpvsForwarding[]).find((name) => forwardingCodes[name] === code);
  if (!forwarding) throw new Error(`unknown IPVS forwarding method ${code}`);
  const u32 = (type: number) => {
    const value = attributes.get(type);
    return value ? getU32(value) : 0;
  };
  const destination: IpvsDestination = {
    family,
    address: bytesToAddress(required(attributes, DestAttr.addr, 'address'), family),
    port: getU16be(required(attributes, DestAttr.port, 'port')),
    forwarding,
    weight: getU32(required(attributes, DestAttr.weight, 'weight')),
    upperThreshold: u32(DestAttr.upperThreshold),
    lowerThreshold: u32(DestAttr.lowerThreshold),
    counters: {
      activeConnections: u32(DestAttr.activeConns),
      inactiveConnections: u32(DestAttr.inactiveConns),
      persistentConnections: u32(DestAttr.persistentConns),
    },
  };
  const tunnelType = attributes.get(DestAttr.tunType);
  if (forwarding === 'ipip' && tunnelType) destination.tunnelType = tunnelTypes[getU8(tunnelType)];
  return destination;
}

/** IPVS_CMD_ATTR_DAEMON for starting (full) or stopping a sync daemon. */
export function putDaemon(out: AttrStream, daemon: SyncDaemon | { state: SyncDaemonState }): void {
  out.push(CommandAttr.daemon, (nested: AttrStream) => {
    nested.push(DaemonAttr.state, putU32(DaemonState[daemon.state]));
    if ('interface' in daemon) putDaemonSettings(nested, daemon);
    closeNest(nested);
  });
}

function putDaemonSettings(nested: AttrStream, daemon: SyncDaemon): void {
  nested.push(DaemonAttr.mcastInterface, nulString(daemon.interface, IFNAME_MAX, 'interface name'));
  nested.push(DaemonAttr.syncId, putU32(daemon.syncId));
  if (daemon.maxLength !== undefined) nested.push(DaemonAttr.syncMaxLength, putU16(daemon.maxLength));
  if (daemon.group !== undefined) {
    const group = addressToBytes(daemon.group);
    nested.push(group.length === 4 ? DaemonAttr.mcastGroup : DaemonAttr.mcastGroup6, group);
  }
  if (daemon.port !== undefined) nested.push(DaemonAttr.mcastPort, putU16(daemon.port));
  if (daemon.ttl !== undefined) nested.push(DaemonAttr.mcastTtl, putU8(daemon.ttl));
}

export function decodeDaemon(data: Buffer): SyncDaemon {
  const attributes = readAttributes(required(readAttributes(data), CommandAttr.daemon, 'daemon'));
  const state = getU32(required(attributes, DaemonAttr.state, 'state'));
  const daemon: SyncDaemon = {
    state: state === DaemonState.master ? 'master' : 'backup',
    interface: getString(required(attributes, DaemonAttr.mcastInterface, 'interface')),
    syncId: getU32(required(attributes, DaemonAttr.syncId, 'sync id')),
  };
  const maxLength = attributes.get(DaemonAttr.syncMaxLength);
  if (maxLength) daemon.maxLength = getU16(maxLength);
  const group = attributes.get(DaemonAttr.mcastGroup);
  const group6 = attributes.get(DaemonAttr.mcastGroup6);
  if (group) daemon.group = bytesToAddress(group, 4);
  else if (group6) daemon.group = bytesToAddress(group6, 6);
  const port = attributes.get(DaemonAttr.mcastPort);
  if (port) daemon.port = getU16(port);
  const ttl = attributes.get(DaemonAttr.mcastTtl);
  if (ttl) daemon.ttl = getU8(ttl);
  return daemon;
}

export function putTimeouts(out: AttrStream, timeouts: Partial<IpvsTimeouts>): void {
  if (timeouts.tcp !== undefined) out.push(CommandAttr.timeoutTcp, putU32(timeouts.tcp));
  if (timeouts.tcpFin !== undefined) out.push(CommandAttr.timeoutTcpFin, putU32(timeouts.tcpFin));
  if (timeouts.udp !== undefined) out.push(CommandAttr.timeoutUdp, putU32(timeouts.udp));
}

export function decodeTimeouts(data: Buffer): IpvsTimeouts {
  const attributes = readAttributes(data);
  const u32 = (type: number) => {
    const value = attributes.get(type);
    return value ? getU32(value) : 0;
  };
  return { tcp: u32(CommandAttr.timeoutTcp), tcpFin: u32(CommandAttr.timeoutTcpFin), udp: u32(CommandAttr.timeoutUdp) };
}

export function decodeInfo(data: Buffer): IpvsInfo {
  const attributes = readAttributes(data);
  const version = getU32(required(attributes, InfoAttr.version, 'version'));
  return {
    version: `${(version >> 16) & 0xff}.${(version >> 8) & 0xff}.${version & 0xff}`,
    connectionTableSize: getU32(required(attributes, InfoAttr.connTableSize, 'connection table size')),
  };
}
