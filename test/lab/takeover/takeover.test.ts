// Takeover on the host, end to end: two real `tandem run` processes in network
// namespaces (keepalive 50 ms, deadtime 200 ms) moving a VIP and the NAT gateway
// between them, a client and a real server that must follow without asking.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import type { Director } from '../../support/director-pair.js';
import { natGateway, TakeoverLab, vip } from '../../support/takeover-lab.js';
import { sendControlRequest } from '../../../src/control/index.js';

const deadtime = 200;

/** The ARP requests a host sent (it asked instead of being told). */
const requestsFrom = (lines: string[], mac: string) => lines.filter((l) => l.includes(`${mac} >`) && l.includes('Request who-has'));

describe('takeover on the host (keepalive 50ms, deadtime 200ms)', () => {
  let lab: TakeoverLab;
  let active: Director;
  let backup: Director;

  beforeEach(async () => {
    requireRoot();
    lab = await TakeoverLab.create({ keepalive: '50ms', deadtime: `${deadtime}ms` });
    await lab.pair.startBoth();
    [active, backup] = await lab.settled();
  });

  afterEach(async () => {
    await (lab as TakeoverLab | undefined)?.destroy();
  });

  it('the active holds the VIP and the NAT gateway with their labels; the backup holds neither', async () => {
    await lab.pair.status(active).then((s) => expect(s.host.addresses).toHaveLength(2));
    expect(await lab.managed(active)).toEqual([
      { address: vip, prefix: 24, device: 'eth0', label: 'eth0:1' },
      { address: natGateway, prefix: 24, device: 'eth1', label: 'eth1:1' },
    ]);
    expect(await lab.managed(backup)).toEqual([]);
    const human = await lab.pair.tandem(active, ['status']);
    expect(human.stdout).toContain(`  ${vip}/24 on eth0 as eth0:1 (vip echo)`);
    expect(human.stdout).toContain(`  ${natGateway}/24 on eth1 as eth1:1 (nat gateway)`);
    expect(human.stdout).toMatch(/announcements: \d+ frames sent/);
    expect(human.stdout).toContain('monitored links: eth0 up, eth1 up');
  });

  it('hard failover: the client and the real server learn the new MAC from announcements alone', async () => {
    await lab.warmNeighbours();
    const story = () =>
      JSON.stringify([...lab.pair.roleChanges(active), ...lab.pair.roleChanges(backup)].map((e) => [e.node, e.from, e.to, e.reason, e.at]));
    expect(await lab.neighbour(lab.client, vip), story()).toBe(await lab.mac(active));
    expect(await lab.neighbour(lab.server, natGateway), story()).toBe(await lab.mac(active, 'eth1'));
    const clientMac = await lab.mac(lab.client);
    const serverMac = await lab.mac(lab.server);
    const [clientArp, serverArp] = await Promise.all([lab.captureArp(lab.client), lab.captureArp(lab.server)]);

    const diedAt = await lab.die(active);
    await lab.pair.roleChange(backup, 'ACTIVE', diedAt - 1);
    await lab.neighbourBecomes(lab.client, vip, await lab.mac(backup));
    await lab.neighbourBecomes(lab.server, natGateway, await lab.mac(backup, 'eth1'));

    const newMac = await lab.mac(backup);
    await clientArp.waitFor((l) => l.includes(`${newMac} > ff:ff:ff:ff:ff:ff`) && l.includes(`Reply ${vip} is-at ${newMac}`));
    await clientArp.waitFor((l) => l.includes(`${newMac} > ff:ff:ff:ff:ff:ff`) && l.includes(`Request who-has ${vip} tell ${vip}`));
    expect(requestsFrom(clientArp.lines, clientMac)).toEqual([]);
    expect(requestsFrom(serverArp.lines, serverMac)).toEqual([]);
    expect((await lab.managed(backup)).map((a) => a.address)).toEqual([vip, natGateway]);
  });

  it('tandem failover: the old active holds neither address afterwards, the new one both', async () => {
    await lab.warmNeighbours();
    const requestedAt = Date.now();
    const result = await lab.pair.tandem(active, ['failover']);
    expect(result.code, result.stderr).toBe(0);
    // make before break: the old active lets go a short grace after it saw the new one active
    const released = await active.logs.waitFor((e) => e.event === 'controller.release' && e.time >= requestedAt, 2000);
    const claimed = backup.logs.items.find((e) => e.event === 'controller.claim' && e.time >= requestedAt)!;
    expect(released.time).toBeGreaterThanOrEqual(claimed.time);
    expect(await lab.managed(active)).toEqual([]);
    expect((await lab.managed(backup)).map((a) => `${a.address} ${a.label}`)).toEqual([`${vip} eth0:1`, `${natGateway} eth1:1`]);
    expect((await lab.pair.status(active)).host.addresses).toEqual([]);
    await lab.neighbourBecomes(lab.client, vip, await lab.mac(backup));
  });

  it('SIGTERM on the active: the peer takes over at once, then it releases', async () => {
    await lab.warmNeighbours();
    const stoppedAt = await lab.pair.stop(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', stoppedAt - 1);
    expect(change.reason).toBe('peer-stopped');
    expect(Date.parse(String(change.at)) - stoppedAt).toBeLessThan(deadtime / 2);
    const released = active.logs.items.find((e) => e.event === 'controller.release')!;
    const claimed = backup.logs.items.find((e) => e.event === 'controller.claim' && e.time >= stoppedAt)!;
    expect(released.removed).toEqual([`${vip}/24`, `${natGateway}/24`]);
    // make before break: the stopping node answered until the peer held the addresses
    expect(released.time).toBeGreaterThanOrEqual(claimed.time);
    expect(await lab.managed(active)).toEqual([]);
    expect(active.logs.items.at(-1)).toMatchObject({ event: 'daemon.stopped', why: 'handed over' });
    await lab.neighbourBecomes(lab.client, vip, await lab.mac(backup));
  });

  it('a probe of the VIP every 10 ms loses replies for less than 400 ms during a hard failover', async () => {
    const probe = await lab.probe();
    await probe.answeredBy(active.name, 10);
    const diedAt = await lab.die(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', diedAt - 1);
    await probe.answeredBy(backup.name, 20);
    const run = await probe.stop();
    console.log(`hard failover: probe gap ${run.gapMs.toFixed(1)} ms, detection ${Date.parse(String(change.at)) - diedAt} ms`);
    expect(run.gapMs).toBeLessThan(400);
  });

  it('a probe of the VIP every 10 ms loses replies for less than 50 ms during tandem failover', async () => {
    const probe = await lab.probe();
    await probe.answeredBy(active.name, 10);
    const outcome = await sendControlRequest(active.socket, { command: 'failover' });
    expect(outcome).toMatchObject({ ok: true });
    await probe.answeredBy(backup.name, 20);
    const run = await probe.stop();
    console.log(`tandem failover: probe gap ${run.gapMs.toFixed(1)} ms`);
    expect(run.gapMs).toBeLessThan(50);
  });

  it('link down on the active moves the role; link up brings it back as BACKUP', async () => {
    const cutAt = Date.now();
    await lab.pair.lab.setSwitchPort(active.host, 'eth1', false);
    const fault = await lab.pair.roleChange(active, 'FAULT', cutAt - 1);
    expect(fault).toMatchObject({ from: 'ACTIVE', reason: 'link-down' });
    await lab.pair.roleChange(backup, 'ACTIVE', cutAt - 1);
    // the claim follows the conntrack commit (sync.conntrack.commit: before-announce)
    await backup.logs.waitFor((e) => e.event === 'controller.claim' && e.time >= cutAt);
    expect(await lab.managed(active)).toEqual([]);
    expect((await lab.managed(backup)).map((a) => a.address)).toEqual([vip, natGateway]);
    expect((await lab.pair.status(active)).health).toMatchObject({ canServe: false, fault: 'link down: eth1 (no-carrier)' });

    const restoredAt = Date.now();
    await lab.pair.lab.setSwitchPort(active.host, 'eth1', true);
    expect(await lab.pair.roleChange(active, 'BACKUP', restoredAt - 1)).toMatchObject({ from: 'FAULT', reason: 'health-restored' });
    expect((await lab.pair.status(backup)).role).toBe('ACTIVE');
    expect(await lab.managed(active)).toEqual([]);
  });
});

describe('start after a crash', () => {
  it('a stale VIP and NAT gateway on a starting backup are removed; an address added by hand stays', async () => {
    requireRoot();
    const lab = await TakeoverLab.create({ keepalive: '50ms', deadtime: `${deadtime}ms` });
    try {
      const [first, second] = lab.nodes;
      await lab.pair.start(first);
      await lab.pair.roleChange(first, 'ACTIVE');
      // what an active node killed with SIGKILL leaves behind, and an operator's own address
      await lab.pair.lab.ipBatch(second.host.netns, [
        `addr add ${vip}/24 dev eth0 label eth0:1`,
        `addr add ${natGateway}/24 dev eth1 label eth1:1`,
        'addr add 192.0.2.77/24 dev eth0 label eth0:9',
      ]);
      await lab.pair.start(second);
      expect(await lab.pair.roleChange(second, 'BACKUP')).toMatchObject({ from: 'INIT', reason: 'peer-active' });
      expect(await lab.managed(second)).toEqual([]);
      expect(await lab.addresses(second)).toContainEqual({ address: '192.0.2.77', prefix: 24, device: 'eth0', label: 'eth0:9' });
      const stale = second.logs.items.find((e) => e.event === 'controller.stale-addresses');
      expect(stale?.addresses).toEqual([`${vip}/24 eth0`, `${natGateway}/24 eth1`]);
      // removed before the election ran
      const firstRoleChange = second.logs.items.findIndex((e) => e.event === 'role.change');
      expect(second.logs.items.indexOf(stale!)).toBeLessThan(firstRoleChange);
      expect((await lab.managed(first)).map((a) => a.address)).toEqual([vip, natGateway]);
    } finally {
      await lab.destroy();
    }
  });
});
