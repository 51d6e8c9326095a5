// The active role on this host. Claim: check forwarding (NAT), add the addresses over
// rtnetlink and announce each one the moment the kernel has it, then start the balancer
// (IPVS, health checks). Release: stop announcing, remove the addresses, stop the
// balancer. At start, before the election runs, stale addresses of an earlier run
// are removed and the monitored links are watched; their state is this node's
// health. Hooks are queued in transition order and never waited for. The parts
// that touch the host are given to it: cli/run.ts builds the real ones.
import { heartbeatPaths, type HealthSummary, type SyncRole, type Transition, type TransitionReason } from '../cluster/index.js';
import type { ClaimedAddress, Model, NodeSpec } from '../config/model.js';
import type { ControllerStatus } from '../control/index.js';
import type { Balancer } from '../ipvs/index.js';
import { createStats, type Stats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import type {
  AddressFailure,
  AddressManager,
  Announcer,
  HostView,
  LinkEvent,
  LinkState,
  NeighbourRefresher,
  NeighbourTarget,
  PlacedAddress,
  ReconcileReport,
} from '../net/index.js';
import type { Controller } from './controller.js';
import type { HookRunner } from './hooks.js';
import {
  cidrOf,
  claimedAddresses,
  linkHealth,
  managedAddresses,
  monitoredLinks,
  peerNeighbours,
  type AddressRole,
  type MonitoredLinks,
} from './host-plan.js';
import { wallClock } from './status.js';

export type HostAddresses = Pick<AddressManager, 'claim' | 'release' | 'reconcile' | 'readHost' | 'close'>;
export type HostAnnouncer = Pick<Announcer, 'announce' | 'withdraw' | 'setSpec' | 'stop'>;
export interface LinkWatch {
  on(event: 'link', listener: (event: LinkEvent) => void): unknown;
  start(): Promise<LinkState[]>;
  states(): LinkState[];
  close(): void;
}
export type HostNeighbours = Pick<NeighbourRefresher, 'dropUnresolved' | 'close'>;
export type HostHooks = Pick<HookRunner, 'transition' | 'setSpec' | 'pending' | 'drain'>;

/** The host's parts, built by the caller (cli/run.ts: net/'s rtnetlink, packet socket and sysctls; fakes in tests). */
export interface HostControllerOptions {
  model: Model;
  self: NodeSpec;
  peer?: NodeSpec;
  logger: Logger;
  addresses: HostAddresses;
  announcer: HostAnnouncer;
  /** The packet socket the announcer sends through; closed with the controller. */
  packets: { close(): void };
  /** A watch on these links, for the controller to start and close. */
  watchLinks: (devices: string[]) => LinkWatch;
  /** The peer's neighbour entries, asked again at once when a heartbeat link comes back; without it, the kernel's retries only. */
  neighbours?: HostNeighbours;
  /** Makes sure the host forwards what a NAT configuration needs; throws when it does not. */
  checkForwarding: (model: Model, logger: Logger) => void;
  hooks: HostHooks;
  /** IPVS and health checks; without one, the node moves addresses only. */
  balancer?: Balancer;
  /** The counters the parts count into (status reads the announcer's); default: a set of its own. */
  stats?: Stats;
}

/** Why the peer's neighbour entries are looked at again (logged with the refresh). */
type RefreshTrigger = { trigger: 'link-up' } | { trigger: 'path-up'; path: number };

const elapsed = (since: number) => Math.round((performance.now() - since) * 100) / 100;

export class HostController implements Controller {
  private model: Model;
  private readonly logger: Logger;
  private readonly addresses: HostAddresses;
  private readonly announcer: HostAnnouncer;
  private readonly hooks: HostHooks;
  private readonly stats: Stats;
  private links: LinkWatch | undefined;
  private monitored: MonitoredLinks = { required: [], heartbeat: [] };
  /** The peer's neighbour entries, by heartbeat path. */
  private pathNeighbours: NeighbourTarget[][] = [];
  private onHealth: (health: HealthSummary) => void = () => undefined;
  /** Between claim and release (the desired state a reload reconciles to). */
  private active = false;
  private held: PlacedAddress[] = [];
  private failed: AddressFailure[] = [];
  private lastAnnouncedAt: number | undefined;
  /** The balancer's deactivation, while it runs after the release resolved (the peer is told at once); the next claim waits for it. */
  private deactivating: Promise<void> | undefined;

  /** The options without the first model: a reload replaces this.model, and the first must go. */
  private readonly options: Omit<HostControllerOptions, 'model'>;

  constructor({ model, ...options }: HostControllerOptions) {
    this.options = options;
    this.model = model;
    this.logger = options.logger.child({ component: 'controller' });
    this.addresses = options.addresses;
    this.announcer = options.announcer;
    this.hooks = options.hooks;
    this.stats = options.stats ?? createStats();
  }

  async start(onHealth: (health: HealthSummary) => void): Promise<HealthSummary> {
    this.onHealth = onHealth;
    const report = await this.addresses.release(managedAddresses(this.model));
    if (report.removed.length > 0) {
      this.logger.warn(
        { event: 'controller.stale-addresses', addresses: report.removed.map((r) => `${r.address.address}/${r.prefix} ${r.device}`) },
        `removed ${report.removed.length} address(es) an earlier run left behind`,
      );
    }
    return this.watchLinks();
  }

  async claim(request: { term: number; reason: TransitionReason }): Promise<void> {
    const started = performance.now();
    this.active = true;
    this.options.checkForwarding(this.model, this.logger);
    const forwardingMs = elapsed(started);
    // only when there is one: an await would let the caller run on before the first frame
    if (this.deactivating) await this.deactivating;
    // The addresses and their announcements first, then the table: measured on 10,000
    // services, the other order kept every service unreachable until the whole table
    // was in (README: "Claim order").
    let firstFrameMs: number | undefined;
    const report = await this.addresses.claim(this.wanted(), (placed) => {
      this.announceNow(placed);
      firstFrameMs ??= elapsed(started);
    });
    const failed = this.settle(report);
    await this.runBalancer('activate', (b) => b.activate());
    const balancerMs = elapsed(started);
    this.logger.info(
      // the timings are since the claim started: where a takeover's time goes
      {
        event: 'controller.claim',
        ...request,
        addresses: this.held.map(cidrOf),
        forwardingMs,
        balancerMs,
        firstFrameMs,
        durationMs: elapsed(started),
      },
      `claimed ${this.held.length} address(es)`,
    );
    if (failed.length > 0) throw new Error(`cannot claim ${failed.map((f) => `${f.address.address} (${f.reason})`).join(', ')}`);
  }

  async release(request: { reason: TransitionReason }): Promise<void> {
    const started = performance.now();
    this.active = false;
    this.announcer.stop();
    const report = await this.addresses.release(managedAddresses(this.model));
    this.held = [];
    this.failed = report.failed;
    this.logger.info(
      { event: 'controller.release', ...request, removed: report.removed.map((r) => cidrOf(r.address)), durationMs: elapsed(started) },
      `released ${report.removed.length} address(es)`,
    );
    const deactivating = this.runBalancer('deactivate', (b) => b.deactivate()).then(() => {
      if (this.deactivating === deactivating) this.deactivating = undefined;
    });
    this.deactivating = deactivating;
    if (report.failed.length > 0)
      throw new Error(`cannot remove ${report.failed.map((f) => `${f.address.address} (${f.reason})`).join(', ')}`);
  }

  /** A claim again: puts back anything removed by hand meanwhile and restarts the burst for every address. */
  async announce(request: { reason: string }): Promise<void> {
    if (!this.active) return;
    const report = await this.addresses.claim(this.wanted(), (placed) => this.announceNow(placed));
    this.settle(report);
    this.logger.info(
      { event: 'controller.announce', ...request, addresses: this.held.map(cidrOf) },
      `announcing ${this.held.length} address(es) again`,
    );
  }

  async setSyncRole(role: SyncRole): Promise<void> {
    await this.runBalancer('setSyncRole', (b) => b.setSyncRole(role));
  }

  runHooks(transition: Transition): void {
    this.hooks.transition({
      from: transition.from,
      to: transition.to,
      reason: transition.reason,
      term: transition.term,
      ...(transition.peer && { peer: transition.peer.name }),
      addresses: claimedAddresses(this.model).map((r) => cidrOf(r.address)),
      at: wallClock(transition.at).getTime(),
    });
  }

  refreshPeer(path: number): void {
    // without the path's link (none planned yet), every one of the peer's entries: one netlink get each
    this.refreshNeighbours(this.pathNeighbours[path] ?? this.pathNeighbours.flat(), { trigger: 'path-up', path });
  }

  async reload(model: Model): Promise<void> {
    const before = this.model;
    this.model = model;
    this.hooks.setSpec(model.hooks);
    this.announcer.setSpec(model.announce);
    const managed = [...managedAddresses(before), ...managedAddresses(model)];
    if (this.active) {
      try {
        this.options.checkForwarding(model, this.logger);
      } catch (error) {
        this.logger.error(
          { event: 'controller.forwarding', err: error },
          `${(error as Error).message} (the reload keeps this node active)`,
        );
      }
      const announced = new Set(this.held.map((p) => `${p.address} ${p.ifindex}`));
      const report = await this.addresses.reconcile({ present: this.wanted(), absent: managed }, (placed) => {
        if (!announced.has(`${placed.address} ${placed.ifindex}`)) this.announceNow(placed);
      });
      this.announcer.withdraw(report.removed.filter((r) => r.why === 'released').map((r) => r.address.address));
      this.settle(report);
    } else {
      this.settle(await this.addresses.release(managed));
    }
    const monitored = this.watched(await this.addresses.readHost());
    if (JSON.stringify(monitored) !== JSON.stringify(this.monitored)) this.onHealth(await this.watchLinks());
    await this.runBalancer('reload', (b) => b.reload(model));
  }

  status(): ControllerStatus {
    const purposes = new Map(claimedAddresses(this.model).map((r) => [r.address.address, r.purpose]));
    return {
      addresses: this.held.map((p) => ({
        address: p.address,
        prefix: p.prefix,
        device: p.device,
        ...(p.family === 4 && { label: p.label ?? p.device }),
        purpose: purposes.get(p.address) ?? '',
      })),
      failedAddresses: this.failed.map((f) => ({ address: cidrOf(f.address), reason: f.reason })),
      announcements: {
        framesSent: this.stats.announce.framesSent.value(),
        framesFailed: this.stats.announce.framesFailed.value(),
        ...(this.lastAnnouncedAt !== undefined && { lastMsAgo: Math.round(performance.now() - this.lastAnnouncedAt) }),
      },
      ...(this.links && { links: this.links.states() }),
      hooks: { pending: this.hooks.pending },
    };
  }

  async close(): Promise<void> {
    const unfinished = await this.hooks.drain();
    if (unfinished > 0)
      this.logger.warn({ event: 'hooks.abandoned', pending: unfinished }, `stopping with ${unfinished} hook(s) unfinished`);
    this.links?.close();
    this.announcer.stop();
    this.options.packets.close();
    this.addresses.close();
    this.options.neighbours?.close();
    await this.deactivating;
    await this.runBalancer('close', (b) => b.close());
  }

  // ---- helpers ----

  private wanted(): ClaimedAddress[] {
    return claimedAddresses(this.model).map((r: AddressRole) => r.address);
  }

  private announceNow(placed: PlacedAddress): void {
    this.announcer.announce([{ ...placed, router: placed.address === this.model.natRouter?.address }]);
    this.lastAnnouncedAt = performance.now();
  }

  /** Records what a claim or reload left on the host; returns the failures. */
  private settle(report: ReconcileReport): AddressFailure[] {
    const order = this.wanted().map((a) => a.address);
    const placed = [...report.kept, ...report.added].sort((a, b) => order.indexOf(a.address) - order.indexOf(b.address));
    this.held = this.active ? placed : [];
    this.failed = report.failed;
    return report.failed;
  }

  private watched(host: HostView): MonitoredLinks {
    const { self, peer } = this.options;
    const paths = peer ? heartbeatPaths(self, peer).paths : [];
    this.pathNeighbours = paths.map((path) => peerNeighbours([path], host));
    return monitoredLinks(
      this.model,
      paths.map((p) => p.local),
      host,
    );
  }

  /** What we sent while the peer could not hear us must not hold up what we send now. */
  private refreshNeighbours(targets: NeighbourTarget[], why: RefreshTrigger): void {
    const { neighbours } = this.options;
    for (const target of targets) {
      const { device, address } = target;
      neighbours
        ?.dropUnresolved(target)
        .then((state) => {
          if (state)
            this.logger.info(
              { event: 'neighbour.refreshed', device, address, state, ...why },
              `${why.trigger === 'link-up' ? `${device} is up` : `heard the peer again on path ${why.path}`}: ` +
                `asking for ${address} on ${device} again at once (its neighbour entry was ${state})`,
            );
        })
        .catch((error: unknown) =>
          this.logger.warn(
            { event: 'neighbour.refresh-failed', device, address, ...why, err: error },
            `cannot refresh the neighbour entry for ${address} on ${device}: the kernel asks again within its retrans_time`,
          ),
        );
    }
  }

  /** (Re)starts watching the monitored links; resolves with the health they give. */
  private async watchLinks(): Promise<HealthSummary> {
    this.links?.close();
    this.links = undefined;
    const monitored = this.watched(await this.addresses.readHost());
    this.monitored = monitored;
    const devices = [...monitored.required, ...monitored.heartbeat];
    if (devices.length === 0) return linkHealth(undefined, monitored);
    const monitor = this.options.watchLinks(devices);
    this.links = monitor;
    monitor.on('link', (event) => {
      if (event.initial || this.links !== monitor) return;
      if (event.up)
        this.refreshNeighbours(
          this.pathNeighbours.flat().filter((t) => t.device === event.device),
          { trigger: 'link-up' },
        );
      this.onHealth(linkHealth(monitor.states(), monitored));
    });
    await monitor.start();
    this.logger.info({ event: 'controller.links', ...monitored }, `monitoring links ${devices.join(', ')}`);
    return linkHealth(monitor.states(), monitored);
  }

  /** IPVS trouble never blocks a takeover: the balancer logs and retries it; a failure here is a bug, logged. */
  private async runBalancer(step: string, run: (balancer: Balancer) => Promise<void>): Promise<void> {
    const { balancer } = this.options;
    if (!balancer) return;
    await run(balancer).catch((error: unknown) =>
      this.logger.error({ event: 'balancer.failed', step, err: error }, `balancer ${step} failed`),
    );
  }
}
