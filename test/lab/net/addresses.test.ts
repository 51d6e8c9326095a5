// VIP and NAT-gateway aliases over rtnetlink, checked with `ip -j addr` in a namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimedAddress } from '../../../src/config/model.js';
import type { ReconcileReport } from '../../../src/net/index.js';
import type { Host, Lab } from '../../support/netns.js';
import { directorLab, type Agent } from './agent.js';

interface IpAddr {
  ifname: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number; label?: string; secondary?: boolean }>;
}

async function addressesOf(lab: Lab, host: Host): Promise<string[]> {
  const { stdout } = await lab.exec(host, 'ip', ['-j', 'addr', 'show']);
  return (JSON.parse(stdout) as IpAddr[]).flatMap((link) =>
    link.addr_info
      .filter((a) => a.family === 'inet' || !a.local.startsWith('fe80'))
      .map((a) => `${link.ifname} ${a.local}/${a.prefixlen}${a.label && a.label !== link.ifname ? ` ${a.label}` : ''}`),
  );
}

const vip: ClaimedAddress = { address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0', label: 'eth0:1' };
const vip2: ClaimedAddress = { address: '192.0.2.101', family: 4, prefix: 24, device: 'eth0', label: 'eth0:2' };
const natGateway: ClaimedAddress = { address: '198.51.100.1', family: 4, prefix: 24, device: 'eth1', label: 'eth1:1' };
const vip6: ClaimedAddress = { address: '2001:db8::100', family: 6, prefix: 64, device: 'eth0' };
const deviceless: ClaimedAddress = { address: '203.0.113.10', family: 4, prefix: 32 };
/** The first address of its subnet on eth1: a primary, not a secondary. */
const primaryVip: ClaimedAddress = { address: '198.18.0.10', family: 4, prefix: 24, device: 'eth1' };
const managed = [vip, vip2, natGateway, vip6, deviceless, primaryVip];

describe('addresses (lab)', () => {
  let lab: Lab;
  let director: Host;
  let agent: Agent;

  beforeAll(async () => {
    ({ lab, director, agent } = await directorLab({ eth0: ['192.0.2.1/24'], eth1: ['198.51.100.2/24', '203.0.113.2/24'] }));
  });
  afterAll(async () => (lab as Lab | undefined)?.destroy());

  it('claims addresses with their labels, prefixes and devices, as ip addr shows them', async () => {
    const report = await agent.call<ReconcileReport>('reconcile', { present: managed, absent: [] });
    expect(report.failed).toEqual([]);
    expect(report.added.map((a) => `${a.address} ${a.device}`).sort()).toEqual([
      '192.0.2.100 eth0',
      '192.0.2.101 eth0',
      '198.18.0.10 eth1',
      '198.51.100.1 eth1',
      '2001:db8::100 eth0',
      '203.0.113.10 eth1',
    ]);
    expect(await addressesOf(lab, director)).toEqual(
      expect.arrayContaining([
        'eth0 192.0.2.1/24',
        'eth0 192.0.2.100/24 eth0:1',
        'eth0 192.0.2.101/24 eth0:2',
        'eth0 2001:db8::100/64',
        'eth1 198.51.100.2/24',
        'eth1 198.51.100.1/24 eth1:1',
        'eth1 203.0.113.10/32',
        'eth1 198.18.0.10/24',
      ]),
    );
  });

  it('is idempotent: claiming again changes nothing', async () => {
    const before = await addressesOf(lab, director);
    const report = await agent.call<ReconcileReport>('reconcile', { present: managed, absent: [] });
    expect(report.added).toEqual([]);
    expect(report.removed).toEqual([]);
    expect(report.kept).toHaveLength(managed.length);
    expect(await addressesOf(lab, director)).toEqual(before);
  });

  it('releases every managed address and only those, keeping a hand-added secondary of a primary VIP', async () => {
    await lab.exec(director, 'ip', ['addr', 'add', '198.18.0.77/24', 'dev', 'eth1']); // secondary to the VIP
    await lab.exec(director, 'ip', ['addr', 'add', '192.0.2.77/24', 'dev', 'eth0', 'label', 'eth0:77']);
    const report = await agent.call<ReconcileReport>('reconcile', { present: [], absent: managed });
    expect(report.failed).toEqual([]);
    expect(report.removed).toHaveLength(managed.length);
    expect((await addressesOf(lab, director)).sort()).toEqual([
      'eth0 192.0.2.1/24',
      'eth0 192.0.2.77/24 eth0:77',
      'eth1 198.18.0.77/24',
      'eth1 198.51.100.2/24',
      'eth1 203.0.113.2/24',
      'lo 127.0.0.1/8',
      'lo ::1/128',
    ]);
    const { stdout } = await lab.exec(director, 'sysctl', ['-n', 'net.ipv4.conf.eth1.promote_secondaries']);
    expect(stdout.trim()).toBe('1');
  });

  it('on a backup starting after a crash while active: removes the stale VIPs, leaves hand-added addresses', async () => {
    await lab.ipBatch(director.netns, [
      'addr add 192.0.2.100/24 dev eth0 label eth0:1',
      'addr add 198.51.100.1/24 dev eth1 label eth1:1',
      'addr add 2001:db8::100/64 dev eth0 nodad',
    ]);
    const report = await agent.call<ReconcileReport>('reconcile', { present: [], absent: managed });
    expect(report.removed.map((r) => r.address.address).sort()).toEqual(['192.0.2.100', '198.51.100.1', '2001:db8::100']);
    const left = await addressesOf(lab, director);
    expect(left).toContain('eth0 192.0.2.77/24 eth0:77');
    expect(left).toContain('eth1 198.18.0.77/24');
    expect(left.filter((a) => /192\.0\.2\.100|198\.51\.100\.1\/|2001:db8::100/.test(a))).toEqual([]);
  });

  it('moves an address found on the wrong device and reports one that cannot be placed', async () => {
    await lab.exec(director, 'ip', ['addr', 'add', '192.0.2.100/32', 'dev', 'eth1']);
    const report = await agent.call<ReconcileReport>('reconcile', {
      present: [vip, { ...vip2, device: 'eth7', label: undefined }],
      absent: [],
    });
    expect(report.removed.map((r) => [r.address.address, r.device, r.why])).toEqual([['192.0.2.100', 'eth1', 'misplaced']]);
    expect(report.added.map((a) => [a.address, a.device])).toEqual([['192.0.2.100', 'eth0']]);
    expect(report.failed.map((f) => f.reason)).toEqual(['device eth7 does not exist']);
    const now = await addressesOf(lab, director);
    expect(now).toContain('eth0 192.0.2.100/24 eth0:1');
    expect(now).not.toContain('eth1 192.0.2.100/32');
  });
});
