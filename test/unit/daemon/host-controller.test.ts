// The host controller against in-memory parts: every call lands in one journal, so
// the tests read the order of a claim, a release or a reload off it.
import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { HealthSummary, SyncRole } from '../../../src/cluster/index.js';
import type { Model } from '../../../src/config/index.js';
import type { ClaimedAddress } from '../../../src/config/model.js';
import type { Balancer, BalancerStatus } from '../../../src/ipvs/index.js';
import { createStats, type AnnounceStats } from '../../../src/lib/stats.js';
import type { RoleTransition } from '../../../src/daemon/hooks.js';
import {
  HostController,
  type HostAddresses,
  type HostAnnouncer,
  type HostHooks,
  type HostNeighbours,
  type LinkWatch,
} from '../../../src/daemon/host-controller.js';
import {
  ForwardingError,
  type AnnounceTarget,
  type DesiredAddresses,
  type HostView,
  type LinkEvent,
  type LinkState,
  type NeighbourTarget,
  type OnPresent,
  type PlacedAddress,
  type ReconcileReport,
} from '../../../src/net/index.js';
import { captureLogger } from '../../support/capture-log.js';
import { model, pairConfig } from './pair-config.js';
import { collectGarbage } from '../../support/collect-garbage.js';

const base = `${pairConfig}virtual_services:
  - name: www
    vip: { address: 192.0.2.100/24, device: eth0, label: "eth0:1" }
    port: 80
    real_servers: [{ name: ics01, address: 198.51.100.10 }]
`;

const ifindex: Record<string, number> = { lo: 1, eth0: 2, eth1: 3, eth2: 4 };

/** The host's addresses: the node's own ones stay, the claimed ones come and go. */
class FakeAddresses implements HostAddresses {
  readonly placed = new Map<string, PlacedAddress>();
  /** Addresses the kernel refuses, and why. */
  readonly refused = new Map<string, string>();

  constructor(private readonly journal: string[]) {}

  claim(addresses: ClaimedAddress[], onPresent?: OnPresent): Promise<ReconcileReport> {
    return this.reconcile({ present: addresses, absent: [] }, onPresent);
  }

  release(addresses: ClaimedAddress[]): Promise<ReconcileReport> {
    return this.reconcile({ present: [], absent: addresses });
  }

  async reconcile(desired: DesiredAddresses, onPresent?: OnPresent): Promise<ReconcileReport> {
    await Promise.resolve();
    const report: ReconcileReport = { added: [], kept: [], removed: [], failed: [] };
    const wanted = new Set(desired.present.map((a) => a.address));
    for (const address of desired.absent) {
      const held = this.placed.get(address.address);
      if (!held || wanted.has(address.address)) continue;
      this.placed.delete(address.address);
      this.journal.push(`remove ${address.address}`);
      report.removed.push({ address, device: held.device, ifindex: held.ifindex, prefix: held.prefix, why: 'released' });
    }
    for (const address of desired.present) {
      const reason = this.refused.get(address.address);
      if (reason !== undefined) {
        report.failed.push({ address, reason });
        continue;
      }
      const held = this.placed.get(address.address);
      if (held) {
        report.kept.push(held);
        onPresent?.(held);
        continue;
      }
      const device = address.device ?? 'eth0';
      const placed: PlacedAddress = { ...address, device, ifindex: ifindex[device] ?? 0, mac: Buffer.alloc(6, 1) };
      this.placed.set(address.address, placed);
      this.journal.push(`add ${address.address}`);
      report.added.push(placed);
      onPresent?.(placed);
    }
    return report;
  }

  readHost(): Promise<HostView> {
    const link = (name: string) => ({ index: ifindex[name]!, name, adminUp: true, running: true, mac: Buffer.alloc(6, 1) });
    const own = (device: string, bytes: number[]) => ({ index: ifindex[device]!, bytes: Buffer.from(bytes), prefix: 24, secondary: false });
    return Promise.resolve({
      links: Object.keys(ifindex).map(link),
      addresses: [own('eth0', [192, 0, 2, 1]), own('eth1', [198, 51, 100, 1])],
    });
  }

  close(): void {
    this.journal.push('addresses closed');
  }
}

class FakeAnnouncer implements HostAnnouncer {
  constructor(
    private readonly journal: string[],
    private readonly stats: AnnounceStats,
  ) {}

