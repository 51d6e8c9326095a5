// One IPVS connection (or persistence template) as the kernel's sync protocol carries
// it: what a backup needs to keep forwarding the flow to the same real server. Field
// meanings and flag bits are the kernel's (include/uapi/linux/ip_vs.h).
import { formatEndpoint, type IpAddress, type IpFamily } from '../../lib/address.js';

export interface Endpoint {
  readonly address: IpAddress;
  readonly port: number;
}

export interface IpvsConnection {
  readonly family: IpFamily;
  /** IPPROTO_TCP, _UDP, _SCTP; IPPROTO_IP (0) for a firewall-mark template. */
  readonly protocol: number;
  /** IP_VS_CONN_F_* as the kernel sends them (forwarding method, template, inactive…). */
  readonly flags: number;
  /** The protocol's state number (IP_VS_TCP_S_ESTABLISHED = 1, …). */
  readonly state: number;
  readonly client: Endpoint;
  readonly virtual: Endpoint;
  readonly destination: Endpoint;
  readonly fwmark: number;
  /** Seconds: what the backup arms the entry's timer with (0: the protocol's default). */
  readonly timeoutSeconds: number;
  /** IPVS_OPT_SEQ_DATA: in_seq and out_seq (FTP helper's sequence adjustments), 24 bytes. */
  readonly sequence?: Uint8Array;
  /** A persistence engine's data and name (`sip` and its Call-ID). */
  readonly persistence?: { readonly engine: string; readonly data: Uint8Array };
}

export const Protocol = { ip: 0, tcp: 6, udp: 17, sctp: 132 } as const;

export const ConnFlag = {
  forwardingMask: 0x0007,
  masquerade: 0x0000,
  localNode: 0x0001,
  tunnel: 0x0002,
  directRoute: 0x0003,
  bypass: 0x0004,
  sync: 0x0020,
  noOutput: 0x0080,
  inactive: 0x0100,
  sequenceMask: 0x0600,
  noClientPort: 0x0800,
  template: 0x1000,
  onePacket: 0x2000,
} as const;

/** The bits a backup accepts from a sync message (IP_VS_CONN_F_BACKUP_MASK). */
export const backupFlagMask =
  ConnFlag.forwardingMask | ConnFlag.noOutput | ConnFlag.inactive | ConnFlag.sequenceMask | ConnFlag.noClientPort | ConnFlag.template;

// State names as /proc/net/ip_vs_conn prints them, indexed by state number
// (ip_vs_proto_tcp.c, ip_vs_proto_sctp.c, ip_vs_proto_udp.c; templates: ip_vs_conn.c).
export const stateNames: Readonly<Record<number, readonly string[]>> = {
  [Protocol.tcp]: [
    'NONE',
    'ESTABLISHED',
    'SYN_SENT',
    'SYN_RECV',
    'FIN_WAIT',
    'TIME_WAIT',
    'CLOSE',
    'CLOSE_WAIT',
    'LAST_ACK',
    'LISTEN',
    'SYNACK',
  ],
  [Protocol.udp]: ['UDP'],
  [Protocol.sctp]: [
    'NONE',
    'INIT1',
    'INIT',
    'C-SENT',
    'C-REPLIED',
    'C-WAIT',
    'C-ECHOED',
    'ESTABLISHED',
    'S-SENT',
    'S-RECEIVED',
    'S-ACK-SENT',
    'REJECTED',
    'CLOSED',
  ],
};
export const templateStateNames: readonly string[] = ['NONE', 'ASSURED'];
export const establishedState: Readonly<Record<number, number>> = { [Protocol.tcp]: 1, [Protocol.sctp]: 7 };

export const protocolNames: Readonly<Record<number, string>> = {
  [Protocol.ip]: 'IP',
  [Protocol.tcp]: 'TCP',
  [Protocol.udp]: 'UDP',
  [Protocol.sctp]: 'SCTP',
};

/** The kernel's own identity of an entry: templates and connections live in one table
 *  but never collide (a template's client port is 0, or it is marked as one). */
export function connectionKey(connection: IpvsConnection): string {
  const kind = connection.flags & ConnFlag.template ? 'tpl' : (protocolNames[connection.protocol] ?? String(connection.protocol));
  const { client, virtual, family } = connection;
  return `${kind}/${formatEndpoint(client.address, client.port, family)}>${formatEndpoint(virtual.address, virtual.port, family)}`;
}

/** `TCP 192.0.2.50:40000 -> 192.0.2.100:80 -> 198.51.100.11:80 ESTABLISHED`, for logs and errors. */
export function describeConnection(connection: IpvsConnection): string {
  const { client, virtual, destination, family } = connection;
  const template = connection.flags & ConnFlag.template;
  const names = template ? templateStateNames : stateNames[connection.protocol];
  return (
    `${template ? 'template ' : ''}${protocolNames[connection.protocol] ?? connection.protocol} ` +
    `${formatEndpoint(client.address, client.port, family)} -> ${formatEndpoint(virtual.address, virtual.port, family)} -> ` +
    `${formatEndpoint(destination.address, destination.port, family)} ${names?.[connection.state] ?? `state ${connection.state}`}`
  );
}
