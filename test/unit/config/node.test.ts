import { describe, expect, it } from 'vitest';
import { parseConfig, resolveLocalNode, type HostAddress, type Model } from '../../../src/config/index.js';
import { configError, noHosts, services, where } from './helpers.js';

const pair = `nodes:
  - {name: ifw01, address: 198.51.100.11, private_address: 192.168.3.251}
  - {name: ifw02, address: 198.51.100.12, private_address: 192.168.3.252}
nat_router: {address: 192.168.3.254/24, device: eth1, label: eth1:1}
virtual_services:
  - name: www
    vip: {address: 198.51.100.10, device: eth0, label: eth0:1}
    port: 80
    real_servers: [{address: 192.168.3.2}]
`;

const load = async (text = pair): Promise<Model> => (await parseConfig(text, 'tandem.yaml', { hosts: noHosts, services })).model;

describe('which node this host is', () => {
  it('is the node given with --node', async () => {
    const { self, peer } = resolveLocalNode(await load(), { node: 'ifw02', hostAddresses: ['198.51.100.11'], hostname: 'ifw01' });
    expect([self.name, peer?.name]).toEqual(['ifw02', 'ifw01']);
  });

  it('is otherwise the node whose address (public or private) is on this host, as in Piranha', async () => {
    const model = await load();
    expect(resolveLocalNode(model, { hostAddresses: ['127.0.0.1', '198.51.100.12'], hostname: 'whatever' }).self.name).toBe('ifw02');
    expect(resolveLocalNode(model, { hostAddresses: ['192.168.3.251'], hostname: 'whatever' }).self.name).toBe('ifw01');
  });

  it('is otherwise the node named like the host (short name or FQDN)', async () => {
    const model = await load();
    expect(resolveLocalNode(model, { hostAddresses: [], hostname: 'ifw02.example.net' }).self.name).toBe('ifw02');
    expect(resolveLocalNode(model, { hostAddresses: ['10.0.0.1'], hostname: 'IFW01' }).self.name).toBe('ifw01');
  });

  it('says why when it cannot tell', async () => {
    const model = await load();
    expect(() => resolveLocalNode(model, { node: 'ifw03', hostAddresses: [], hostname: 'x' })).toThrow(
      "no node named 'ifw03' in the configuration (nodes: ifw01, ifw02)",
    );
    expect(() => resolveLocalNode(model, { hostAddresses: ['198.51.100.11', '198.51.100.12'], hostname: 'x' })).toThrow('give --node NAME');
    expect(() => resolveLocalNode(model, { hostAddresses: ['10.0.0.1'], hostname: 'lab' })).toThrow(
      "cannot tell which node this host is: no node's address (ifw01 198.51.100.11, ifw02 198.51.100.12) is on this host, and no node is named 'lab'; give --node NAME",
    );
  });

  it('is a standalone director on this host when the configuration names no nodes', async () => {
    const model = await load('virtual_services: [{name: w, vip: {address: 192.0.2.10}, port: 80}]\n');
    expect(resolveLocalNode(model, { hostAddresses: ['127.0.0.1', '192.0.2.2'], hostname: 'director.example.net' })).toEqual({
      self: { name: 'director', address: '192.0.2.2', priority: 200 },
    });
  });
});

describe('checks against this host (--node)', () => {
  const ifw01: HostAddress[] = [
    { device: 'eth0', address: '198.51.100.11', prefix: 24 },
    { device: 'eth1', address: '192.168.3.251', prefix: 24 },
  ];
  const check = (addresses: HostAddress[], node = 'ifw01', text = pair) =>
    parseConfig(text, 'tandem.yaml', { hosts: noHosts, services, host: { node, addresses } });

  it('passes when every VIP lies in a subnet of its device', async () => {
    expect((await check(ifw01)).warnings).toEqual([]);
  });

  it('refuses a VIP outside every subnet of its device on this host', async () => {
    const addresses = [{ device: 'eth0', address: '203.0.113.11', prefix: 24 }, ifw01[1]!];
    const error = await configError(check(addresses));
    expect(error.diagnostics.map(where)).toEqual(['7:20 virtual_services[0].vip.address']);
    expect(error.diagnostics[0]).toMatchObject({
      message: '198.51.100.10 is outside every subnet of eth0 on this host',
      expected: 'an address in 203.0.113.11/24',
      found: '198.51.100.10',
    });
  });

  it('does not count the VIP itself, configured as /32, as its subnet', async () => {
    const addresses = [
      { device: 'eth0', address: '198.51.100.10', prefix: 32 },
      { device: 'eth0', address: '203.0.113.11', prefix: 24 },
      ifw01[1]!,
    ];
    const error = await configError(check(addresses));
    expect(error.diagnostics[0]?.message).toBe('198.51.100.10 is outside every subnet of eth0 on this host');
  });

  it("only warns about devices this host does not have, and about the node's address", async () => {
    const { warnings } = await check([{ device: 'eth0', address: '198.51.100.99', prefix: 24 }]);
    expect(warnings.map(where)).toEqual(['2:28 nodes[0].address', '4:23 nat_router.address']);
  });

  it('refuses a --node the configuration does not name', async () => {
    const error = await configError(check(ifw01, 'ifw9'));
    expect(error.diagnostics[0]).toMatchObject({ key: 'nodes', message: "no node named 'ifw9'", expected: 'one of ifw01, ifw02' });
  });
});
