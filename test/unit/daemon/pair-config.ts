// The pair the daemon tests configure: two directors with a private heartbeat path,
// NAT behind a gateway address.
import { parseConfig, type Model } from '../../../src/config/index.js';
import { noHosts } from '../config/helpers.js';

export const pairConfig = `cluster: lab
serial_no: 1
nodes:
  - { name: ifw01, address: 192.0.2.1, private_address: 198.51.100.1, priority: 100 }
  - { name: ifw02, address: 192.0.2.2, private_address: 198.51.100.2, priority: 100 }
heartbeat: { keepalive: 50ms, deadtime: 200ms }
auth: { key_file: /etc/tandem/authkey, key_id: 1 }
network: nat
nat_router: { address: 198.51.100.254/24, device: eth1, label: "eth1:1" }
`;

export async function model(text: string): Promise<Model> {
  return (await parseConfig(text, 'tandem.yaml', { hosts: noHosts })).model;
}
