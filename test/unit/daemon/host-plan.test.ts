// What the host controller derives from the model: claimed and managed addresses,
// the monitored links, the health they give; and what a reload may change.
import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/index.js';
import { claimedAddresses, linkHealth, managedAddresses, monitoredLinks, peerNeighbours } from '../../../src/daemon/host-plan.js';
import { configChanges, restartNeeded } from '../../../src/daemon/reload.js';
import type { HostView } from '../../../src/net/index.js';
import { model, pairConfig as base } from './pair-config.js';

const services = `virtual_services:
  - name: www
    vip: { address: 192.0.2.100/24, device: eth0, label: "eth0:1" }
    port: 80
    real_servers: [{ name: ics01, address: 198.51.100.10 }]
  - name: dns
    vip: { address: 192.0.2.100/24, device: eth0, label: "eth0:1" }
    protocol: udp
    port: 53
    real_servers: [{ name: ics01, address: 198.51.100.10 }]
  - name: old
    active: false
    vip: { address: 192.0.2.101/24, device: eth0, label: "eth0:2" }
    port: 80
    real_servers: [{ name: ics01, address: 198.51.100.10 }]
  - name: v6
    vip: { address: 2001:db8::100/64 }
    port: 80
    real_servers: [{ name: ics01, address: 2001:db8:1::10 }]
`;

const link = (index: number, name: string) => ({ index, name, adminUp: true, running: true, mac: Buffer.alloc(6, index) });
const address = (index: number, bytes: number[], prefix: number) => ({ index, bytes: Buffer.from(bytes), prefix, secondary: false });
const v6 = (...groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);
const host: HostView = {
  links: [link(1, 'lo'), link(2, 'eth0'), link(3, 'eth1'), link(4, 'eth2')],
  addresses: [address(2, [192, 0, 2, 1], 24), address(3, [198, 51, 100, 1], 24), address(4, v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 64)],
};

describe('host plan', () => {
  it('claims the VIPs of active services once each, then the NAT gateway; manages the inactive ones too', async () => {
    const m = await model(base + services);
    expect(claimedAddresses(m).map((r) => [r.address.address, r.purpose])).toEqual([
      ['192.0.2.100', 'vip www, dns'],
      ['2001:db8::100', 'vip v6'],
      ['198.51.100.254', 'nat gateway'],
    ]);
    expect(managedAddresses(m).map((a) => a.address)).toEqual(['192.0.2.100', '192.0.2.101', '2001:db8::100', '198.51.100.254']);
  });

  it('requires the devices of the addresses (placed by subnet when none is given) and the extra ones; heartbeat-only devices count together', async () => {
    const m = await model(base + services + 'monitor_links: { interfaces: [eth9] }\n');
    expect(monitoredLinks(m, ['192.0.2.1', '198.51.100.1'], host)).toEqual({ required: ['eth0', 'eth1', 'eth2', 'eth9'], heartbeat: [] });
    const noGateway = await model(base.replace(/nat_router: .*\n/, '').replace('network: nat', 'network: direct') + services);
    expect(monitoredLinks(noGateway, ['192.0.2.1', '198.51.100.1'], host)).toEqual({ required: ['eth0', 'eth2'], heartbeat: ['eth1'] });
    const off = await model(base + services + 'monitor_links: { enabled: false }\n');
    expect(monitoredLinks(off, ['192.0.2.1'], host)).toEqual({ required: [], heartbeat: [] });
  });

  it("names the peer's address on each heartbeat path with the link holding ours; none for an address not on the host", () => {
    const paths = [
      { local: '192.0.2.1', remote: '192.0.2.2' },
      { local: '198.51.100.1', remote: '198.51.100.2' },
      { local: '203.0.113.1', remote: '203.0.113.2' },
    ];
    expect(peerNeighbours(paths, host)).toEqual([
      { ifindex: 2, device: 'eth0', address: '192.0.2.2' },
      { ifindex: 3, device: 'eth1', address: '198.51.100.2' },
    ]);
  });

  it('turns link states into the election health summary', () => {
    const up = (device: string) => ({ device, up: true, condition: 'up' as const });
    const down = (device: string) => ({ device, up: false, condition: 'no-carrier' as const });
    const links = { required: ['eth0', 'eth9'], heartbeat: ['eth1', 'eth2'] };
    expect(linkHealth(undefined, links)).toEqual({ canServe: true, monitorLinks: false, links: [], fault: '' });
    // one heartbeat path down: that is what the other one is for
    expect(linkHealth([up('eth0'), up('eth9'), down('eth1'), up('eth2')], links)).toMatchObject({ canServe: true, fault: '' });
    expect(linkHealth([up('eth0'), { device: 'eth9', up: false, condition: 'missing' }, down('eth1'), down('eth2')], links)).toEqual({
      canServe: false,
      monitorLinks: true,
      links: [
        { name: 'eth0', up: true },
        { name: 'eth9', up: false },
        { name: 'eth1', up: false },
        { name: 'eth2', up: false },
      ],
      fault: 'link down: eth9 (missing); every heartbeat link down: eth1 (no-carrier), eth2 (no-carrier)',
    });
  });
});

