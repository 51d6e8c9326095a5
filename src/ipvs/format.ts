// The table as ipvsadm 1.31 prints it: `ipvsadm -Ln` (optionally with a health
// column) and `ipvsadm -S -n` (the rules `ipvsadm -R` reads back).
import type { HealthView, Model, TunnelChecksum } from '../config/model.js';
import { formatEndpoint } from '../lib/address.js';
import { configuredDestinationKey, identityOfVirtualService } from './desired.js';
import type { IpvsInfo } from './genl/codec.js';
import {
  destinationKey,
  schedulerFlagNames,
  serviceKey,
  sortDestinations,
  sortServices,
  type IpvsDestination,
  type IpvsForwarding,
  type IpvsService,
} from './table.js';

/** A label for the health column, or undefined for a destination tandem does not check. */
export type HealthLabel = (service: IpvsService, destination: IpvsDestination) => string | undefined;

export interface ListOptions {
  /** The `IP Virtual Server version …` line; left out when absent. */
  info?: IpvsInfo;
  health?: HealthLabel;
  /** Configured destinations the kernel does not have (a down server that was removed),
   *  listed after the service's own with dashes for weight and counters. */
  absent?: (
    service: IpvsService,
  ) => Array<{ destination: Omit<IpvsDestination, 'weight' | 'upperThreshold' | 'lowerThreshold'>; health: string }>;
}

const forwardNames: Record<IpvsForwarding, string> = { masq: 'Masq', local: 'Local', ipip: 'Tunnel', gate: 'Route' };
const forwardSwitches: Record<IpvsForwarding, string> = { masq: '-m', local: '-g', ipip: '-i', gate: '-g' };

/** `ipvsadm -Ln`. */
export function formatList(services: readonly IpvsService[], options: ListOptions = {}): string {
  const lines: string[] = [];
  if (options.info) lines.push(`IP Virtual Server version ${options.info.version} (size=${options.info.connectionTableSize})`);
  lines.push('Prot LocalAddress:Port Scheduler Flags');
  lines.push(`  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn${options.health ? '  Health' : ''}`);
  for (const service of sortServices(services)) {
    lines.push(serviceLine(service));
    for (const destination of sortDestinations(service.destinations)) {
      const counters = destination.counters;
      const numbers = [destination.weight, counters?.activeConnections ?? 0, counters?.inactiveConnections ?? 0] as const;
      lines.push(destinationLine(destination, numbers.map(String) as Columns, options.health?.(service, destination)));
    }
    for (const { destination, health } of options.absent?.(service) ?? [])
      lines.push(destinationLine(destination, ['-', '-', '-'], health));
  }
  return lines.join('\n') + '\n';
}

/** Weight, active and inactive connections, as printed. */
type Columns = [string, string, string];

function destinationLine(
  destination: Pick<IpvsDestination, 'address' | 'port' | 'family' | 'forwarding'>,
  [weight, active, inactive]: Columns,
  health: string | undefined,
): string {
  const line =
    `  -> ${endpointName(destination, 28).padEnd(28)} ${forwardNames[destination.forwarding].padEnd(7)} ` +
    `${weight.padEnd(6)} ${active.padEnd(10)} ${inactive.padEnd(10)}`;
  return health === undefined ? line : `${line} ${health}`;
}

/** `ipvsadm -S -n`, plus `-x`/`-y` for non-zero thresholds (ipvsadm -R reads them; ipvsadm
 *  -S leaves them out, which loses them). */
export function formatSave(services: readonly IpvsService[]): string {
  // one string grown in place: 100,000 services make 300,000 lines
  let text = '';
  for (const service of sortServices(services)) {
    const name = ruleName(service);
    text += `-A ${name} -s ${service.scheduler}`;
    if (service.persistence) {
      text += ` -p ${service.persistence.timeout}`;
      const mask = nonDefaultMask(service);
      if (mask) text += ` -M ${mask}`;
    }
    if (service.persistenceEngine) text += ` --pe ${service.persistenceEngine}`;
    if (service.onePacket) text += ' -o';
    const flags = schedulerFlagNames(service);
    if (flags) text += ` -b ${flags}`;
    text += '\n';
    for (const destination of sortDestinations(service.destinations)) {
      text += `-a ${name} -r ${endpointName(destination)} ${forwardSwitches[destination.forwarding]} -w ${destination.weight}`;
      if (destination.forwarding === 'ipip') text += tunnelOptions(destination);
      if (destination.upperThreshold) text += ` -x ${destination.upperThreshold}`;
      if (destination.lowerThreshold) text += ` -y ${destination.lowerThreshold}`;
      text += '\n';
    }
  }
  return text;
}