  announce(targets: AnnounceTarget[]): void {
    for (const target of targets) {
      this.journal.push(`announce ${target.address}${target.router ? ' (router)' : ''}`);
      this.stats.framesSent.add(2);
    }
  }

  withdraw(addresses: string[]): void {
    this.journal.push(`withdraw ${addresses.join(' ')}`);
  }

  setSpec(): void {
    this.journal.push('announcer spec');
  }

  stop(): void {
    this.journal.push('announcer stopped');
  }
}

class FakeLinks extends EventEmitter<{ link: [LinkEvent] }> implements LinkWatch {
  private readonly state = new Map<string, LinkState>();

  constructor(
    readonly devices: string[],
    private readonly journal: string[],
  ) {
    super();
    for (const device of devices) this.state.set(device, { device, up: true, condition: 'up' });
  }

  start(): Promise<LinkState[]> {
    this.journal.push(`watch ${this.devices.join(' ')}`);
    return Promise.resolve(this.states());
  }

  states(): LinkState[] {
    return [...this.state.values()];
  }

  close(): void {
    this.journal.push(`unwatch ${this.devices.join(' ')}`);
  }

  set(device: string, up: boolean): void {
    const state: LinkState = { device, up, condition: up ? 'up' : 'no-carrier' };
    this.state.set(device, state);
    this.emit('link', { ...state, initial: false });
  }
}

/** Every peer's entry is unresolved until dropped (as after a carrier loss). */
class FakeNeighbours implements HostNeighbours {
  readonly dropped: NeighbourTarget[] = [];
  failing = false;

  dropUnresolved(target: NeighbourTarget): Promise<'incomplete'> {
    if (this.failing) return Promise.reject(new Error('netlink said no'));
    this.dropped.push(target);
    return Promise.resolve('incomplete');
  }

  close(): void {
    this.dropped.length = 0;
  }
}

class FakeHooks implements HostHooks {
  readonly transitions: RoleTransition[] = [];
  pending = 0;

  constructor(private readonly journal: string[]) {}

  transition(transition: RoleTransition): void {
    this.transitions.push(transition);
  }

  setSpec(): void {
    this.journal.push('hooks spec');
  }

  drain(): Promise<number> {
    this.journal.push('hooks drained');
    return Promise.resolve(this.pending);
  }
}

class FakeBalancer implements Balancer {
  /** Holds deactivate() until resolved. */
  hold: Promise<void> | undefined;
  failing = false;

  constructor(private readonly journal: string[]) {}

  private step(name: string): Promise<void> {
    this.journal.push(`balancer ${name}`);
    return this.failing ? Promise.reject(new Error('netlink said no')) : Promise.resolve();
  }

  activate(): Promise<void> {
    return this.step('activate');
  }

  async deactivate(): Promise<void> {
    await this.hold;
    await this.step('deactivate');
  }

  setSyncRole(role: SyncRole): Promise<void> {
    return this.step(`sync ${role}`);
  }

  reload(): Promise<void> {
    return this.step('reload');
  }

  status(): Promise<BalancerStatus> {
    return Promise.reject(new Error('not used here'));
  }

  close(): Promise<void> {
    return this.step('close');
  }
}

let journal: string[];
let addresses: FakeAddresses;
let balancer: FakeBalancer;
let hooks: FakeHooks;
let links: FakeLinks[];
let neighbours: FakeNeighbours;
let forwardingOff: boolean;
let log: ReturnType<typeof captureLogger>;
let healthReports: HealthSummary[];

beforeEach(() => {
  journal = [];
  addresses = new FakeAddresses(journal);
  balancer = new FakeBalancer(journal);
  hooks = new FakeHooks(journal);
  links = [];
  neighbours = new FakeNeighbours();
  forwardingOff = false;
  log = captureLogger();
  healthReports = [];
});

const events = (event: string) => log.records.filter((r) => r.event === event);

/** The model the latest controller() started with. */
let firstModel: WeakRef<Model> | undefined;

