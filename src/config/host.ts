// Checks that need the host the configuration is meant for: with `--node NAME` the
// operator says "this host is NAME", so a VIP that lies outside every subnet of its
// device here would be claimed where no neighbour can reach it.
import { hostname, networkInterfaces } from 'node:os';
import { inSubnet, ipBytes, parseIp } from '../lib/address.js';
import type { DiagnosticSink } from './diagnostics.js';
import type { ClaimedAddress, Model } from './model.js';
import type { DocPath, Locator } from './normalise.js';

/** An address configured on this host; `device` is the base device (no alias label). */
export interface HostAddress {
  device: string;
  address: string;
  prefix: number;
}

export interface HostFacts {
  /** The node this host is (from --node). */
  node: string;
  addresses: HostAddress[];
}

/** This machine's addresses (os.networkInterfaces reports alias labels as names). */
export function systemHostAddresses(): HostAddress[] {
  return Object.entries(networkInterfaces()).flatMap(([name, entries]) =>
    (entries ?? []).flatMap((entry) => {
      const prefix = Number(entry.cidr?.split('/')[1]);
      return Number.isInteger(prefix) ? [{ device: name.split(':')[0] ?? name, address: entry.address, prefix }] : [];
    }),
  );
}

export function systemHostname(): string {
  return hostname();
}

export function checkHost(model: Model, facts: HostFacts, locator: Locator, sink: DiagnosticSink): void {
  const report: Report = {
    error: (path, finding) => {
      const place = locator.value(path);
      sink.error(place, { key: place.key, ...finding });
    },
    warning: (path, message) => {
      const place = locator.value(path);
      sink.warning(place, { key: place.key, message });
    },
  };
  const nodeIndex = model.nodes.findIndex((node) => node.name === facts.node);
  const node = model.nodes[nodeIndex];
  if (model.nodes.length > 0 && node === undefined) {
    report.error(['nodes'], {
      message: `no node named '${facts.node}'`,
      expected: `one of ${model.nodes.map((n) => n.name).join(', ')}`,
      found: `'${facts.node}'`,
    });
    return;
  }
  if (node !== undefined && !facts.addresses.some((entry) => parseIp(entry.address)?.address === node.address)) {
    report.warning(['nodes', nodeIndex, 'address'], `node ${node.name}'s address ${node.address} is not on this host`);
  }
  const claimed: [DocPath, ClaimedAddress][] = model.virtualServices.flatMap((service, index) =>
    service.vip !== undefined ? [[['virtual_services', index, 'vip', 'address'], service.vip] as [DocPath, ClaimedAddress]] : [],
  );
  if (model.natRouter !== undefined) claimed.push([['nat_router', 'address'], model.natRouter]);
  for (const [path, address] of claimed) checkClaimedAddress(path, address, facts.addresses, report);
}

interface Report {
  error(path: DocPath, finding: { message: string; expected: string; found: string }): void;
  warning(path: DocPath, message: string): void;
}

function checkClaimedAddress(path: DocPath, claimed: ClaimedAddress, hostAddresses: HostAddress[], report: Report): void {
  if (claimed.device === undefined) return;
  const onDevice = hostAddresses.filter((entry) => entry.device === claimed.device);
  if (onDevice.length === 0) {
    report.warning(path, `this host has no device ${claimed.device} (or it has no address)`);
    return;
  }
  const address = ipBytes(claimed.address);
  const subnets = onDevice
    .map((entry) => ({ ip: parseIp(entry.address), prefix: entry.prefix }))
    .filter((entry) => entry.ip !== undefined && entry.ip.family === claimed.family && entry.ip.address !== claimed.address);
  if (subnets.some((subnet) => subnet.ip !== undefined && inSubnet(address, ipBytes(subnet.ip.address), subnet.prefix))) return;
  const shown = subnets.map((subnet) => `${subnet.ip?.address}/${subnet.prefix}`).join(', ') || `no IPv${claimed.family} subnet`;
  report.error(path, {
    message: `${claimed.address} is outside every subnet of ${claimed.device} on this host`,
    expected: `an address in ${shown}`,
    found: claimed.address,
  });
}
