// The IPVS table tandem wants, from the model, this node's role and the health of
// the real servers. Pure.
import type { Forwarding, HealthView, IpFamily, Model, RealServer, SchedulerFlag, Tunnel, VirtualService } from '../config/model.js';
import { forEachInChunks } from './chunks.js';
import { canonicalAddress, ipv4Netmask, ipv6PrefixLength } from '../lib/address.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { destinationKey, serviceKey, type IpvsDestination, type IpvsService, type ServiceIdentity } from './table.js';

/** `active`: this node balances. `inactive`: backup, stopped or releasing. */
export type IpvsRole = 'active' | 'inactive';

export interface DesiredOptions {
  role: IpvsRole;
  /** Absent: every active real server counts as up with its configured weight. */
  health?: HealthView;
}

export interface DesiredTable {
  services: IpvsService[];
  /** Keys of every service the model describes, active or not: the services tandem
   *  manages (and may delete). Other services in the kernel are never touched. A
   *  ShardedMap: a Map of 100,000 rehashes for 5–12 ms when it doubles. */
  owned: ShardedMap<ServiceIdentity>;
}

/** The kernel's identity of a configured service. A firewall-mark service without a VIP
 *  (from ipvsadm rules) is IPv4 unless the model says IPv6 (`-f N -6`). */
export function identityOfVirtualService(service: VirtualService): ServiceIdentity {
  if (service.fwmark !== undefined && service.fwmark > 0) {
    const family = service.vip?.family ?? service.family ?? 4;
    return { family, protocol: 'tcp', address: family === 6 ? '::' : '0.0.0.0', port: 0, fwmark: service.fwmark };
  }
  if (!service.vip) throw new Error(`virtual service ${service.name} has neither an address nor a firewall mark`);
  return {
    family: service.vip.family,
    protocol: service.protocol,
    address: canonicalAddress(service.vip.address),
    port: service.port,
    fwmark: 0,
  };
}

/** The table for the model's services, or only for `services` (e.g. the one whose real
 *  server changed health: a table to give IpvsReconciler.reconcileServices). */
export function desiredTable(
  model: Model,
  options: DesiredOptions,
  services: readonly VirtualService[] = model.virtualServices,
): DesiredTable {
  const table: DesiredTable = { services: [], owned: new ShardedMap() };
  for (const service of services) addService(table, model, service, options);
  return table;
}

/** desiredTable with a return to the event loop every `chunkSize` services, for the
 *  whole table of a large configuration (claim, reload) on the daemon's event loop. */
export async function desiredTableInChunks(model: Model, options: DesiredOptions, chunkSize = 500): Promise<DesiredTable> {
  const table: DesiredTable = { services: [], owned: new ShardedMap() };
  await forEachInChunks(model.virtualServices, chunkSize, (service) => addService(table, model, service, options));
  return table;
}

function addService(table: DesiredTable, model: Model, service: VirtualService, options: DesiredOptions): void {
  const identity = identityOfVirtualService(service);
  const key = serviceKey(identity);
  // A key configured twice is the loader's error to report; the first one counts here.
  if (table.owned.has(key)) return;
  table.owned.set(key, identity);
  const desired = buildService(model, service, identity, options);
  if (desired) table.services.push(desired);
}

/** One service as it should be in the kernel, or undefined when it should not be there. */
function buildService(model: Model, service: VirtualService, identity: ServiceIdentity, options: DesiredOptions): IpvsService | undefined {
  if (!service.active) return undefined;
  if (options.role === 'inactive' && !model.keepServicesOnRelease) return undefined;
  const destinations =
    options.role === 'active'
      ? activeDestinations(service, options.health)
      : // Quiesced: in the table so existing connections keep their destination, but no
        // new connection is scheduled (and health is not checked on an inactive node).
        service.realServers.filter((server) => server.active).map((server) => destinationOf(server, service, 0));
  const desired: IpvsService = {
    ...identity,
    scheduler: service.scheduler,
    onePacket: service.onePacket,
    schedulerFlags: (service.schedulerFlags ?? []).reduce((bits, flag) => bits | schedulerFlagBits[flag], 0),
    destinations,
  };
  if (service.persistenceEngine !== undefined) desired.persistenceEngine = service.persistenceEngine;
  if (service.persistence && service.persistence.timeout > 0) {
    const { timeout, netmask } = service.persistence;
    desired.persistence = {
      timeout,
      netmask: identity.family === 6 ? String(ipv6PrefixLength(netmask ?? '128')) : ipv4Netmask(netmask ?? '255.255.255.255'),
    };
  }
  return desired;
}