async function controller(text = base): Promise<HostController> {
  const m = await model(text);
  firstModel = new WeakRef(m);
  const [self, peer] = m.nodes as [Model['nodes'][0], Model['nodes'][0]];
  const stats = createStats();
  const host = new HostController({
    model: m,
    self,
    peer,
    logger: log.logger,
    addresses,
    announcer: new FakeAnnouncer(journal, stats.announce),
    packets: { close: () => journal.push('packets closed') },
    watchLinks: (devices) => {
      const watch = new FakeLinks(devices, journal);
      links.push(watch);
      return watch;
    },
    neighbours,
    checkForwarding: () => {
      journal.push('forwarding');
      if (forwardingOff) throw new ForwardingError('net.ipv4.ip_forward is 0');
    },
    hooks,
    balancer,
    stats,
  });
  return host;
}

async function started(text = base): Promise<HostController> {
  const host = await controller(text);
  await host.start((health) => healthReports.push(health));
  journal.length = 0;
  return host;
}

describe('HostController', () => {
  it('starts by removing the addresses an earlier run left, then watches the links of the addresses', async () => {
    const host = await controller();
    await addresses.claim([{ address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0', label: 'eth0:1' }]);
    journal.length = 0;
    const health = await host.start((h) => healthReports.push(h));
    expect(journal).toEqual(['remove 192.0.2.100', 'watch eth0 eth1']);
    expect(events('controller.stale-addresses')).toMatchObject([{ addresses: ['192.0.2.100/24 eth0'] }]);
    expect(health).toEqual({
      canServe: true,
      monitorLinks: true,
      links: [
        { name: 'eth0', up: true },
        { name: 'eth1', up: true },
      ],
      fault: '',
    });
    expect(host.status()).toMatchObject({ addresses: [], links: [{ device: 'eth0' }, { device: 'eth1' }] });
  });

  it('claims: checks forwarding, announces each address as it appears, then starts the balancer', async () => {
    const host = await started();
    await host.claim({ term: 2, reason: 'peer-dead' });
    expect(journal).toEqual([
      'forwarding',
      'add 192.0.2.100',
      'announce 192.0.2.100',
      'add 198.51.100.254',
      'announce 198.51.100.254 (router)',
      'balancer activate',
    ]);
    expect(events('controller.claim')).toMatchObject([
      { term: 2, reason: 'peer-dead', addresses: ['192.0.2.100/24', '198.51.100.254/24'] },
    ]);
    expect(host.status()).toMatchObject({
      addresses: [
        { address: '192.0.2.100', prefix: 24, device: 'eth0', label: 'eth0:1', purpose: 'vip www' },
        { address: '198.51.100.254', prefix: 24, device: 'eth1', label: 'eth1:1', purpose: 'nat gateway' },
      ],
      failedAddresses: [],
      announcements: { framesSent: 4, framesFailed: 0, lastMsAgo: expect.any(Number) as unknown },
    });
  });

  it('refuses to claim when the host does not forward, before touching the balancer or the addresses', async () => {
    const host = await started();
    forwardingOff = true;
    await expect(host.claim({ term: 2, reason: 'peer-dead' })).rejects.toThrow(ForwardingError);
    expect(journal).toEqual(['forwarding']);
    expect(addresses.placed.size).toBe(0);
  });

  it('fails a claim an address cannot be placed for, holding the others and saying why', async () => {
    const host = await started();
    addresses.refused.set('198.51.100.254', 'no such device');
    await expect(host.claim({ term: 2, reason: 'peer-dead' })).rejects.toThrow('cannot claim 198.51.100.254 (no such device)');
    expect(journal).toEqual(['forwarding', 'add 192.0.2.100', 'announce 192.0.2.100', 'balancer activate']);
    expect(host.status()).toMatchObject({
      addresses: [{ address: '192.0.2.100' }],
      failedAddresses: [{ address: '198.51.100.254/24', reason: 'no such device' }],
    });
  });

  it('releases: stops announcing, removes the addresses, then stops the balancer; the next claim waits for that', async () => {
    const host = await started();
    await host.claim({ term: 2, reason: 'peer-dead' });
    journal.length = 0;
    let deactivate!: () => void;
    balancer.hold = new Promise((resolve) => (deactivate = resolve));
    await host.release({ reason: 'operator-failover' });
    expect(journal).toEqual(['announcer stopped', 'remove 192.0.2.100', 'remove 198.51.100.254']);
    expect(events('controller.release')).toMatchObject([{ removed: ['192.0.2.100/24', '198.51.100.254/24'] }]);
    expect(host.status()).toMatchObject({ addresses: [], failedAddresses: [] });

    const claim = host.claim({ term: 4, reason: 'peer-dead' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(journal.slice(3)).toEqual(['forwarding']);
    deactivate();
    await claim;
    expect(journal.slice(3)).toEqual([
      'forwarding',
      'balancer deactivate',
      'add 192.0.2.100',
      'announce 192.0.2.100',
      'add 198.51.100.254',
      'announce 198.51.100.254 (router)',
      'balancer activate',
    ]);
  });

  it('asks for the addresses before its first await when no deactivation runs: the first frame waits for nothing', async () => {
    const host = await started();
    const asked = vi.spyOn(addresses, 'claim');
    const claim = host.claim({ term: 2, reason: 'peer-dead' });
    expect(journal).toEqual(['forwarding']);
    expect(asked).toHaveBeenCalledTimes(1);
    await claim;
    await host.release({ reason: 'operator-failover' });
    await new Promise((resolve) => setImmediate(resolve));
    const again = host.claim({ term: 4, reason: 'peer-dead' });
    expect(asked).toHaveBeenCalledTimes(2);
    await again;
  });

  it('announces again only while active, putting back an address removed by hand', async () => {
    const host = await started();
    await host.announce({ reason: 'split brain' });
    expect(journal).toEqual([]);
    await host.claim({ term: 2, reason: 'peer-dead' });
    addresses.placed.delete('192.0.2.100');
    journal.length = 0;
    await host.announce({ reason: 'split brain' });
    expect(journal).toEqual(['add 192.0.2.100', 'announce 192.0.2.100', 'announce 198.51.100.254 (router)']);
    expect(events('controller.announce')).toMatchObject([{ reason: 'split brain', addresses: ['192.0.2.100/24', '198.51.100.254/24'] }]);
  });

  it('reloads while active: new addresses are added and announced, dropped ones removed and withdrawn, kept ones left alone', async () => {
    const host = await started();
    await host.claim({ term: 2, reason: 'peer-dead' });
    journal.length = 0;
    await host.reload(await model(base.replace('192.0.2.100/24', '192.0.2.101/24')));
    expect(journal).toEqual([
      'hooks spec',
      'announcer spec',
      'forwarding',
      'remove 192.0.2.100',
      'add 192.0.2.101',
      'announce 192.0.2.101',
      'withdraw 192.0.2.100',
      'balancer reload',
    ]);
    expect(host.status().addresses.map((a) => a.address)).toEqual(['192.0.2.101', '198.51.100.254']);
  });

  it('holds nothing of the model a reload replaced', async () => {
    const host = await started();
    await host.claim({ term: 2, reason: 'peer-dead' });
    await host.reload(await model(base));
    collectGarbage();
    expect(firstModel?.deref()).toBeUndefined();
  });

  it('reloads while inactive: removes every managed address; forwarding trouble is logged, the role kept', async () => {
    const host = await started();
    await addresses.claim([{ address: '192.0.2.100', family: 4, prefix: 24, device: 'eth0' }]);
    journal.length = 0;
    await host.reload(await model(base));
    expect(journal).toEqual(['hooks spec', 'announcer spec', 'remove 192.0.2.100', 'balancer reload']);

    await host.claim({ term: 2, reason: 'peer-dead' });
    forwardingOff = true;
    journal.length = 0;
    await host.reload(await model(base));
    expect(events('controller.forwarding')).toHaveLength(1);
    expect(host.status().addresses).toHaveLength(2);
  });

  it('watches the links a reload names instead of the old ones, and reports the health they give', async () => {
    const host = await started();
    await host.reload(await model(base + 'monitor_links: { interfaces: [eth2] }\n'));
    expect(journal).toContain('unwatch eth0 eth1');
    expect(journal).toContain('watch eth0 eth1 eth2');
    expect(healthReports).toMatchObject([{ canServe: true, links: [{ name: 'eth0' }, { name: 'eth1' }, { name: 'eth2' }] }]);
    // the replaced watch is no longer heard
    links[0]!.set('eth0', false);
    expect(healthReports).toHaveLength(1);
    // the same links again: nothing restarts
    journal.length = 0;
    await host.reload(await model(base + 'monitor_links: { interfaces: [eth2] }\n'));
    expect(journal.filter((line) => line.includes('watch'))).toEqual([]);
  });

  it("reports a monitored link going down and back as this node's health", async () => {
    await started();
    const [watch] = links;
    watch!.set('eth1', false);
    expect(healthReports).toEqual([
      {
        canServe: false,
        monitorLinks: true,
        links: [
          { name: 'eth0', up: true },
          { name: 'eth1', up: false },
        ],
        fault: 'link down: eth1 (no-carrier)',
      },
    ]);
    watch!.set('eth1', true);
    expect(healthReports[1]).toMatchObject({ canServe: true, fault: '' });
  });

  it("asks for the peer's address again at once when a heartbeat link comes back (fault 421)", async () => {
    await started();
    const [watch] = links;
    watch!.set('eth1', false);
    expect(neighbours.dropped).toEqual([]);
    watch!.set('eth1', true);
    expect(neighbours.dropped).toEqual([{ ifindex: 3, device: 'eth1', address: '198.51.100.2' }]);
    await Promise.resolve();
    expect(events('neighbour.refreshed')).toMatchObject([{ device: 'eth1', address: '198.51.100.2', state: 'incomplete' }]);
    neighbours.failing = true;
    watch!.set('eth0', true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(events('neighbour.refresh-failed')).toMatchObject([{ device: 'eth0', address: '192.0.2.2' }]);
  });

  it("asks for the peer's address again on the path's link when the peer is heard again there", async () => {
    const host = await started();
    host.refreshPeer(1);
    expect(neighbours.dropped).toEqual([{ ifindex: 3, device: 'eth1', address: '198.51.100.2' }]);
    await Promise.resolve();
    expect(events('neighbour.refreshed')).toMatchObject([
      { device: 'eth1', address: '198.51.100.2', state: 'incomplete', trigger: 'path-up', path: 1 },
    ]);
    expect(events('neighbour.refreshed')[0]?.msg).toMatch(/^heard the peer again on path 1: asking for 198\.51\.100\.2 on eth1/);
    // a path the controller has not planned: every one of the peer's entries
    neighbours.dropped.length = 0;
    host.refreshPeer(2);
    expect(neighbours.dropped.map((t) => t.device)).toEqual(['eth0', 'eth1']);
  });

  it('runs the hooks of a transition with the claimed addresses; sets the sync role on the balancer', async () => {
    const host = await started();
    host.runHooks({
      from: 'BACKUP',
      to: 'ACTIVE',
      reason: 'peer-dead',
      term: 2,
      at: 0,
      peer: { name: 'ifw02' },
      timings: { inPreviousRoleMs: 5 },
    });
    expect(hooks.transitions).toEqual([
      {
        from: 'BACKUP',
        to: 'ACTIVE',
        reason: 'peer-dead',
        term: 2,
        peer: 'ifw02',
        addresses: ['192.0.2.100/24', '198.51.100.254/24'],
        at: new Date(performance.timeOrigin).getTime(),
      },
    ]);
    await host.setSyncRole('master');
    expect(journal).toEqual(['balancer sync master']);
  });

  it('logs a failing balancer step and goes on', async () => {
    const host = await started();
    balancer.failing = true;
    await host.claim({ term: 2, reason: 'peer-dead' });
    expect(events('balancer.failed')).toMatchObject([{ step: 'activate' }]);
    expect(host.status().addresses).toHaveLength(2);
  });

  it('closes: drains the hooks, stops watching and announcing, closes its sockets, then the balancer after its deactivation', async () => {
    const host = await started();
    await host.claim({ term: 2, reason: 'peer-dead' });
    let deactivate!: () => void;
    balancer.hold = new Promise((resolve) => (deactivate = resolve));
    await host.release({ reason: 'shutdown' });
    journal.length = 0;
    hooks.pending = 1;
    const closed = host.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(journal).toEqual(['hooks drained', 'unwatch eth0 eth1', 'announcer stopped', 'packets closed', 'addresses closed']);
    deactivate();
    await closed;
    expect(journal.slice(5)).toEqual(['balancer deactivate', 'balancer close']);
    expect(events('hooks.abandoned')).toMatchObject([{ pending: 1 }]);
  });
});
