// What the host should look like, from the model: the addresses the active node
// claims, the ones tandem manages (and so removes wherever it finds them when it
// does not hold the role), the links whose loss means this node cannot serve, and
// the health summary the election gets from their state. Pure.
import type { ChannelPath, HealthSummary } from '../cluster/index.js';
import type { ClaimedAddress, Model } from '../config/model.js';
import { devicesHolding, planAddresses, type HostView, type LinkState, type NeighbourTarget } from '../net/index.js';

/** A claimed address and what it is for (status, hooks). */
export interface AddressRole {
  address: ClaimedAddress;
  /** `nat gateway`, or the names of the virtual services on this VIP. */
  purpose: string;
}

const keyOf = (a: ClaimedAddress) => a.address;

/** The addresses the active node holds: the VIPs of active services, then the NAT gateway. */
export function claimedAddresses(model: Model): AddressRole[] {
  const byAddress = new Map<string, { address: ClaimedAddress; services: string[] }>();
  for (const service of model.virtualServices) {
    if (!service.active || !service.vip) continue;
    const entry = byAddress.get(keyOf(service.vip)) ?? { address: service.vip, services: [] };
    entry.services.push(service.name);
    byAddress.set(keyOf(service.vip), entry);
  }
  const roles = [...byAddress.values()].map(({ address, services }) => ({ address, purpose: `vip ${services.join(', ')}` }));
  if (model.natRouter) roles.push({ address: model.natRouter, purpose: 'nat gateway' });
  return roles;
}

/** Every address tandem manages: also the VIPs of inactive services (they must not linger). */
export function managedAddresses(model: Model): ClaimedAddress[] {
  const all = new Map<string, ClaimedAddress>();
  for (const service of model.virtualServices) if (service.vip) all.set(keyOf(service.vip), service.vip);
  if (model.natRouter) all.set(keyOf(model.natRouter), model.natRouter);
  return [...all.values()];
}

/** `address/prefix`, as hooks and logs show addresses. */
export const cidrOf = (a: ClaimedAddress): string => `${a.address}/${a.prefix}`;

/**
 * The links `monitor_links` watches. Required: the devices of the claimed addresses
 * (as they would be placed on this host) and the extra interfaces configured; any
 * one of them down means this node cannot serve. Heartbeat: the devices of this
 * node's heartbeat addresses that carry none of those; losing one of two paths is
 * what the second path is for (a pulled crossover cable takes the link down on
 * both nodes, and both in FAULT would serve nobody), so only all of them down
 * counts. Nothing when monitoring is off.
 */
export interface MonitoredLinks {
  required: string[];
  heartbeat: string[];
}

export function monitoredLinks(model: Model, heartbeatAddresses: string[], host: HostView): MonitoredLinks {
  if (!model.monitorLinks.enabled) return { required: [], heartbeat: [] };
  const plan = planAddresses({ present: claimedAddresses(model).map((r) => r.address), absent: [] }, host);
  const required = new Set([
    ...[...plan.add, ...plan.keep].map((placed) => placed.device),
    // an address that cannot be placed still names its device: watching it shows why
    ...plan.failed.flatMap((failure) => failure.address.device ?? []),
    ...model.monitorLinks.interfaces,
  ]);
  const heartbeat = devicesHolding(heartbeatAddresses, host).filter((device) => !required.has(device));
  return { required: [...required].sort(), heartbeat: heartbeat.sort() };
}

/** The peer's address on each heartbeat path, on the link that holds ours on that path. */
export function peerNeighbours(paths: ChannelPath[], host: HostView): NeighbourTarget[] {
  return paths.flatMap(({ local, remote }) =>
    devicesHolding([local], host).flatMap((device) => {
      const link = host.links.find((l) => l.name === device);
      return link ? [{ ifindex: link.index, device, address: remote }] : [];
    }),
  );
}

/** The election's view of the monitored links' states (undefined: nothing monitored). */
export function linkHealth(states: LinkState[] | undefined, links: MonitoredLinks): HealthSummary {
  if (!states) return { canServe: true, monitorLinks: false, links: [], fault: '' };
  const down = (devices: string[]) => states.filter((s) => devices.includes(s.device) && !s.up);
  const describe = (list: LinkState[]) => list.map((s) => `${s.device} (${s.condition})`).join(', ');
  const required = down(links.required);
  const heartbeat = down(links.heartbeat);
  const faults = [
    ...(required.length > 0 ? [`link down: ${describe(required)}`] : []),
    ...(links.heartbeat.length > 0 && heartbeat.length === links.heartbeat.length
      ? [`every heartbeat link down: ${describe(heartbeat)}`]
      : []),
  ];
  return {
    canServe: faults.length === 0,
    monitorLinks: true,
    links: states.map((s) => ({ name: s.device, up: s.up })),
    fault: faults.join('; '),
  };
}