// Down servers are left out, or kept with weight 0 under quiesce_server; the sorry
// server is in while no real server is up. Inactive servers never appear.
function activeDestinations(service: VirtualService, health: HealthView | undefined): IpvsDestination[] {
  const destinations = new Map<string, IpvsDestination>();
  let anyUp = false;
  for (const server of service.realServers) {
    if (!server.active) continue;
    const state = health ? health(service, server) : { up: true, weight: server.weight };
    anyUp ||= state.up;
    if (!state.up && !service.healthCheck.quiesceServer) continue;
    const destination = destinationOf(server, service, state.up ? state.weight : 0);
    destinations.set(destinationKey(destination), destination);
  }
  const sorry = service.sorryServer;
  if (!anyUp && sorry) {
    const destination: IpvsDestination = {
      family: sorry.family,
      address: canonicalAddress(sorry.address),
      port: destinationPort(sorry, service),
      forwarding: sorry.forwarding,
      weight: sorry.weight,
      upperThreshold: 0,
      lowerThreshold: 0,
      ...tunnelSettings(sorry.forwarding),
    };
    // A sorry server that is also a (quiesced) real server takes the sorry settings.
    destinations.set(destinationKey(destination), destination);
  }
  return [...destinations.values()];
}

/** A real or sorry server's port in the kernel: 0 means the virtual service's port
 *  (ipvsadm's rule; for a firewall-mark service the configured port, e.g. Piranha's
 *  `port = 80`). Direct routing and tunnelling do not rewrite the packet, so there the
 *  service's port is used whatever the server's (as ipvsadm does, firewall marks aside). */
export function destinationPort(server: { port: number; forwarding: Forwarding }, service: VirtualService): number {
  const rewritesPort = server.forwarding === 'masq' || (service.fwmark ?? 0) > 0;
  return server.port === 0 || !rewritesPort ? service.port : server.port;
}

/** The key (destinationKey) a configured real or sorry server has in the kernel's table. */
export function configuredDestinationKey(
  server: { address: string; family: IpFamily; port: number; forwarding: Forwarding },
  service: VirtualService,
): string {
  return destinationKey({ family: server.family, address: canonicalAddress(server.address), port: destinationPort(server, service) });
}

function destinationOf(server: RealServer, service: VirtualService, weight: number): IpvsDestination {
  return {
    family: server.family,
    address: canonicalAddress(server.address),
    port: destinationPort(server, service),
    forwarding: server.forwarding,
    weight,
    upperThreshold: server.upperThreshold,
    lowerThreshold: server.lowerThreshold,
    ...tunnelSettings(server.forwarding, server.tunnel),
  };
}

/** IP_VS_SVC_F_SCHED1..3: a flag's bit is the same whatever the scheduler calls it. */
const schedulerFlagBits: Record<SchedulerFlag, number> = {
  'flag-1': 0x08,
  'sh-fallback': 0x08,
  'mh-fallback': 0x08,
  'flag-2': 0x10,
  'sh-port': 0x10,
  'mh-port': 0x10,
  'flag-3': 0x20,
};

function tunnelSettings(forwarding: Forwarding, tunnel?: Tunnel): Pick<IpvsDestination, 'tunnelType' | 'tunnelPort' | 'tunnelChecksum'> {
  if (forwarding !== 'ipip') return {};
  if (tunnel === undefined || tunnel.type === 'ipip') return { tunnelType: 'ipip' };
  return {
    tunnelType: tunnel.type,
    ...(tunnel.type === 'gue' ? { tunnelPort: tunnel.port ?? 0 } : {}),
    tunnelChecksum: tunnel.checksum,
  };
}
