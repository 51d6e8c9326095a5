// The IPVS part of `tandem status` as text: like `ipvsadm -Ln`, with a health column. Pure.
import { destinationKey, formatList, serviceKey, type BalancerStatus, type RealServerHealth } from '../ipvs/index.js';
import { formatDuration } from '../lib/duration.js';
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
  if (sync.overChannel) return `sync daemon: none on the sync link, IPVS connections go over tandem's channel (${running})`;
  if (!sync.enabled) return `sync daemon: disabled in the configuration (${running})`;
  const wanted = sync.role === 'none' ? 'none' : `${sync.role} on ${sync.interface ?? '?'}`;
  const matches = sync.role === 'none' ? sync.running.length === 0 : sync.running.length === 1 && sync.running[0]?.state === sync.role;
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
