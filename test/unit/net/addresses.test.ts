import { describe, expect, it } from 'vitest';
import type { ClaimedAddress } from '../../../src/config/model.js';
import { planAddresses, type HostView } from '../../../src/net/addresses.js';
import { ipBytes } from '../../../src/lib/address.js';
import type { HostAddress } from '../../../src/net/rtnl.js';

const mac = Buffer.from('020000000a01', 'hex');
const lo = { index: 1, name: 'lo', adminUp: true, running: true };
const eth0 = { index: 2, name: 'eth0', mac, adminUp: true, running: true };
const eth1 = { index: 3, name: 'eth1', mac: Buffer.from('020000000b01', 'hex'), adminUp: true, running: true };

function onHost(cidr: string, index: number, extra: Partial<HostAddress> = {}): HostAddress {
  const [address = '', prefix = ''] = cidr.split('/');
  const label = address.includes(':') ? {} : { label: index === 2 ? 'eth0' : index === 3 ? 'eth1' : 'lo' };
  return { index, bytes: ipBytes(address), prefix: Number(prefix), secondary: false, ...label, ...extra };
}

function host(...addresses: HostAddress[]): HostView {
  return {
    links: [lo, eth0, eth1],
    addresses: [
      onHost('127.0.0.1/8', 1),
      onHost('192.0.2.5/24', 2),
      onHost('198.51.100.5/24', 3),
      onHost('2001:db8::5/64', 2),
      ...addresses,
    ],
  };
}

