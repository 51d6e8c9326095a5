// The IPVS table as the kernel holds it: virtual services and their destinations
// (real servers), independent of which configuration produced them.
import type { Forwarding, IpAddress, IpFamily, Protocol, Seconds, TunnelChecksum, TunnelType } from '../config/model.js';
import { ipBytes, ipv4Number, formatEndpoint } from '../lib/address.js';

/** How the kernel forwards to a destination. `local` is what the kernel reports on its
 *  own for a destination whose address is local to the director. */
export type IpvsForwarding = Forwarding | 'local';

export interface IpvsPersistence {
  timeout: Seconds;
  /** IPv4: a dotted netmask (`255.255.255.255` = per client); IPv6: a prefix length. */
  netmask: string;
}

/** The fields that select a service's traffic. A firewall-mark service (`fwmark > 0`)
 *  ignores protocol, address and port (the kernel reports `tcp`, `0.0.0.0`/`::`, 0). */
export interface ServiceIdentity {
  family: IpFamily;
  protocol: Protocol;
  address: IpAddress;
  port: number;
  fwmark: number;
}

export interface IpvsDestination {
  family: IpFamily;
  address: IpAddress;
  port: number;
  forwarding: IpvsForwarding;
  weight: number;
  /** 0 = no limit. */
  upperThreshold: number;
  lowerThreshold: number;
  /** Read from the kernel only. */
  counters?: { activeConnections: number; inactiveConnections: number; persistentConnections: number };
  /** The encapsulation of an `ipip` destination; absent from a kernel older than 5.3,
   *  which knows IP in IP only. */
  tunnelType?: TunnelType;
  /** `gue` only: the UDP port the real server decapsulates on. */
  tunnelPort?: number;
  /** `gue` and `gre` only. */
  tunnelChecksum?: TunnelChecksum;
}

export interface IpvsService extends ServiceIdentity {
  scheduler: string;
  persistence?: IpvsPersistence;
  /** One-packet scheduling (ipvsadm -o). */
  onePacket: boolean;
  /** The scheduler's own flags (IP_VS_SVC_F_SCHED1..3, e.g. sh-fallback), as bits 0x08–0x20. */
  schedulerFlags: number;
  /** Persistence engine (`--pe sip`). */
  persistenceEngine?: string;
  destinations: IpvsDestination[];
}

/** A stable key for a service: two services with the same key are the same kernel object. */
export function serviceKey(service: ServiceIdentity): string {
  return service.fwmark > 0
    ? `fwm/${service.family}/${service.fwmark}`
    : `${service.protocol}/${formatEndpoint(service.address, service.port, service.family)}`;
}

/** Destinations are unique by address and port within a service. */
export function destinationKey(destination: Pick<IpvsDestination, 'address' | 'port' | 'family'>): string {
  return formatEndpoint(destination.address, destination.port, destination.family);
}

/** `TCP 192.0.2.1:80`, `FWM 80`, `FWM 80 IPv6`: how operators name a service. */
export function describeService(service: ServiceIdentity): string {
  if (service.fwmark > 0) return `FWM ${service.fwmark}${service.family === 6 ? ' IPv6' : ''}`;
  return `${service.protocol.toUpperCase()} ${formatEndpoint(service.address, service.port, service.family)}`;
}

/** The names ipvsadm gives the set scheduler flags, comma-separated (`sh-fallback,sh-port`):
 *  sh and mh name their first two bits and leave out the third. */
export function schedulerFlagNames(service: Pick<IpvsService, 'scheduler' | 'schedulerFlags'>): string {
  if (service.schedulerFlags === 0) return '';
  const names =
    service.scheduler === 'sh' || service.scheduler === 'mh'
      ? [`${service.scheduler}-fallback`, `${service.scheduler}-port`, undefined]
      : ['flag-1', 'flag-2', 'flag-3'];
  return names.filter((name, bit) => name !== undefined && service.schedulerFlags & (0x08 << bit)).join(',');
}

/** In ipvsadm's listing order (libipvs ipvs_cmp_services), including its 32-bit
 *  wrap-around differences, so `tandem ipvs` lists what ipvsadm lists in the same order. */
export function sortServices<T extends ServiceIdentity>(services: readonly T[]): T[] {
  return services
    .map((service) => ({ service, words: addressWords(service.address) }))
    .sort(
      (a, b) =>
        wrap(a.service.fwmark - b.service.fwmark) ||
        familyNumber(a.service.family) - familyNumber(b.service.family) ||
        protocolNumber(a.service.protocol) - protocolNumber(b.service.protocol) ||
        compareWords(a.words, b.words) ||
        a.service.port - b.service.port,
    )
    .map(({ service }) => service);
}

/** In ipvsadm's order of a service's destinations (libipvs ipvs_cmp_dests). */
export function sortDestinations(destinations: readonly IpvsDestination[]): IpvsDestination[] {
  if (destinations.length < 2) return [...destinations];
  return destinations
    .map((destination) => ({ destination, words: addressWords(destination.address) }))
    .sort((a, b) => compareWords(a.words, b.words) || a.destination.port - b.destination.port)
    .map(({ destination }) => destination);
}

/** The address as 32-bit words in network order, as libipvs compares them. */
function addressWords(address: IpAddress): number[] {
  const word = ipv4Number(address);
  if (word !== undefined) return [word];
  const bytes = ipBytes(address);
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readUInt32BE(i * 4));
}

function compareWords(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const difference = wrap((a[i] ?? 0) - (b[i] ?? 0));
    if (difference !== 0) return difference;
  }
  return 0;
}

const wrap = (n: number) => n | 0;

export const AF_INET = 2;
export const AF_INET6 = 10;
export const familyNumber = (family: IpFamily) => (family === 6 ? AF_INET6 : AF_INET);

const protocolNumbers: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
export const protocolNumber = (protocol: Protocol) => protocolNumbers[protocol];
export function protocolFromNumber(value: number): Protocol {
  const entry = Object.entries(protocolNumbers).find(([, n]) => n === value);
  if (!entry) throw new Error(`unknown IPVS protocol number ${value}`);
  return entry[0] as Protocol;
}
