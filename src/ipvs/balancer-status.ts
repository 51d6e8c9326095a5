// The IPVS part of `tandem status` as data (for --json and the text): the kernel's table
// joined with the configuration and the health of each real server. Pure.
import type { Model, VirtualService } from '../config/model.js';
import { serverKey, type ServerHealthStatus } from '../health/index.js';
import { canonicalAddress } from '../lib/address.js';
import type { RealServerHealth, ServiceStatus } from './balancer.js';
import { configuredDestinationKey, destinationPort, identityOfVirtualService } from './desired.js';
import { describeService, destinationKey, serviceKey, type IpvsService } from './table.js';

const iso = (epochMs: number) => new Date(epochMs).toISOString();

function realServerHealth(status: ServerHealthStatus, nowMs: number): RealServerHealth {
  const failure = status.lastFailure;
  return {
    server: status.server,
    kind: 'real',
    state: status.state,
    up: status.up,
    since: iso(status.since),
    forMs: Math.max(0, Math.round(nowMs - status.since)),
    weight: status.weight,
    effectiveWeight: status.effectiveWeight,
    ...(failure && {
      lastFailure: {
        at: iso(failure.at),
        ...(failure.reason !== undefined && { reason: failure.reason }),
        message: failure.message,
        ...(failure.received !== undefined && { received: failure.received }),
      },
    }),
    ...(status.reentryRemaining !== undefined && { reentryRemainingMs: Math.round(status.reentryRemaining) }),
    ...(status.slowStartRemaining !== undefined && { slowStartRemainingMs: Math.round(status.slowStartRemaining) }),
    ...(status.note !== undefined && { note: status.note }),
  };
}

/**
 * The kernel's services with the health of each destination's server and the configured
 * servers missing from them. `health` is the monitor's status (only meaningful on the
 * active node; pass none on the inactive one, whose table is empty or quiesced).
 */
export function serviceStatuses(
  table: readonly IpvsService[],
  model: Model,
  health: readonly ServerHealthStatus[] | undefined,
  nowMs: number,
): { services: ServiceStatus[]; missing: string[] } {
  const configured = new Map<string, VirtualService>();
  for (const service of model.virtualServices) {
    const key = serviceKey(identityOfVirtualService(service));
    if (!configured.has(key)) configured.set(key, service);
  }
  const byServer = new Map(health?.map((status) => [status.key, status]));
  const inKernel = new Set<string>();
  const services = table.map((kernelService): ServiceStatus => {
    const key = serviceKey(kernelService);
    inKernel.add(key);
    const service = configured.get(key);
    if (!service) return { ...kernelService, absent: [] };
    const servers = new Map<string, RealServerHealth>();
    if (health) {
      const sorry = service.sorryServer;
      if (sorry) {
        const weight = sorry.weight;
        servers.set(configuredDestinationKey(sorry, service), {
          server: 'sorry server',
          kind: 'sorry',
          state: 'sorry',
          up: true,
          weight,
          effectiveWeight: weight,
        });
      }
      for (const server of service.realServers) {
        const status = byServer.get(serverKey(service, server));
        if (server.active && status) servers.set(configuredDestinationKey(server, service), realServerHealth(status, nowMs));
      }
    }
    const destinations = kernelService.destinations.map((destination) => {
      const serverHealth = servers.get(destinationKey(destination));
      servers.delete(destinationKey(destination));
      return serverHealth ? { ...destination, health: serverHealth } : destination;
    });
    const absent = service.realServers.flatMap((server) => {
      const serverHealth = servers.get(configuredDestinationKey(server, service));
      if (serverHealth?.kind !== 'real') return [];
      const { family, forwarding } = server;
      return [
        { address: canonicalAddress(server.address), port: destinationPort(server, service), family, forwarding, health: serverHealth },
      ];
    });
    return { ...kernelService, name: service.name, destinations, absent };
  });
  const missing = health
    ? [...configured.entries()]
        .filter(([key, service]) => service.active && !inKernel.has(key))
        .map(([, service]) => `${describeService(identityOfVirtualService(service))} (${service.name})`)
    : [];
  return { services, missing };
}
