// After a takeover, neighbours must learn the new MAC from our announcements alone:
// the client's and the real server's neighbour entries move to the new active's MAC
// without either of them sending an ARP request or a neighbour solicitation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnnounceSpec, ClaimedAddress } from '../../../src/config/model.js';
import type { ReconcileReport } from '../../../src/net/index.js';
import { Lab, requireRoot, type Host, type Watch } from '../../support/netns.js';
import { startAgent, type Agent } from './agent.js';

const MAC = {
  ifw01: '02:00:00:00:01:01',
  ifw01nat: '02:00:00:00:01:02',
  ifw02: '02:00:00:00:02:01',
  ifw02nat: '02:00:00:00:02:02',
  xcl01: '02:00:00:00:0c:01',
  ics01: '02:00:00:00:0d:01',
};
const vip: ClaimedAddress = { address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0', label: 'eth0:1' };
const vip6: ClaimedAddress = { address: '2001:db8::100', family: 6, prefix: 64, device: 'eth0' };
const natGateway: ClaimedAddress = { address: '198.51.100.1', family: 4, prefix: 24, device: 'eth1', label: 'eth1:1' };
const claimed = [vip, vip6, natGateway];
const announce: AnnounceSpec = { count: 3, interval: 100, refresh: 0 };

async function neighbour(lab: Lab, host: Host, address: string): Promise<{ lladdr?: string; state?: string[] }> {
  const { stdout } = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', address, 'dev', 'eth0']);
  return (JSON.parse(stdout) as Array<{ lladdr?: string; state?: string[] }>)[0] ?? {};
}

/** `ip monitor neigh`, proven to be listening by a marker entry it must report. */
async function monitorNeighbours(lab: Lab, host: Host, marker: string): Promise<Watch> {
  const watch = await lab.watch(host, 'ip', ['monitor', 'neigh']);
  for (let attempt = 0; !watch.lines.some((l) => l.includes(marker)); attempt++) {
    if (attempt === 50) throw new Error('ip monitor neigh never reported the marker entry');
    // a new MAC each time: an unchanged entry would not be reported again
    const lladdr = `02:00:00:00:ff:${(attempt % 256).toString(16).padStart(2, '0')}`;
    await lab.exec(host, 'ip', ['neigh', 'replace', marker, 'lladdr', lladdr, 'dev', 'eth0', 'nud', 'permanent']);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await lab.exec(host, 'ip', ['neigh', 'del', marker, 'dev', 'eth0']);
  return watch;
}

const capture = (lab: Lab, host: Host) =>
  lab.watch(host, 'tcpdump', ['-l', '-n', '-e', '-t', '--immediate-mode', '-i', 'eth0', 'arp or icmp6'], /listening on/);

/** What a host sent to find a neighbour: ARP requests and neighbour solicitations from its MAC.
 *  Duplicate address detection (a solicitation from `::` for the host's own new address, which
 *  a late-starting interface may still send) looks up no neighbour. */
const asked = (capture: Watch, mac: string) =>
  capture.lines.filter((l) => l.startsWith(`${mac} >`) && /Request who-has|neighbor solicitation/.test(l) && !/: :: > /.test(l));

describe('gratuitous ARP and unsolicited NA on takeover (lab)', () => {
  let lab: Lab;
  let ifw01: Host, ifw02: Host, xcl01: Host, ics01: Host;
  let first: Agent, second: Agent;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create();
    const front = await lab.addSwitch('sw0');
    const back = await lab.addSwitch('sw1');
    [ifw01, ifw02, xcl01, ics01] = (await Promise.all(['ifw01', 'ifw02', 'xcl01', 'ics01'].map((n) => lab.addHost(n)))) as [
      Host,
      Host,
      Host,
      Host,
    ];
    await lab.connect(ifw01, 'eth0', front, ['192.0.2.1/24'], MAC.ifw01);
    await lab.connect(ifw01, 'eth1', back, ['198.51.100.2/24'], MAC.ifw01nat);
    await lab.connect(ifw02, 'eth0', front, ['192.0.2.2/24'], MAC.ifw02);
    await lab.connect(ifw02, 'eth1', back, ['198.51.100.3/24'], MAC.ifw02nat);
    await lab.connect(xcl01, 'eth0', front, ['192.0.2.50/24'], MAC.xcl01);
    await lab.ipBatch(xcl01.netns, ['addr add 2001:db8::50/64 dev eth0 nodad']);
    await lab.connect(ics01, 'eth0', back, ['198.51.100.10/24'], MAC.ics01);
    [first, second] = await Promise.all([startAgent(lab, ifw01), startAgent(lab, ifw02)]);
  });
  afterAll(async () => (lab as Lab | undefined)?.destroy());

  it('moves the neighbours of the VIPs and the NAT gateway to the new active without their asking', async () => {
    // ifw01 is active; the client and the real server have talked to it
    expect((await first.call<ReconcileReport>('reconcile', { present: claimed, absent: [] })).failed).toEqual([]);
    await lab.exec(xcl01, 'ping', ['-c1', '-W2', vip.address]);
    await lab.exec(xcl01, 'ping', ['-6', '-c1', '-W2', vip6.address]);
    await lab.exec(ics01, 'ping', ['-c1', '-W2', natGateway.address]);
    expect((await neighbour(lab, xcl01, vip.address)).lladdr).toBe(MAC.ifw01);
    expect((await neighbour(lab, xcl01, vip6.address)).lladdr).toBe(MAC.ifw01);
    expect((await neighbour(lab, ics01, natGateway.address)).lladdr).toBe(MAC.ifw01nat);

    const [clientWire, serverWire] = await Promise.all([capture(lab, xcl01), capture(lab, ics01)]);
    const [clientNeigh, serverNeigh] = await Promise.all([
      monitorNeighbours(lab, xcl01, '192.0.2.254'),
      monitorNeighbours(lab, ics01, '198.51.100.254'),
    ]);

    // ifw01 dies (its switch ports fail); ifw02 takes over and announces
    await lab.setSwitchPort(ifw01, 'eth0', false);
    await lab.setSwitchPort(ifw01, 'eth1', false);
    const report = await second.call<ReconcileReport>('reconcile', { present: claimed, absent: [], announce });
    expect(report.added).toHaveLength(3);

    await clientNeigh.waitFor((l) => l.startsWith(`${vip.address} dev eth0 lladdr ${MAC.ifw02}`));
    await clientNeigh.waitFor((l) => l.startsWith(`${vip6.address} dev eth0 lladdr ${MAC.ifw02}`));
    await serverNeigh.waitFor((l) => l.startsWith(`${natGateway.address} dev eth0 lladdr ${MAC.ifw02nat}`));
    expect((await neighbour(lab, xcl01, vip.address)).lladdr).toBe(MAC.ifw02);
    expect((await neighbour(lab, xcl01, vip6.address)).lladdr).toBe(MAC.ifw02);
    expect((await neighbour(lab, ics01, natGateway.address)).lladdr).toBe(MAC.ifw02nat);

    // both ARP forms and the NA were on the wire, three rounds of each
    await clientWire.waitFor((l) => l.includes(`Reply ${vip.address} is-at ${MAC.ifw02}`));
    await new Promise((resolve) => setTimeout(resolve, 2 * announce.interval + 100));
    const fromIfw02 = clientWire.lines.filter((l) => l.startsWith(`${MAC.ifw02} > `));
    expect(
      fromIfw02.filter((l) => l.includes(`ff:ff:ff:ff:ff:ff`) && l.includes(`Request who-has ${vip.address} tell ${vip.address}`)),
    ).toHaveLength(3);
    expect(fromIfw02.filter((l) => l.includes(`Reply ${vip.address} is-at ${MAC.ifw02}`))).toHaveLength(3);
    expect(
      fromIfw02.filter((l) => l.includes('33:33:00:00:00:01') && l.includes(`neighbor advertisement, tgt is ${vip6.address}`)),
    ).toHaveLength(3);
    expect(serverWire.lines.filter((l) => l.includes(`Reply ${natGateway.address} is-at ${MAC.ifw02nat}`))).toHaveLength(3);

    // and nobody asked
    expect(asked(clientWire, MAC.xcl01)).toEqual([]);
    expect(asked(serverWire, MAC.ics01)).toEqual([]);
    await Promise.all([clientWire, serverWire, clientNeigh, serverNeigh].map((w) => w.stop()));
  });

  it('re-announces at once on demand', async () => {
    const wire = await capture(lab, xcl01);
    const before = Date.now();
    await second.call('reannounce');
    await wire.waitFor((l) => l.includes(`Reply ${vip.address} is-at ${MAC.ifw02}`));
    await wire.waitFor((l) => l.includes(`neighbor advertisement, tgt is ${vip6.address}`));
    expect(Date.now() - before).toBeLessThan(announce.interval);
    await wire.stop();
  });

  it('sends nothing more after stopping', async () => {
    await second.call('stopAnnouncing');
    const wire = await capture(lab, xcl01);
    await second.call('reannounce');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // (the kernel's own router solicitations may pass; announcements may not)
    expect(wire.lines.filter((l) => l.startsWith(`${MAC.ifw02} >`) && /who-has|is-at|neighbor advertisement/.test(l))).toEqual([]);
    await wire.stop();
  });
});