const vip: ClaimedAddress = { address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0', label: 'eth0:1' };
const natGateway: ClaimedAddress = { address: '198.51.100.1', family: 4, prefix: 24, device: 'eth1', label: 'eth1:1' };
const vip6: ClaimedAddress = { address: '2001:db8::100', family: 6, prefix: 64, device: 'eth0' };

describe('planAddresses', () => {
  it('adds what is missing, on the configured device, with MAC and index for announcing', () => {
    const plan = planAddresses({ present: [vip, natGateway, vip6], absent: [] }, host());
    expect(plan.add.map((a) => [a.address, a.device, a.ifindex])).toEqual([
      ['192.0.2.100', 'eth0', 2],
      ['198.51.100.1', 'eth1', 3],
      ['2001:db8::100', 'eth0', 2],
    ]);
    expect(plan.add[0]?.mac).toEqual(mac);
    expect(plan.remove).toEqual([]);
    expect(plan.failed).toEqual([]);
  });

  it('is idempotent: what is already there with the same prefix and label is kept', () => {
    const plan = planAddresses(
      { present: [vip, vip6], absent: [] },
      host(onHost('192.0.2.100/24', 2, { label: 'eth0:1', secondary: true }), onHost('2001:db8::100/64', 2)),
    );
    expect(plan.add).toEqual([]);
    expect(plan.remove).toEqual([]);
    expect(plan.keep.map((a) => a.address)).toEqual(['192.0.2.100', '2001:db8::100']);
  });

  it('uses the device name as the label when none is configured', () => {
    const unlabelled = { ...vip, label: undefined };
    const plan = planAddresses({ present: [unlabelled], absent: [] }, host(onHost('192.0.2.100/24', 2, { label: 'eth0' })));
    expect(plan.keep).toHaveLength(1);
  });

  it('moves an address that sits on the wrong device or with another prefix or label', () => {
    const plan = planAddresses(
      { present: [vip, natGateway], absent: [] },
      host(onHost('192.0.2.100/32', 3, { label: 'eth1' }), onHost('198.51.100.1/24', 3, { label: 'eth1:9' })),
    );
    expect(plan.remove.map((r) => [r.address.address, r.device, r.prefix, r.why])).toEqual([
      ['192.0.2.100', 'eth1', 32, 'misplaced'],
      ['198.51.100.1', 'eth1', 24, 'misplaced'],
    ]);
    expect(plan.add.map((a) => a.address)).toEqual(['192.0.2.100', '198.51.100.1']);
  });

  it('releases managed addresses wherever they are and leaves everything else alone', () => {
    const plan = planAddresses(
      { present: [], absent: [vip, natGateway, vip6] },
      host(
        onHost('192.0.2.100/24', 2, { label: 'eth0:1', secondary: true }),
        onHost('192.0.2.100/32', 3), // a stale copy from an older configuration
        onHost('192.0.2.77/24', 2, { secondary: true }), // added by hand
        onHost('2001:db8::100/64', 2),
      ),
    );
    expect(plan.remove.map((r) => [r.address.address, r.device, r.why])).toEqual([
      ['192.0.2.100', 'eth0', 'released'],
      ['192.0.2.100', 'eth1', 'released'],
      ['2001:db8::100', 'eth0', 'released'],
    ]);
    expect(plan.add).toEqual([]);
    expect(plan.promoteSecondaries).toEqual([]);
  });

  it('finds the device whose subnet holds a device-less address, longest prefix first', () => {
    const wide = onHost('192.0.0.1/16', 3);
    const plan = planAddresses(
      {
        present: [
          { address: '192.0.2.200', family: 4, prefix: 32 },
          { address: '2001:db8::200', family: 6, prefix: 128 },
        ],
        absent: [],
      },
      host(wide),
    );
    expect(plan.add.map((a) => [a.address, a.device, a.label])).toEqual([
      ['192.0.2.200', 'eth0', undefined],
      ['2001:db8::200', 'eth0', undefined],
    ]);
  });

  it('does not place a device-less address by the subnet of another managed address', () => {
    const plan = planAddresses(
      { present: [{ address: '203.0.113.10', family: 4, prefix: 32 }], absent: [{ address: '203.0.113.1', family: 4, prefix: 24 }] },
      host(onHost('203.0.113.1/24', 3)),
    );
    expect(plan.failed.map((f) => f.reason)).toEqual(['no device has a subnet holding 203.0.113.10; configure the device for it']);
  });

  it('leaves a device-less address on the device it already sits on', () => {
    const plan = planAddresses(
      { present: [{ address: '192.0.2.200', family: 4, prefix: 32 }], absent: [] },
      host(onHost('192.0.2.200/32', 3, { label: 'eth1' })),
    );
    expect(plan.keep.map((a) => a.device)).toEqual(['eth1']);
    expect(plan.remove).toEqual([]);
  });

  it('reports what cannot be placed and goes on with the rest', () => {
    const plan = planAddresses(
      {
        present: [
          { ...vip, device: 'eth9', label: undefined },
          { ...vip, address: '192.0.2.101', label: 'eth1:1' },
          { ...vip, address: '192.0.2.102', label: 'eth0:waytoolonglabel' },
          { address: '203.0.113.9', family: 4, prefix: 32 },
          natGateway,
        ],
        absent: [],
      },
      host(),
    );
    expect(plan.failed.map((f) => [f.address.address, f.reason])).toEqual([
      ['192.0.2.100', 'device eth9 does not exist'],
      ['192.0.2.101', 'label eth1:1 must be eth0 or start with "eth0:"'],
      ['192.0.2.102', 'label eth0:waytoolonglabel is longer than 15 characters'],
      ['203.0.113.9', 'no device has a subnet holding 203.0.113.9; configure the device for it'],
    ]);
    expect(plan.add.map((a) => a.address)).toEqual(['198.51.100.1']);
  });

  it('wants an address present when it is named both present and absent', () => {
    const plan = planAddresses({ present: [vip], absent: [vip] }, host(onHost('192.0.2.100/24', 2, { label: 'eth0:1', secondary: true })));
    expect(plan.remove).toEqual([]);
    expect(plan.keep).toHaveLength(1);
  });

  it('notices when removing a primary VIP would take a hand-added secondary with it', () => {
    const ownSubnet = { address: '203.0.113.10', family: 4 as const, prefix: 24, device: 'eth0' };
    const plan = planAddresses(
      { present: [], absent: [ownSubnet, { ...ownSubnet, address: '203.0.113.11' }] },
      host(
        onHost('203.0.113.10/24', 2),
        onHost('203.0.113.11/24', 2, { secondary: true }), // managed: removed as well
        onHost('203.0.113.77/24', 2, { secondary: true }), // by hand
        onHost('203.0.113.99/25', 2), // another prefix length: not its secondary
      ),
    );
    expect(plan.promoteSecondaries).toEqual([{ device: 'eth0', keeps: ['203.0.113.77/24'] }]);
  });
});
