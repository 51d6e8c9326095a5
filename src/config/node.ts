// Which node of the configuration this host is: `--node NAME`, else the node whose
// address is on this host (Piranha's rule), else the node named like the host.
import { parseIp } from '../lib/address.js';
import { defaultPriority } from './defaults.js';
import type { Model, NodeSpec } from './model.js';

export interface LocalNodeOptions {
  node?: string;
  hostAddresses: string[];
  hostname: string;
}

export interface LocalNode {
  self: NodeSpec;
  peer?: NodeSpec;
}

/** Throws an Error saying why when the node cannot be determined. A configuration that
 *  names no nodes (ipvsadm rules, lvs.conf) describes a standalone director: this host. */
export function resolveLocalNode(model: Model, options: LocalNodeOptions): LocalNode {
  const local = new Set(options.hostAddresses.map((address) => parseIp(address)?.address).filter((a) => a !== undefined));
  const shortHostname = options.hostname.split('.')[0] ?? options.hostname;
  if (model.nodes.length === 0) return { self: standaloneNode(options.node ?? shortHostname, local) };
  const self = pickNode(model.nodes, options, local, shortHostname);
  const peer = model.nodes.find((node) => node !== self);
  return peer !== undefined ? { self, peer } : { self };
}

function pickNode(nodes: NodeSpec[], options: LocalNodeOptions, local: Set<string>, shortHostname: string): NodeSpec {
  const names = nodes.map((node) => node.name).join(', ');
  if (options.node !== undefined) {
    const named = nodes.find((node) => node.name === options.node);
    if (named === undefined) throw new Error(`no node named '${options.node}' in the configuration (nodes: ${names})`);
    return named;
  }
  const byAddress = nodes.filter(
    (node) => local.has(node.address) || (node.privateAddress !== undefined && local.has(node.privateAddress)),
  );
  if (byAddress.length > 1)
    throw new Error(`the addresses of several nodes (${byAddress.map((n) => n.name).join(', ')}) are on this host; give --node NAME`);
  if (byAddress[0] !== undefined) return byAddress[0];
  const hostname = options.hostname.toLowerCase();
  const byName = nodes.find((node) => node.name.toLowerCase() === hostname || node.name.toLowerCase() === shortHostname.toLowerCase());
  if (byName !== undefined) return byName;
  const addresses = nodes.map((node) => `${node.name} ${node.address}`).join(', ');
  throw new Error(
    `cannot tell which node this host is: no node's address (${addresses}) is on this host, and no node is named '${options.hostname}'; give --node NAME`,
  );
}

function standaloneNode(name: string, local: Set<string>): NodeSpec {
  const address = [...local].find((candidate) => candidate !== '127.0.0.1' && candidate !== '::1');
  if (address === undefined)
    throw new Error('the configuration names no nodes and this host has no address to run a standalone director on');
  return { name, address, priority: defaultPriority(0) };
}
