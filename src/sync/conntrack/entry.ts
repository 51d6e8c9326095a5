// One flow of the kernel's conntrack table, as the sync carries it: both directions'
// tuples (their difference is the NAT binding), the state a stateful ruleset and the
// TCP window tracking need, and the lifetime it had left when captured.
import type { IpAddress, IpFamily } from '../../lib/address.js';

export interface ConntrackTuple {
  readonly source: IpAddress;
  readonly destination: IpAddress;
  /** TCP, UDP, SCTP, …: the ports; 0 for protocols without them. */
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** ICMP and ICMPv6: the echo identifier, type and code instead of ports. */
  readonly icmp?: { readonly id: number; readonly type: number; readonly code: number };
}

export interface TcpState {
  /** enum tcp_conntrack (3 = established). */
  readonly state: number;
  readonly windowScaleOriginal: number;
  readonly windowScaleReply: number;
  /** IP_CT_TCP_FLAG_* of each direction. */
  readonly flagsOriginal: number;
  readonly flagsReply: number;
}

export interface ConntrackEntry {
  readonly family: IpFamily;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, …). */
  readonly protocol: number;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /** enum ip_conntrack_status bits (assured, seen-reply, src-nat, …). */
  readonly status: number;
  /** Seconds the kernel had left on the entry when it was read. */
  readonly timeoutSeconds: number;
  readonly mark: number;
  readonly zone: number;
  readonly tcp?: TcpState;
}

/** The original direction identifies a flow (the reply direction may be rewritten by NAT). */
export function conntrackKey(entry: ConntrackEntry): string {
  const { source, destination, sourcePort, destinationPort, icmp } = entry.original;
  const l4 = icmp ? `${icmp.id}/${icmp.type}/${icmp.code}` : `${sourcePort}/${destinationPort}`;
  return `${entry.zone}/${entry.protocol}/${source}/${destination}/${l4}`;
}

export function describeConntrack(entry: ConntrackEntry): string {
  const { source, destination, sourcePort, destinationPort, icmp } = entry.original;
  const l4 = icmp ? ` icmp id ${icmp.id} type ${icmp.type}` : ` ports ${sourcePort} > ${destinationPort}`;
  return `flow ${source} > ${destination} protocol ${entry.protocol}${l4}${entry.zone ? ` zone ${entry.zone}` : ''}`;
}
