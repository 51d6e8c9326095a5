// The Balancer over the kernel's IPVS: the driver of the BalancerPlanner. It feeds the
// planner the calls, the health monitor's changes and the clock, runs the kernel operations
// it answers with one at a time (each starts from what the previous one left), reports how
// each ended, and keeps one timer armed for the planner's next wake. Whole-table work goes
// through the reconciler's chunks: the heartbeat shares this event loop.
import { networkInterfaces } from 'node:os';
import type { SyncRole } from '../cluster/index.js';
import { ipvsSyncOverChannel, wireSyncDaemons } from '../config/index.js';
import type { Model, NodeSpec, VirtualService } from '../config/model.js';
import { HealthMonitor } from '../health/index.js';
import { SerialQueue } from '../lib/serial-queue.js';
import { createStats, type IpvsStats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import type { Balancer, BalancerStatus } from './balancer.js';
import { BalancerPlanner, IPVS_REMEDY, type BalancerEvent, type BalancerOperation, type Outcome } from './balancer-planner.js';
import { serviceStatuses } from './balancer-status.js';
import { desiredTable, desiredTableInChunks, type DesiredOptions, type IpvsRole } from './desired.js';
import { IpvsNetlink } from './genl/driver.js';
import type { IpvsInfo } from './genl/codec.js';
import { readTable, type IpvsDriver } from './operations.js';
import { changedServices, servicesByKey } from './model-services.js';
import { IpvsReconciler } from './reconcile.js';
import { desiredSyncDaemons, reconcileSyncDaemons, reconcileTimeouts, type SyncDaemonDriver, type TimeoutsDriver } from './settings.js';
import { serviceKey } from './table.js';
import { PlannerStopped, TableThread } from './table-thread.js';

/** From this many services, whole tables are planned on the table planner's thread. At
 *  10,000 × 4 the thread made no difference to the longest stall and costs a copy of the
 *  model (about 1 kB a service); at 100,000 × 2 it keeps the claim's garbage off the event
 *  loop's heap (README: Whole tables on the planner's thread). */
export const TABLE_THREAD_SERVICES = 50_000;

/** What the balancer needs of the kernel's IPVS (IpvsNetlink; an in-memory one in unit tests). */
export interface IpvsKernel extends IpvsDriver, TimeoutsDriver, SyncDaemonDriver {
  info(): Promise<IpvsInfo>;
  close(): void;
}

export interface IpvsBalancerOptions {
  model: Model;
  /** This node: the interface holding its address carries the sync daemon unless the model names one. */
  self: NodeSpec;
  logger: Logger;
  /** Default: the generic netlink driver. */
  openKernel?: () => Promise<IpvsKernel>;
  /** Default: a HealthMonitor with its defaults. */
  health?: HealthMonitor;
  /** See BalancerPlannerOptions. */
  repairInterval?: number;
  retryDelay?: number;
  openRetryDelay?: number;
  healthBatch?: number;
  /** Where the planner counts; default: counters of its own. */
  stats?: IpvsStats;
  /** From how many services whole tables are planned on a thread (default TABLE_THREAD_SERVICES). */
  tableThreadFrom?: number;
  /** How that thread is started (tests start one that fails). */
  startPlanner?: ConstructorParameters<typeof TableThread>[0]['start'];
  /** Wall clock in epoch ms (the planner's clock, and status times). */
  now?: () => number;
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** This node's address in `model` (a reload may change it). */
function selfAddress(model: Model, self: NodeSpec): string {
  return model.nodes.find((node) => node.name === self.name)?.address ?? self.address;
}

/** The interface the sync daemon runs on: the model's, or the one holding this node's address. */
function syncInterface(model: Model, self: NodeSpec): string | undefined {
  if (model.sync.interface) return model.sync.interface;
  const address = selfAddress(model, self);
  return Object.entries(networkInterfaces()).find(([, addresses]) => addresses?.some((a) => a.address === address))?.[0];
}

export class IpvsBalancer implements Balancer {
  private readonly planner: BalancerPlanner;
  private readonly logger: Logger;
  private readonly openKernel: () => Promise<IpvsKernel>;
  private readonly now: () => number;
  /** Kernel operations, one at a time. */
  private readonly operations = new SerialQueue();
  /** The Balancer's calls, each once the one before it has settled (a release never
   *  overtakes the claim before it). */
  private readonly calls = new SerialQueue();
  private opened: { kernel: IpvsKernel; reconciler: IpvsReconciler } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  /** Calls waiting for the planner to settle. */
  private waiting: Array<() => void> = [];
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly stats: IpvsStats;
  /** The table planner's thread, while the model is big enough for it. */
  private tableThread: TableThread | undefined;

  /** The options without the first model, which the planner holds until a reload replaces it. */
  private readonly options: Omit<IpvsBalancerOptions, 'model'>;

  private constructor(
    { model, ...options }: IpvsBalancerOptions,
    private readonly health: HealthMonitor,
    services: ReadonlyMap<string, VirtualService>,
  ) {
    this.options = options;
    this.logger = options.logger.child({ component: 'balancer' });
    this.openKernel = options.openKernel ?? (() => IpvsNetlink.open());
    this.now = options.now ?? Date.now;
    this.stats = options.stats ?? createStats().ipvs;
    this.planner = new BalancerPlanner({
      model,
      services,
      now: this.now(),
      ...(options.repairInterval !== undefined && { repairInterval: options.repairInterval }),
      ...(options.retryDelay !== undefined && { retryDelay: options.retryDelay }),
      ...(options.openRetryDelay !== undefined && { openRetryDelay: options.openRetryDelay }),
      ...(options.healthBatch !== undefined && { healthBatch: options.healthBatch }),
      stats: this.stats,
    });
    this.planOnThreadIfBig(model);
    this.unsubscribe = health.onChange((changes) =>
      this.dispatch({ type: 'health', now: this.now(), services: changes.map((change) => change.virtualService) }),
    );
  }

  /** Plans the health checks of the model (chunked); touches no kernel state. */
  static async create(options: IpvsBalancerOptions): Promise<IpvsBalancer> {
    const health = options.health ?? new HealthMonitor({ logger: options.logger });
    await health.reload(options.model);
    return new IpvsBalancer(options, health, await servicesByKey(options.model));
  }

  activate(): Promise<void> {
    return this.call(() => {
      // Every server counts as up until checked, so the table programmed now is the full one.
      this.health.enable();
      this.dispatch({ type: 'activate', now: this.now() });
    });
  }

  deactivate(): Promise<void> {
    return this.call(async () => {
      this.dispatch({ type: 'deactivate', now: this.now() });
      await this.health.disable();
    });
  }

  reload(model: Model): Promise<void> {
    return this.call(async () => {
      await this.health.reload(model);
      const services = await servicesByKey(model);
      const changed = await changedServices(this.planner.figures().services, services);
      this.planOnThreadIfBig(model);
      this.dispatch({ type: 'reload', now: this.now(), model, services, changed });
    });
  }

  setSyncRole(role: SyncRole): Promise<void> {
    return this.call(() => this.dispatch({ type: 'sync-role', now: this.now(), role }));
  }

  /** After the daemon's last release: stops checking and closes the kernel socket (the table
   *  stays as the release left it). */
  async close(): Promise<void> {
    this.unsubscribe();
    await this.calls.run(async () => {
      this.closed = true;
      this.dispatch({ type: 'close', now: this.now() });
      await this.operations.run(async () => {
        await this.health.disable();
        await this.tableThread?.close();
        this.opened?.kernel.close();
        this.opened = undefined;
      });
    });
  }

  async status(): Promise<BalancerStatus> {
    if (!this.opened) {
      this.dispatch({ type: 'status', now: this.now() });
      await this.operations.run(() => Promise.resolve()); // the opening this may have started
    }
    const figures = this.planner.figures();
    const { model, unavailable, lastReconcile, repairs } = figures;
    const networkInterface = syncInterface(model, this.options.self);
    const status: BalancerStatus = {
      role: figures.role,
      since: iso(figures.since),
      ipvs: unavailable
        ? { state: 'unavailable', since: iso(unavailable.since), error: unavailable.error, remedy: IPVS_REMEDY }
        : { state: 'unused' },
      sync: {
        enabled: wireSyncDaemons(model.sync),
        ...(ipvsSyncOverChannel(model.sync) && { overChannel: true }),
        role: figures.syncRole,
        ...(networkInterface && { interface: networkInterface }),
        syncId: model.sync.syncId,
        port: model.sync.port,
        running: [],
        ...(figures.syncError && { error: figures.syncError }),
      },
      health: this.health.stats(),
      failing: figures.failing,
      repairs: { count: repairs.count, ...(repairs.last && { last: { ...repairs.last, at: iso(repairs.last.at) } }) },
      ...(lastReconcile && { lastReconcile: { ...lastReconcile, at: iso(lastReconcile.at) } }),
    };
    const kernel = this.opened?.kernel;
    if (!kernel) return status;
    try {
      const info = await kernel.info();
      status.ipvs = { state: 'available', ...info };
      const table = await readTable(kernel);
      const health = figures.role === 'active' ? this.health.serverStatus.bind(this.health) : undefined;
      const { services, missing } = await serviceStatuses(table, figures.services, health, this.now());
      status.services = services;
      if (missing.length > 0) status.missingServices = missing;
      status.timeouts = await kernel.getTimeouts();
      status.sync.running = await kernel.listDaemons();
    } catch (error) {
      status.readError = errorMessage(error);
    }
    return status;
  }

  // ---- the loop ----

  /** Runs a call after the ones before it; resolves once the planner has done what it asked. */
  private call(start: () => void | Promise<void>): Promise<void> {
    return this.calls.run(async () => {
      if (this.closed) return;
      await start();
      if (!this.planner.settled) await new Promise<void>((resolve) => this.waiting.push(resolve));
    });
  }

  private dispatch(event: BalancerEvent): void {
    for (const action of this.planner.handle(event)) {
      if (action.type === 'log') this.logger[action.level]({ event: action.event, ...action.fields }, action.message);
      else this.execute(action);
    }
    if (this.planner.settled) for (const resolve of this.waiting.splice(0)) resolve();
    this.arm();
  }

  private arm(): void {
    const now = this.now();
    const wakeAt = this.planner.nextWakeAt(now);
    if (this.timer && wakeAt === this.wakeAt) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = wakeAt;
    if (wakeAt === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dispatch({ type: 'tick', now: this.now() });
    }, wakeAt - now);
    this.timer.unref();
  }

  private execute(operation: BalancerOperation): void {
    void this.operations.run(async () => {
      const outcome = await this.perform(operation).catch((error: unknown): Outcome => ({ type: 'threw', error }));
      this.dispatch({ type: 'done', now: this.now(), outcome });
    });
  }

  private async perform(operation: BalancerOperation): Promise<Outcome> {
    switch (operation.type) {
      case 'open':
        return this.open();
      case 'apply-timeouts':
        try {
          await reconcileTimeouts(this.session().kernel, operation.timeouts, this.logger);
          return { type: 'timeouts-applied' };
        } catch (error) {
          return { type: 'timeouts-applied', error: errorMessage(error) };
        }
      case 'reconcile-table': {
        const planned = await this.reconcileOnThread(operation);
        if (planned) return planned;
        const desired = await desiredTableInChunks(operation.model, this.desiredOptions(operation.role));
        return { type: 'reconciled', result: await this.session().reconciler.reconcile(desired, operation.reason) };
      }
      case 'reconcile-services': {
        const desired = desiredTable(operation.model, this.desiredOptions(operation.role), operation.services);
        // Owned but not desired: the reconcile deletes them.
        for (const identity of operation.removed) desired.owned.set(serviceKey(identity), identity);
        return { type: 'reconciled', result: await this.session().reconciler.reconcileServices(desired, operation.reason) };
      }
      case 'reconcile-sync':
        return this.reconcileSync(operation);
    }
  }

  /** A big model goes to the planner's thread at once (a claim then finds it there); a small
   *  one ends the thread, and its memory with it. */
  private planOnThreadIfBig(model: Model): void {
    if (model.virtualServices.length < (this.options.tableThreadFrom ?? TABLE_THREAD_SERVICES)) {
      void this.tableThread?.close();
      this.tableThread = undefined;
      return;
    }
    this.tableThread ??= new TableThread({
      logger: this.logger,
      stats: this.stats,
      ...(this.options.startPlanner && { start: this.options.startPlanner }),
    });
    // a thread that stops meanwhile is logged, and the table is planned here instead
    this.tableThread.prepare(model).catch(() => undefined);
  }

  /** The whole table planned on the thread; undefined when there is none, or it stopped. */
  private async reconcileOnThread(operation: Extract<BalancerOperation, { type: 'reconcile-table' }>): Promise<Outcome | undefined> {
    const thread = this.tableThread;
    if (!thread) return undefined;
    try {
      const target = await thread.target(operation.model, operation.role, this.desiredOptions(operation.role).health);
      return { type: 'reconciled', result: await this.session().reconciler.reconcileTable(target, operation.reason) };
    } catch (error) {
      if (error instanceof PlannerStopped) return undefined;
      throw error;
    }
  }

  /** Active, with the real servers' health as it is now. */
  private desiredOptions(role: IpvsRole): DesiredOptions {
    return { role, ...(role === 'active' && { health: this.health.view }) };
  }

  private async open(): Promise<Outcome> {
    let kernel: IpvsKernel;
    try {
      kernel = await this.openKernel();
    } catch (error) {
      return { type: 'open-failed', error: errorMessage(error) };
    }
    this.opened = { kernel, reconciler: new IpvsReconciler(kernel, this.options.logger) };
    const info = await kernel.info().catch(() => undefined);
    return { type: 'opened', ...(info && { version: info.version }) };
  }

  private async reconcileSync({ model, state }: Extract<BalancerOperation, { type: 'reconcile-sync' }>): Promise<Outcome> {
    const networkInterface = syncInterface(model, this.options.self);
    if (state !== 'none' && !networkInterface)
      return {
        type: 'sync-reconciled',
        error: `no interface holds this node's address ${selfAddress(model, this.options.self)}; set sync.interface`,
      };
    try {
      await reconcileSyncDaemons(this.session().kernel, desiredSyncDaemons(model.sync, state, networkInterface ?? ''), this.logger);
      return { type: 'sync-reconciled' };
    } catch (error) {
      return { type: 'sync-reconciled', error: errorMessage(error) };
    }
  }

  private session(): { kernel: IpvsKernel; reconciler: IpvsReconciler } {
    if (!this.opened) throw new Error('IPVS is not open');
    return this.opened;
  }
}
