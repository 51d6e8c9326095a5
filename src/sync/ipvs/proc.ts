// The whole connection table as the kernel prints it in /proc/net/ip_vs_conn
// (ip_vs_conn.c, ip_vs_conn_seq_show): protocol, client, virtual and destination
// address:port in hex, the state's name, seconds to expiry, then the persistence
// engine's name and data if any. It lacks what the sync protocol also carries (the
// forwarding method, the firewall mark): those come from the service table.
import { formatIp, type IpFamily } from '../../lib/address.js';
import type { IpvsService } from '../../ipvs/index.js';
import {
  ConnFlag,
  establishedState,
  protocolNames,
  stateNames,
  templateStateNames,
  type Endpoint,
  type IpvsConnection,
} from './connection.js';

export interface ProcConnection {
  readonly family: IpFamily;
  readonly protocol: number;
  readonly template: boolean;
  readonly state: number;
  readonly client: Endpoint;
  readonly virtual: Endpoint;
  readonly destination: Endpoint;
  readonly expiresSeconds: number;
}

const protocolByName = new Map(Object.entries(protocolNames).map(([number, name]) => [name, Number(number)]));

/** The header line, which the parser skips. */
export const procHeaderPrefix = 'Pro FromIP';

/** One line of /proc/net/ip_vs_conn; undefined for the header, throws on anything else
 *  unexpected (naming the line). A persistence engine's entry keeps no engine data:
 *  the master daemon's messages carry it. */
export function parseProcLine(line: string, lineNumber: number): ProcConnection | undefined {
  if (line.startsWith(procHeaderPrefix) || line.trim() === '') return undefined;
  const bad = (why: string): never => {
    throw new Error(`/proc/net/ip_vs_conn line ${lineNumber}: ${why}: ${JSON.stringify(line)}`);
  };
  const [protocolName = '', client, clientPort, virtual, virtualPort, destination, destinationPort, stateName = '', expires] = line
    .trim()
    .split(/\s+/);
  const protocol = protocolByName.get(protocolName) ?? bad(`unknown protocol ${protocolName}`);
  const family: IpFamily = client?.includes(':') ? 6 : 4;
  const endpoint = (address: string | undefined, port: string | undefined): Endpoint => ({
    address: hexAddress(address ?? '', family) ?? bad(`bad address ${address}`),
    port: /^[0-9A-F]{4}$/.test(port ?? '') ? parseInt(port ?? '', 16) : bad(`bad port ${port}`),
  });
  const parsedClient = endpoint(client, clientPort);
  // A template stands for a client (and port 0), never for one of its connections.
  const template = parsedClient.port === 0;
  const states = template ? templateStateNames : stateNames[protocol];
  let state = states?.indexOf(stateName) ?? -1;
  if (state < 0 && template) state = stateNames[protocol]?.indexOf(stateName) ?? -1;
  if (state < 0) bad(`unknown state ${stateName}`);
  if (!/^[0-9]+$/.test(expires ?? '')) bad(`bad expiry ${expires}`);
  return {
    family,
    protocol,
    template,
    state,
    client: parsedClient,
    virtual: endpoint(virtual, virtualPort),
    destination: endpoint(destination, destinationPort),
    expiresSeconds: Number(expires),
  };
}

/** `C0000232` (IPv4 in hex) or `2001:0db8:…` (%pI6: eight groups of four hex digits). */
function hexAddress(text: string, family: IpFamily): string | undefined {
  const hex = family === 4 ? text : text.replaceAll(':', '');
  if (!new RegExp(`^[0-9a-fA-F]{${family === 4 ? 8 : 32}}$`).test(hex)) return undefined;
  return formatIp(Buffer.from(hex, 'hex'), family);
}

export interface ForwardingOf {
  /** The forwarding flag and firewall mark of the destination a connection is bound to. */
  (connection: ProcConnection): { flag: number; fwmark: number };
}

const forwardingFlags: Readonly<Record<string, number>> = {
  masq: ConnFlag.masquerade,
  gate: ConnFlag.directRoute,
  ipip: ConnFlag.tunnel,
  local: ConnFlag.localNode,
};

/** Looks connections up in the service table read from the kernel: by virtual service
 *  and destination, or for a firewall-mark service by destination alone. A connection
 *  whose destination is gone gets masquerading, the kernel's own fallback flag value. */
export function forwardingLookup(services: readonly IpvsService[]): ForwardingOf {
  const byService = new Map<string, { flag: number; fwmark: number }>();
  const byDestination = new Map<string, { flag: number; fwmark: number }>();
  for (const service of services) {
    for (const destination of service.destinations) {
      const value = { flag: forwardingFlags[destination.forwarding] ?? ConnFlag.masquerade, fwmark: service.fwmark };
      if (service.fwmark > 0) byDestination.set(`${destination.address}|${destination.port}`, value);
      else
        byService.set(
          `${protocolByName.get(service.protocol.toUpperCase())}|${service.address}|${service.port}|${destination.address}|${destination.port}`,
          value,
        );
    }
  }
  const fallback = { flag: ConnFlag.masquerade, fwmark: 0 };
  return (connection) => {
    const { protocol, virtual, destination } = connection;
    return (
      byService.get(`${protocol}|${virtual.address}|${virtual.port}|${destination.address}|${destination.port}`) ??
      byDestination.get(`${destination.address}|${destination.port}`) ??
      fallback
    );
  };
}

/** The connection as the master daemon would send it, with the time it had left as its
 *  timeout (the backup's copy then expires when the master's would, the first packet
 *  after a takeover resets it from the protocol's table). */
export function toConnection(entry: ProcConnection, forwarding: ForwardingOf): IpvsConnection {
  const { flag, fwmark } = forwarding(entry);
  const established = establishedState[entry.protocol];
  // The kernel counts a connection active once established; UDP ones stay inactive.
  const inactive = !entry.template && (established === undefined || entry.state !== established);
  return {
    family: entry.family,
    protocol: entry.protocol,
    flags: flag | (entry.template ? ConnFlag.template : 0) | (inactive ? ConnFlag.inactive : 0),
    state: entry.state,
    client: entry.client,
    virtual: entry.virtual,
    destination: entry.destination,
    fwmark,
    timeoutSeconds: Math.max(1, entry.expiresSeconds),
  };
}
