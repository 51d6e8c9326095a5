// The IPVS part of `tandem status`: the kernel's table joined with the configuration and
// the health of each real server (data for --json), and its text like `ipvsadm -Ln` with
// a health column. Pure.
import type { Model, VirtualService } from '../config/model.js';
import { serverKey, type ServerHealthStatus } from '../health/index.js';
import {
  configuredDestinationKey,
  describeService,
  destinationKey,
  destinationPort,
  formatList,
  identityOfVirtualService,
  serviceKey,
  type IpvsService,
} from '../ipvs/index.js';
import { canonicalAddress } from '../lib/address.js';
import type { BalancerStatus, RealServerHealth, ServiceStatus } from './balancer.js';
import { formatDuration } from './status.js';

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
    const absent = service.realServers
      .filter((server) => servers.get(configuredDestinationKey(server, service))?.kind === 'real')
      .map((server) => ({
        address: canonicalAddress(server.address),
        port: destinationPort(server, service),
        family: server.family,
        forwarding: server.forwarding,
        health: servers.get(configuredDestinationKey(server, service))!,
      }));
    return { ...kernelService, name: service.name, destinations, absent };
  });
  const missing = health
    ? [...configured.entries()]
        .filter(([key, service]) => service.active && !inKernel.has(key))
        .map(([, service]) => `${describeService(identityOfVirtualService(service))} (${service.name})`)
    : [];
  return { services, missing };
}

/** The health column: `up for 3 min 2 s`, `down for 12 s: connection refused, back in 8 s`, … */
export function healthLabel(health: RealServerHealth): string {
  const held = health.forMs !== undefined ? ` for ${formatDuration(health.forMs)}` : '';
  switch (health.state) {
    case 'sorry':
      return 'sorry server (no real server is up)';
    case 'unknown':
      return 'not checked yet (counts as up)';
    case 'unchecked':
      return `not checked${health.note ? ` (${health.note})` : ''}`;
    case 'inactive':
      return 'inactive';
    case 'up':
      return health.slowStartRemainingMs !== undefined
        ? `up${held}, slow start ${health.effectiveWeight}/${health.weight} (${formatDuration(health.slowStartRemainingMs)} left)`
        : `up${held}`;
    case 'down': {
      const reason = health.lastFailure ? `: ${health.lastFailure.message}` : '';
      const back = health.reentryRemainingMs !== undefined ? `; passing, back in ${formatDuration(health.reentryRemainingMs)}` : '';
      return `DOWN${held}${reason}${back}`;
    }
  }
}

function syncLine(sync: BalancerStatus['sync']): string {
  const running =
    sync.running.map((d) => `${d.state} on ${d.interface} (sync id ${d.syncId}${d.port ? `, port ${d.port}` : ''})`).join(', ') ||
    'none running';
  if (!sync.enabled) return `sync daemon: disabled in the configuration (${running})`;
  const wanted = sync.role === 'none' ? 'none' : `${sync.role} on ${sync.interface ?? '?'}`;
  const matches = sync.role === 'none' ? sync.running.length === 0 : sync.running.length === 1 && sync.running[0]!.state === sync.role;
  return `sync daemon: ${running}${matches ? '' : `, wanted: ${wanted}`}${sync.error ? `; ERROR: ${sync.error}` : ''}`;
}

export function formatBalancerStatus(status: BalancerStatus): string[] {
  const lines: string[] = [];
  const ipvs = status.ipvs;
  const role = `${status.role} since ${status.since}`;
  if (ipvs.state === 'unused') lines.push(`IPVS: ${role}; not used (no virtual services, sync disabled)`);
  else if (ipvs.state === 'unavailable') lines.push(`IPVS: ${role}; UNAVAILABLE since ${ipvs.since}: ${ipvs.error} (${ipvs.remedy})`);
  else lines.push(`IPVS: ${role}; IP Virtual Server version ${ipvs.version} (size=${ipvs.connectionTableSize})`);
  if (status.readError) lines.push(`  cannot read the table: ${status.readError}`);
  if (status.services) {
    const byKey = new Map(status.services.map((service) => [serviceKey(service), service]));
    const listing = formatList(status.services, {
      health: (service, destination) => {
        const found = byKey.get(serviceKey(service))?.destinations.find((d) => destinationKey(d) === destinationKey(destination));
        return found?.health && healthLabel(found.health);
      },
      absent: (service) =>
        (byKey.get(serviceKey(service))?.absent ?? []).map((server) => ({
          destination: server,
          health: `${healthLabel(server.health)} (not in the table)`,
        })),
    });
    lines.push(
      ...listing
        .trimEnd()
        .split('\n')
        .map((line) => `  ${line}`),
    );
  }
  if (status.missingServices?.length)
    lines.push(`  MISSING from the kernel (the next repair adds them): ${status.missingServices.join(', ')}`);
  lines.push(syncLine(status.sync));
  if (status.timeouts)
    lines.push(`IPVS timeouts: tcp ${status.timeouts.tcp} s, tcp fin ${status.timeouts.tcpFin} s, udp ${status.timeouts.udp} s`);
  const h = status.health;
  lines.push(
    `health checks: ${h.enabled ? 'running' : 'stopped'}, ${h.checked} of ${h.servers} real servers checked, ${h.inFlight} in flight`,
  );
  const last = status.lastReconcile;
  if (last)
    lines.push(
      `last reconcile: ${last.reason} at ${last.at}, ${last.operations} operations, ${last.failures} failed, ${last.durationMs} ms`,
    );
  if (status.failing.length > 0) lines.push(`FAILING (retried with the next reconcile): ${status.failing.join('; ')}`);
  if (status.repairs.last)
    lines.push(
      `drift repaired ${status.repairs.count} times, last at ${status.repairs.last.at}: ${status.repairs.last.operations.join('; ')}`,
    );
  return lines;
}