describe('reload', () => {
  it('lists what changed, one line each', async () => {
    const before = await model(base + services);
    const after = await model(
      base
        .replace('serial_no: 1', 'serial_no: 2')
        .replace('keepalive: 50ms', 'keepalive: 20ms')
        .replace(
          'address: 192.0.2.1, private_address: 198.51.100.1, priority: 100',
          'address: 192.0.2.1, private_address: 198.51.100.1, priority: 150',
        ) +
        services
          .replace('192.0.2.101/24, device: eth0, label: "eth0:2"', '192.0.2.102/24, device: eth0, label: "eth0:2"')
          .replace('port: 53', 'port: 5353') +
        'hooks: { notify: /usr/local/bin/notify }\n',
    );
    expect(await configChanges(before, after)).toEqual([
      'serial_no: 1 -> 2',
      'heartbeat.keepalive: 50ms -> 20ms',
      'nodes.ifw01.priority: 100 -> 150',
      'addresses: +192.0.2.102/24 (eth0:2), -192.0.2.101/24 (eth0:2)',
      'virtual_services: ~dns, ~old',
      'hooks.notify: none -> /usr/local/bin/notify',
    ]);
    expect(await configChanges(before, before)).toEqual([]);
  });

  it('finds services and addresses by key when the file moved them, and a VIP two services shared', async () => {
    const before = await model(base + services);
    const [www, dns, old, v6] = before.virtualServices as [Model['virtualServices'][0], ...Model['virtualServices']];
    // www gone: its VIP stays, as dns still has it; the rest in another order, dns changed
    const after: Model = { ...before, virtualServices: [v6!, old!, { ...dns!, port: 5353 }] };
    expect(await configChanges(before, after)).toEqual(['virtual_services: -www, ~dns']);
    expect(await configChanges(after, before)).toEqual(['virtual_services: +www, ~dns']);
    // in the same order: the VIP's first place in step, the other out of step on one side only
    const kept: Model = { ...before, virtualServices: [{ ...dns!, port: 5353 }, old!, v6!] };
    expect(await configChanges(before, kept)).toEqual(['virtual_services: -www, ~dns']);
    expect(await configChanges(kept, before)).toEqual(['virtual_services: +www, ~dns']);
    // the VIP of one service moved to one another service had, in another place
    const moved: Model = { ...before, virtualServices: [{ ...old!, vip: www.vip }, v6!, www, dns!] };
    expect(await configChanges(before, moved)).toEqual(['addresses: -192.0.2.101/24 (eth0:2)', 'virtual_services: ~old']);
  });

  it('names at most 20 changed services, then counts the rest (a reload of a big table)', async () => {
    const before = await model(base + services);
    const many = Array.from({ length: 5000 }, (_, i) => ({ ...before.virtualServices[0]!, name: `svc${i}`, port: 1000 + i }));
    const after: Model = { ...before, virtualServices: [...before.virtualServices, ...many] };
    const [line] = await configChanges(before, after);
    expect(line).toBe(
      `virtual_services: ${many
        .slice(0, 20)
        .map((s) => `+${s.name}`)
        .join(', ')} and 4980 more`,
    );
  });

  it('needs a restart for another pair, other node addresses or another port', async () => {
    const m = await model(base);
    const [ifw01, ifw02] = m.nodes as [Model['nodes'][0], Model['nodes'][0]];
    const running = { model: m, self: ifw01, peer: ifw02 };
    expect(restartNeeded(running, running)).toEqual([]);
    const moved = await model(
      base.replace('address: 192.0.2.2,', 'address: 192.0.2.3,').replace('keepalive: 50ms', 'keepalive: 50ms, port: 600'),
    );
    expect(restartNeeded(running, { model: moved, self: moved.nodes[0]!, peer: moved.nodes[1]! })).toEqual([
      "peer's address: 192.0.2.2 -> 192.0.2.3",
      'heartbeat.port: 539 -> 600',
    ]);
    expect(restartNeeded(running, { model: m, self: ifw02, peer: ifw01 })).toEqual(
      expect.arrayContaining(['this node: ifw01 -> ifw02', 'peer: ifw02 -> ifw01']),
    );
  });

  it('needs a restart to turn metrics on or off or move them', async () => {
    const m = await model(base);
    const running = { model: m, self: m.nodes[0]!, peer: m.nodes[1]! };
    const metrics = await model(`${base}\nmetrics: { listen: 127.0.0.1:9539 }\n`);
    expect(restartNeeded(running, { ...running, model: metrics })).toEqual(['metrics: none -> {"host":"127.0.0.1","port":9539}']);
  });
});
