// Which conntrack flows the active sends to the backup: by default the flows that use
// the NAT gateway (an address in its subnet: the real servers' own connections,
// masqueraded) and the VIPs; never one with a director's own address (management
// traffic, the heartbeats and this sync itself), which must not move with the role.
import type { Model } from '../config/model.js';
import { inSubnet, ipBytes, parseIpPrefix } from '../lib/address.js';

/** The addresses of a conntrack entry: its original direction, and the reply's if known. */
export interface FlowAddresses {
  source: string;
  destination: string;
  replySource?: string;
  replyDestination?: string;
}

interface Network {
  bytes: Buffer;
  prefix: number;
}

function network(cidr: string): Network {
  const parsed = parseIpPrefix(cidr);
  if (!parsed) throw new Error(`not a CIDR: ${cidr}`);
  return { bytes: ipBytes(parsed.address), prefix: parsed.prefix };
}

const host = (address: string): Network => network(address);

/** A predicate over a flow's addresses, built once from the configuration. */
export function conntrackFilter(model: Pick<Model, 'nodes' | 'natRouter' | 'virtualServices' | 'sync'>): (flow: FlowAddresses) => boolean {
  const filter = model.sync.conntrack?.filter ?? { include: [], exclude: [] };
  const include =
    filter.include.length > 0
      ? filter.include.map(network)
      : [
          ...(model.natRouter ? [network(`${model.natRouter.address}/${model.natRouter.prefix}`)] : []),
          ...model.virtualServices.flatMap((service) => (service.vip ? [host(service.vip.address)] : [])),
        ];
  const exclude = [
    ...filter.exclude.map(network),
    ...model.nodes.flatMap((node) => [node.address, ...(node.privateAddress ? [node.privateAddress] : [])]).map(host),
  ];
  const matches = (networks: Network[], addresses: Buffer[]) =>
    addresses.some((address) => networks.some(({ bytes, prefix }) => inSubnet(address, bytes, prefix)));
  return (flow) => {
    const addresses = [flow.source, flow.destination, flow.replySource, flow.replyDestination].flatMap((address) =>
      address === undefined ? [] : [ipBytes(address)],
    );
    return matches(include, addresses) && !matches(exclude, addresses);
  };
}