const checksumOptions: Record<TunnelChecksum, string> = { none: '--tun-nocsum', csum: '--tun-csum', remcsum: '--tun-remcsum' };

/** ipvsadm 1.31 writes the tunnel type of every tunnelled destination (ipip where the kernel
 *  does not say), gue's port, and the checksum option of gue and gre. */
function tunnelOptions(destination: IpvsDestination): string {
  const checksum = checksumOptions[destination.tunnelChecksum ?? 'none'];
  switch (destination.tunnelType) {
    case 'gue':
      return ` --tun-type gue --tun-port ${destination.tunnelPort ?? 0} ${checksum}`;
    case 'gre':
      return ` --tun-type gre ${checksum}`;
    default:
      return ' --tun-type ipip';
  }
}

/** Health labels for the status listing: `up`, `up (slow start 3/10)`, `down`, `sorry`. */
export function healthLabels(model: Model, health: HealthView): HealthLabel {
  const services = new Map(model.virtualServices.map((service) => [serviceKey(identityOfVirtualService(service)), service]));
  return (ipvsService, destination) => {
    const service = services.get(serviceKey(ipvsService));
    if (!service) return undefined;
    const key = destinationKey(destination);
    const server = service.realServers.find((candidate) => configuredDestinationKey(candidate, service) === key);
    if (server) {
      const state = health(service, server);
      if (!state.up) return 'down';
      return state.weight < server.weight ? `up (slow start ${state.weight}/${server.weight})` : 'up';
    }
    const sorry = service.sorryServer;
    if (sorry && configuredDestinationKey(sorry, service) === key) return 'sorry';
    return undefined;
  };
}

function serviceLine(service: IpvsService): string {
  let line: string;
  if (service.fwmark > 0) {
    line = `FWM  ${service.fwmark}${service.family === 6 ? ' IPv6' : ''}`;
  } else {
    line = `${service.protocol.toUpperCase().padEnd(4)} ${formatEndpoint(service.address, service.port, service.family)}`;
    if (service.family === 4) line = line.slice(0, 33);
  }
  line += ` ${service.scheduler}`;
  const flags = schedulerFlagNames(service);
  if (flags) line += ` (${flags})`;
  if (service.persistence) {
    line += ` persistent ${service.persistence.timeout}`;
    const mask = nonDefaultMask(service);
    if (mask) line += ` mask ${mask}`;
    if (service.persistenceEngine) line += ` pe ${service.persistenceEngine}`;
  }
  if (service.onePacket) line += ' ops';
  return line;
}

function ruleName(service: IpvsService): string {
  if (service.fwmark > 0) return `-f ${service.fwmark}${service.family === 6 ? ' -6' : ''}`;
  const option = { tcp: '-t', udp: '-u', sctp: '--sctp-service' }[service.protocol];
  return `${option} ${formatEndpoint(service.address, service.port, service.family)}`;
}

/** ipvsadm cuts IPv4 endpoints to the column's width; IPv6 ones overflow it. */
function endpointName(destination: Pick<IpvsDestination, 'address' | 'port' | 'family'>, width?: number): string {
  const name = formatEndpoint(destination.address, destination.port, destination.family);
  return width !== undefined && destination.family === 4 ? name.slice(0, width) : name;
}

function nonDefaultMask(service: IpvsService): string | undefined {
  const netmask = service.persistence?.netmask;
  const defaultMask = service.family === 6 ? '128' : '255.255.255.255';
  return netmask !== undefined && netmask !== defaultMask ? netmask : undefined;
}
