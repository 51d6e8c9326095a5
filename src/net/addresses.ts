// The VIPs and the NAT gateway address on the host, driven by desired state: read
// what the kernel has, plan the difference (pure), apply it over rtnetlink. Only the
// addresses the caller names are ever touched; everything else on the host (the
// node's own addresses, anything added by hand) is left alone.
import type { ClaimedAddress } from '../config/model.js';
import { createStats, type AddressStats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import { inSubnet, ipBytes } from '../lib/address.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { AddressNetlink, AF_INET, AF_INET6, RtnetlinkError, type HostAddress, type HostLink } from './rtnl.js';
import { writeSysctl } from './sysctl.js';

/** IFNAMSIZ - 1: the kernel's limit for link names and IPv4 labels. */
const MAX_LABEL = 15;

export interface HostView {
  links: HostLink[];
  addresses: HostAddress[];
}

/** A claimed address as it sits on the host: on which link, announced from which MAC. */
export interface PlacedAddress extends ClaimedAddress {
  device: string;
  ifindex: number;
  /** Absent on links without ARP / neighbour discovery (nothing to announce there). */
  mac?: Buffer;
}

export interface RemovedAddress {
  address: ClaimedAddress;
  device: string;
  ifindex: number;
  /** The prefix it had on the host (which may differ from the configured one). */
  prefix: number;
  /** `released`: not wanted on this host; `misplaced`: wanted, but on another device or with another prefix or label. */
  why: 'released' | 'misplaced';
}

export interface AddressFailure {
  address: ClaimedAddress;
  reason: string;
}

export interface AddressPlan {
  remove: RemovedAddress[];
  add: PlacedAddress[];
  keep: PlacedAddress[];
  failed: AddressFailure[];
  /**
   * Links where a planned removal of a primary IPv4 address would make the kernel
   * delete secondary addresses tandem does not manage, unless promote_secondaries is on.
   */
  promoteSecondaries: Array<{ device: string; keeps: string[] }>;
}

export interface DesiredAddresses {
  /** Must be on the host afterwards. */
  present: ClaimedAddress[];
  /** Must not be anywhere on the host afterwards (ignored if also in `present`). */
  absent: ClaimedAddress[];
}

const keyOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The changes that make `host` hold exactly the desired addresses among those named. Pure. */
export function planAddresses(desired: DesiredAddresses, host: HostView): AddressPlan {
  const plan: AddressPlan = { remove: [], add: [], keep: [], failed: [], promoteSecondaries: [] };
  const linkByIndex = new Map(host.links.map((link) => [link.index, link]));
  const wanted = new Map<string, ClaimedAddress>();
  for (const address of desired.present) {
    const key = keyOf(ipBytes(address.address));
    if (!wanted.has(key)) wanted.set(key, address);
  }
  const managedKeys = new Set([...wanted.keys(), ...desired.absent.map((a) => keyOf(ipBytes(a.address)))]);
  // indexed once: a director may carry hundreds of VIPs, and this runs between heartbeats
  const onHostByKey = new Map<string, HostAddress[]>();
  for (const found of host.addresses) {
    const key = keyOf(found.bytes);
    onHostByKey.set(key, [...(onHostByKey.get(key) ?? []), found]);
  }
  const unmanaged = host.addresses.filter((a) => !managedKeys.has(keyOf(a.bytes)));

  for (const address of desired.absent) {
    const key = keyOf(ipBytes(address.address));
    if (wanted.has(key)) continue;
    for (const found of onHostByKey.get(key) ?? []) {
      plan.remove.push(removal(address, found, linkByIndex, 'released'));
    }
  }

  for (const [key, address] of wanted) {
    const onHost = onHostByKey.get(key) ?? [];
    const link = placeOn(address, onHost, unmanaged, host.links, linkByIndex);
    if (typeof link === 'string') {
      plan.failed.push({ address, reason: link });
      continue;
    }
    const placed: PlacedAddress = {
      ...address,
      device: link.name,
      ifindex: link.index,
      ...(link.mac ? { mac: link.mac } : {}),
    };
    const label = address.family === 4 ? (address.label ?? link.name) : undefined;
    const exact = onHost.find((a) => a.index === link.index && a.prefix === address.prefix && a.label === label);
    for (const found of onHost) {
      if (found !== exact) plan.remove.push(removal(address, found, linkByIndex, 'misplaced'));
    }
    (exact ? plan.keep : plan.add).push(placed);
  }

  plan.promoteSecondaries = secondariesAtRisk(plan.remove, host, onHostByKey, managedKeys, linkByIndex);
  return plan;
}

/** The devices that hold these addresses on the host (e.g. the node's own heartbeat addresses). Pure. */
export function devicesHolding(addresses: string[], host: HostView): string[] {
  const wanted = new Set(addresses.map((address) => keyOf(ipBytes(address))));
  const names = new Map(host.links.map((link) => [link.index, link.name]));
  const devices = host.addresses.filter((a) => wanted.has(keyOf(a.bytes))).flatMap((a) => names.get(a.index) ?? []);
  return [...new Set(devices)];
}

function removal(
  address: ClaimedAddress,
  found: HostAddress,
  linkByIndex: Map<number, HostLink>,
  why: RemovedAddress['why'],
): RemovedAddress {
  const device = linkByIndex.get(found.index)?.name ?? `#${found.index}`;
  return { address, device, ifindex: found.index, prefix: found.prefix, why };
}

/** The link an address belongs on, or why it cannot be placed. */
function placeOn(
  address: ClaimedAddress,
  onHost: HostAddress[],
  unmanaged: HostAddress[],
  links: HostLink[],
  linkByIndex: Map<number, HostLink>,
): HostLink | string {
  let link: HostLink | undefined;
  if (address.device !== undefined) {
    link = links.find((l) => l.name === address.device);
    if (!link) return `device ${address.device} does not exist`;
  } else {
    // Already on the host: leave it where it is rather than moving it between links.
    const present = onHost[0] && linkByIndex.get(onHost[0].index);
    link = present || subnetLink(address, unmanaged, linkByIndex);
    if (!link) {
      return `no device has a subnet holding ${address.address}; configure the device for it`;
    }
  }
  if (address.family === 4 && address.label !== undefined) {
    const { label } = address;
    if (label !== link.name && !label.startsWith(`${link.name}:`)) {
      return `label ${label} must be ${link.name} or start with "${link.name}:"`;
    }
    if (label.length > MAX_LABEL) return `label ${label} is longer than ${MAX_LABEL} characters`;
  }
  return link;
}

/** The link whose own (unmanaged) address has the longest prefix holding `address`. */
function subnetLink(address: ClaimedAddress, unmanaged: HostAddress[], linkByIndex: Map<number, HostLink>): HostLink | undefined {
  const bytes = ipBytes(address.address);
  const holders = unmanaged
    .filter((a) => inSubnet(bytes, a.bytes, a.prefix) && linkByIndex.has(a.index))
    .sort((a, b) => b.prefix - a.prefix);
  return holders[0] && linkByIndex.get(holders[0].index);
}

/**
 * The kernel deletes an IPv4 primary address together with the secondaries of its
 * subnet unless promote_secondaries is set. A VIP becomes primary when it is the first
 * address of its subnet on the link; an address added by hand after it is secondary.
 */
function secondariesAtRisk(
  removals: RemovedAddress[],
  host: HostView,
  onHostByKey: Map<string, HostAddress[]>,
  managedKeys: Set<string>,
  linkByIndex: Map<number, HostLink>,
): AddressPlan['promoteSecondaries'] {
  const atRisk = new Map<number, Set<string>>();
  const unmanagedSecondaries = host.addresses.filter((a) => a.secondary && a.bytes.length === 4 && !managedKeys.has(keyOf(a.bytes)));
  if (unmanagedSecondaries.length === 0) return [];
  for (const removed of removals) {
    if (removed.address.family !== 4) continue;
    const bytes = ipBytes(removed.address.address);
    const primary = onHostByKey.get(keyOf(bytes))?.find((a) => a.index === removed.ifindex && !a.secondary);
    if (!primary) continue;
    for (const other of unmanagedSecondaries) {
      if (other.index !== removed.ifindex || other.prefix !== primary.prefix) continue;
      if (!inSubnet(other.bytes, bytes, primary.prefix)) continue;
      const kept = atRisk.get(removed.ifindex) ?? new Set<string>();
      kept.add(`${[...other.bytes].join('.')}/${other.prefix}`);
      atRisk.set(removed.ifindex, kept);
    }
  }
  return [...atRisk].map(([index, keeps]) => ({
    device: linkByIndex.get(index)?.name ?? `#${index}`,
    keeps: [...keeps],
  }));
}

export interface ReconcileReport {
  added: PlacedAddress[];
  kept: PlacedAddress[];
  removed: RemovedAddress[];
  failed: AddressFailure[];
}

/** Called for each wanted address as soon as it is on the host (added or already there). */
export type OnPresent = (placed: PlacedAddress) => void;

const cidr = (a: { address: string }, prefix: number) => `${a.address}/${prefix}`;

export interface AddressManagerOptions {
  /** Where additions, removals and failures are counted; default: counters of its own. */
  stats?: AddressStats;
}

/**
 * Claims and releases addresses on this host over rtnetlink, in the network namespace
 * the process runs in. Reconciles are serialized: one finishes before the next reads
 * the host. The kernel answers each request before the call returns, so a reconcile with
 * nothing before it reads, adds and calls onPresent (a claim's announcement) at once,
 * before the call returns. Per-address problems are reported (and logged), never thrown;
 * only a failure to read the host rejects.
 */
export class AddressManager {
  private readonly serial = new SerialQueue();
  private readonly logger: Logger;
  private readonly netlink = new AddressNetlink();
  private readonly stats: AddressStats;

  constructor(logger: Logger, options: AddressManagerOptions = {}) {
    this.logger = logger.child({ component: 'addresses' });
    this.stats = options.stats ?? createStats().address;
  }

  claim(addresses: ClaimedAddress[], onPresent?: OnPresent): Promise<ReconcileReport> {
    return this.reconcile({ present: addresses, absent: [] }, onPresent);
  }

  release(addresses: ClaimedAddress[]): Promise<ReconcileReport> {
    return this.reconcile({ present: [], absent: addresses });
  }

  reconcile(desired: DesiredAddresses, onPresent?: OnPresent): Promise<ReconcileReport> {
    return this.serial.start(() => Promise.resolve(this.apply(desired, onPresent)));
  }

  /** Reads the links and addresses of this host. */
  readHost(): Promise<HostView> {
    try {
      return Promise.resolve(this.netlink.readHost());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  close(): void {
    this.netlink.close();
  }

  private apply(desired: DesiredAddresses, onPresent?: OnPresent): ReconcileReport {
    const plan = planAddresses(desired, this.netlink.readHost());
    const report: ReconcileReport = { added: [], kept: plan.keep, removed: [], failed: [...plan.failed] };
    for (const failure of plan.failed) {
      this.stats.failed.inc({ operation: 'place' });
      this.logger.error({ event: 'address.failed', address: failure.address.address, reason: failure.reason }, 'cannot place address');
    }
    for (const { device, keeps } of plan.promoteSecondaries) {
      this.logger.warn(
        { event: 'address.promote-secondaries', device, keeps },
        `enabling promote_secondaries on ${device} so removing a VIP keeps ${keeps.join(', ')}`,
      );
      try {
        writeSysctl(['net', 'ipv4', 'conf', device, 'promote_secondaries'], '1');
      } catch (error) {
        this.logger.error({ event: 'address.promote-secondaries', device, err: error }, 'cannot set promote_secondaries');
      }
    }
    // The kept ones are announced first: they are already serving.
    for (const placed of plan.keep) onPresent?.(placed);
    for (const removed of plan.remove) this.remove(removed, report);
    for (const placed of plan.add) this.add(placed, report, onPresent);
    return report;
  }

  private add(placed: PlacedAddress, report: ReconcileReport, onPresent?: OnPresent): void {
    const family = placed.family === 4 ? AF_INET : AF_INET6;
    const label = placed.family === 4 ? (placed.label ?? placed.device) : undefined;
    try {
      this.netlink.add({
        family,
        index: placed.ifindex,
        prefix: placed.prefix,
        bytes: ipBytes(placed.address),
        ...(label !== undefined && { label }),
      });
    } catch (error) {
      if (!(error instanceof RtnetlinkError && error.code === 'EEXIST')) {
        report.failed.push({ address: placed, reason: (error as Error).message });
        this.stats.failed.inc({ operation: 'add' });
        this.logger.error(
          { event: 'address.failed', address: cidr(placed, placed.prefix), device: placed.device, err: error },
          'cannot add address',
        );
        return;
      }
    }
    report.added.push(placed);
    this.stats.added.inc();
    onPresent?.(placed);
    this.logger.info(
      { event: 'address.added', address: cidr(placed, placed.prefix), device: placed.device, label: placed.label },
      `added ${cidr(placed, placed.prefix)} on ${placed.device}`,
    );
  }

  private remove(removed: RemovedAddress, report: ReconcileReport): void {
    const family = removed.address.family === 4 ? AF_INET : AF_INET6;
    try {
      this.netlink.remove({ family, index: removed.ifindex, prefix: removed.prefix, bytes: ipBytes(removed.address.address) });
    } catch (error) {
      if (!(error instanceof RtnetlinkError && error.code === 'EADDRNOTAVAIL')) {
        report.failed.push({ address: removed.address, reason: (error as Error).message });
        this.stats.failed.inc({ operation: 'remove' });
        this.logger.error(
          { event: 'address.failed', address: cidr(removed.address, removed.prefix), device: removed.device, err: error },
          'cannot remove address',
        );
        return;
      }
    }
    report.removed.push(removed);
    this.stats.removed.inc({ why: removed.why });
    this.logger.info(
      { event: 'address.removed', address: cidr(removed.address, removed.prefix), device: removed.device, why: removed.why },
      `removed ${cidr(removed.address, removed.prefix)} from ${removed.device} (${removed.why})`,
    );
  }
}
