// The IPVS part of `tandem status` as data (for --json and the text): the kernel's table
// joined with the configuration and the health of each real server. Pure.
import type { RealServer, VirtualService } from '../config/model.js';
import type { ServerHealthStatus } from '../health/index.js';
import { canonicalAddress } from '../lib/address.js';
import { ShardedMap } from '../lib/sharded-map.js';
import type { RealServerHealth, ServiceStatus } from './balancer.js';
import { forEachInChunks } from './chunks.js';
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

/** A configured real server's health status (HealthMonitor.serverStatus). */
export type ServerStatusOf = (service: VirtualService, server: RealServer) => ServerHealthStatus | undefined;

/**
 * The kernel's services with the health of each destination's server and the configured
 * servers missing from them. `configured`: the model's services by IPVS key (the first of
 * each). `health`: each server's status from the monitor (only meaningful on the active
 * node; pass none on the inactive one, whose table is empty or quiesced). A chunk of
 * services per event-loop turn: a table of 100,000 takes seconds.
 */
export async function serviceStatuses(
  table: readonly IpvsService[],
  configured: ReadonlyMap<string, VirtualService>,
  health: ServerStatusOf | undefined,
  nowMs: number,
): Promise<{ services: ServiceStatus[]; missing: string[] }> {
  // a Set of 100,000 would rehash for 5–12 ms when it doubles
  const inKernel = new ShardedMap<true>();
  const services: ServiceStatus[] = [];
  await forEachInChunks(table, CHUNK, (kernelService) => {
    const key = serviceKey(kernelService);
    inKernel.set(key, true);
    const service = configured.get(key);
    services.push(service ? serviceStatus(kernelService, service, health, nowMs) : { ...kernelService, absent: [] });
  });
  const missing: string[] = [];
  if (health) {
    await forEachInChunks(configured, CHUNK, ([key, service]) => {
      if (service.active && !inKernel.has(key)) missing.push(`${describeService(identityOfVirtualService(service))} (${service.name})`);
    });
  }
  return { services, missing };
}

/** Services per event-loop turn at most (a time slice ends a chunk sooner). */
const CHUNK = 1000;

function serviceStatus(
  kernelService: IpvsService,
  service: VirtualService,
  health: ServerStatusOf | undefined,
  nowMs: number,
): ServiceStatus {
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
      const status = server.active ? health(service, server) : undefined;
      if (status) servers.set(configuredDestinationKey(server, service), realServerHealth(status, nowMs));
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
}
