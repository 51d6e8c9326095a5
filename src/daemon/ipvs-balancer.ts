// The Balancer over the kernel's IPVS: the table from the model, the role and the real
// servers' health (HealthMonitor), the connection sync daemon and the IPVS timeouts.
//
// Everything that changes the kernel runs as one task at a time, so a health change
// never lands between a release and the next claim and every reconcile starts from what
// the previous one left. Health changes are coalesced per service and reconciled in
// batches; whole-table work goes through the reconciler's chunks: the heartbeat shares
// this event loop. While active, a periodic reconcile puts back what someone changed
// behind tandem's back (ipvsadm -C) and retries operations that failed.
import { networkInterfaces } from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { SyncRole } from '../cluster/index.js';
import type { Model, NodeSpec, VirtualService } from '../config/model.js';
import { HealthMonitor, type HealthChange } from '../health/index.js';
import {
  describeOperation,
  desiredSyncDaemons,
  desiredTable,
  desiredTableInChunks,
  forEachInChunks,
  identityOfVirtualService,
  IpvsNetlink,
  IpvsReconciler,
  readTable,
  reconcileSyncDaemons,
  reconcileTimeouts,
  serviceKey,
  serviceStatuses,
  type IpvsDriver,
  type IpvsInfo,
  type IpvsRole,
  type ReconcileResult,
  type SyncDaemonDriver,
  type TimeoutsDriver,
} from '../ipvs/index.js';
import { SerialQueue } from '../lib/serial-queue.js';
import type { Logger } from '../log.js';

import type { Balancer, BalancerStatus, ReconcileRecord } from '../ipvs/index.js';

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
  /** While active, how often the kernel's table is compared with the desired one (ms); at
   *  least REPAIR_COST_FACTOR times the last whole-table reconcile, so a large table is not
   *  read over and over. */
  repairInterval?: number;
  /** After a failed operation, the first retry (ms); doubles up to repairInterval. */
  retryDelay?: number;
  /** After IPVS could not be opened, the first new attempt (ms); doubles up to 5 min. */
  openRetryDelay?: number;
  /** Services reconciled together after health changes. */
  healthBatch?: number;
  /** Wall clock in epoch ms (status times). */
  now?: () => number;
}

export const DEFAULT_REPAIR_INTERVAL = 10_000;
/** Drift repair may take at most 1/REPAIR_COST_FACTOR of the time (reading 10,000 services
 *  costs seconds). */
const REPAIR_COST_FACTOR = 20;
const MAX_OPEN_RETRY_DELAY = 300_000;
const REMEDY = 'load the IPVS module: modprobe ip_vs (the kernel needs CONFIG_IP_VS); tandem retries by itself';
/** Operations named in one log line about a repair; the rest are counted. */
const LOGGED_OPERATIONS = 20;

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The interface that holds `address` in this network namespace. */
function interfaceHolding(address: string): string | undefined {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (addresses?.some((a) => a.address === address)) return name;
  }
  return undefined;
}

export class IpvsBalancer implements Balancer {
  private model: Model;
  /** The model's services by IPVS key (health changes and reloads find them by it). */
  private services = new Map<string, VirtualService>();
  private role: IpvsRole = 'inactive';
  private roleSince: number;
  private syncRole: SyncRole = 'none';
  private readonly health: HealthMonitor;
  private readonly logger: Logger;
  private readonly openKernel: () => Promise<IpvsKernel>;
  private readonly now: () => number;
  private readonly repairInterval: number;
  private readonly firstRetryDelay: number;
  private readonly firstOpenRetryDelay: number;
  private readonly healthBatch: number;

  private kernel: IpvsKernel | undefined;
  private opening: Promise<IpvsKernel | undefined> | undefined;
  private reconciler: IpvsReconciler | undefined;
  private unavailable: { since: number; error: string } | undefined;
  private openRetryDelay: number;
  private nextOpenAt = 0;
  /** Everything that changes the kernel, one at a time. */
  private readonly tasks = new SerialQueue();
  /** Services whose real servers changed health, waiting for the next health reconcile. */
  private readonly pending = new Set<string>();
  private healthTaskQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private retryDelay: number;
  /** The table has been programmed in the current role (until then a reconcile is the claim, not a repair). */
  private programmed = true;
  /** A task ended in an exception (e.g. the kernel did not answer); the next maintenance redoes the table. */
  private taskFailed = false;
  private timeoutsError: string | undefined;
  /** Failed operations by service key, retried with the next reconcile. */
  private failing = new Map<string, string[]>();
  private lastReconcile: ReconcileRecord | undefined;
  /** How long the last whole-table reconcile took (ms). */
  private lastWholeTableMs = 0;
  private readonly repairs: BalancerStatus['repairs'] = { count: 0 };
  private syncError: string | undefined;
  /** Whether tandem runs (or ran) sync daemons: if sync is switched off, they are stopped. */
  private syncStarted = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  private constructor(private readonly options: IpvsBalancerOptions) {
    this.model = options.model;
    this.logger = options.logger.child({ component: 'balancer' });
    this.health = options.health ?? new HealthMonitor({ logger: options.logger });
    this.openKernel = options.openKernel ?? (() => IpvsNetlink.open());
    this.now = options.now ?? Date.now;
    this.repairInterval = options.repairInterval ?? DEFAULT_REPAIR_INTERVAL;
    this.firstRetryDelay = Math.min(options.retryDelay ?? 1000, this.repairInterval);
    this.retryDelay = this.firstRetryDelay;
    this.firstOpenRetryDelay = options.openRetryDelay ?? 10_000;
    this.openRetryDelay = this.firstOpenRetryDelay;
    this.healthBatch = options.healthBatch ?? 500;
    this.roleSince = this.now();
    this.unsubscribe = this.health.onChange((changes) => this.noteHealth(changes));
  }

  /** Plans the health checks of the model (chunked); touches no kernel state. */
  static async create(options: IpvsBalancerOptions): Promise<IpvsBalancer> {
    const balancer = new IpvsBalancer(options);
    await balancer.health.reload(options.model);
    await balancer.indexServices(options.model);
    return balancer;
  }

  activate(): Promise<void> {
    return this.task('activate', async () => {
      this.setRole('active');
      // Every server counts as up until checked, so the table programmed now is the full one.
      this.health.enable();
      const kernel = await this.kernelIfNeeded();
      if (kernel) {
        await this.applyTimeouts(kernel);
        await this.reconcileAll('claim');
      }
    });
  }

  deactivate(): Promise<void> {
    return this.task('deactivate', async () => {
      this.setRole('inactive');
      this.pending.clear();
      await this.health.disable();
      if (this.kernel) await this.reconcileAll('release');
    });
  }

  reload(model: Model): Promise<void> {
    return this.task('reload', async () => {
      await this.health.reload(model);
      this.model = model;
      await this.indexServices(model);
      const kernel = await this.kernelIfNeeded();
      if (!kernel) return;
      if (this.role === 'active') await this.applyTimeouts(kernel);
      await this.reconcileAll('reload');
      await this.reconcileSync();
    });
  }

  setSyncRole(role: SyncRole): Promise<void> {
    return this.task('sync-role', async () => {
      this.syncRole = role;
      await this.reconcileSync();
    });
  }

  /** After the daemon's last release: stops checking and closes the kernel socket (the table
   *  stays as the release left it). */
  async close(): Promise<void> {
    this.unsubscribe();
    await this.tasks.run(async () => {
      this.closed = true;
      clearTimeout(this.timer);
      await this.health.disable();
      this.kernel?.close();
      this.kernel = undefined;
    });
  }

  async status(): Promise<BalancerStatus> {
    const sync = this.model.sync;
    const status: BalancerStatus = {
      role: this.role,
      since: new Date(this.roleSince).toISOString(),
      ipvs: this.unavailable
        ? { state: 'unavailable', since: new Date(this.unavailable.since).toISOString(), error: this.unavailable.error, remedy: REMEDY }
        : { state: 'unused' },
      sync: {
        enabled: sync.enabled,
        role: this.syncRole,
        ...(this.syncInterface() && { interface: this.syncInterface() }),
        syncId: sync.syncId,
        port: sync.port,
        running: [],
        ...(this.syncError && { error: this.syncError }),
      },
      health: this.health.stats(),
      failing: [...this.failing.values()].flat(),
      repairs: this.repairs,
      ...(this.lastReconcile && { lastReconcile: this.lastReconcile }),
    };
    const kernel = await this.kernelIfNeeded();
    if (!kernel) return status;
    try {
      const info = await kernel.info();
      status.ipvs = { state: 'available', ...info };
      const table = await readTable(kernel);
      const active = this.role === 'active';
      const { services, missing } = serviceStatuses(table, this.model, active ? this.health.status() : undefined, this.now());
      status.services = services;
      if (missing.length > 0) status.missingServices = missing;
      status.timeouts = await kernel.getTimeouts();
      status.sync.running = await kernel.listDaemons();
    } catch (error) {
      status.readError = errorMessage(error);
    }
    return status;
  }

  // ---- tasks ----

  /** Runs a kernel task after the ones before it; logs what it could not do, never rejects. */
  private task(name: string, run: () => Promise<void>): Promise<void> {
    return this.tasks.run(async () => {
      if (this.closed) return;
      try {
        await run();
      } catch (error) {
        this.logger.error({ event: 'balancer.task-failed', task: name, err: error }, `${name}: ${errorMessage(error)}; retrying later`);
        this.taskFailed = true;
      }
      this.schedule();
    });
  }

  private setRole(role: IpvsRole): void {
    if (this.role === role) return;
    this.role = role;
    this.roleSince = this.now();
    this.programmed = false;
  }

  private async indexServices(model: Model): Promise<void> {
    const services = new Map<string, VirtualService>();
    await forEachInChunks(model.virtualServices, 1000, (service) => {
      const key = serviceKey(identityOfVirtualService(service));
      if (!services.has(key)) services.set(key, service);
    });
    this.services = services;
  }

  /** The kernel's IPVS, opened on first need. A kernel without IPVS is one error in the log
   *  (and in status) and a new attempt now and then, never an exception. */
  private async kernelIfNeeded(): Promise<IpvsKernel | undefined> {
    if (this.kernel || this.closed) return this.kernel;
    const needed = this.model.sync.enabled || this.model.virtualServices.some((service) => service.active);
    if (!needed || this.now() < this.nextOpenAt) return undefined;
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async open(): Promise<IpvsKernel | undefined> {
    try {
      const kernel = await this.openKernel();
      this.kernel = kernel;
      this.reconciler = new IpvsReconciler(kernel, this.options.logger);
      this.openRetryDelay = this.firstOpenRetryDelay;
      const info = await kernel.info().catch(() => undefined);
      if (this.unavailable) {
        this.logger.info({ event: 'ipvs.available', version: info?.version }, 'IPVS is available now: programming the table');
        this.unavailable = undefined;
      }
      return kernel;
    } catch (error) {
      const message = errorMessage(error);
      if (!this.unavailable) {
        this.unavailable = { since: this.now(), error: message };
        this.logger.error(
          { event: 'ipvs.unavailable', error: message, remedy: REMEDY },
          `IPVS is unavailable: ${message}. The addresses still move with the role, but nothing is balanced. Remedy: ${REMEDY}`,
        );
      } else {
        this.logger.debug({ event: 'ipvs.unavailable', error: message }, 'IPVS is still unavailable');
      }
      this.nextOpenAt = this.now() + this.openRetryDelay;
      this.openRetryDelay = Math.min(this.openRetryDelay * 2, MAX_OPEN_RETRY_DELAY);
      return undefined;
    }
  }

  private async applyTimeouts(kernel: IpvsKernel): Promise<void> {
    try {
      await reconcileTimeouts(kernel, this.model.ipvsTimeouts, this.logger);
      this.timeoutsError = undefined;
    } catch (error) {
      const message = errorMessage(error);
      if (message !== this.timeoutsError)
        this.logger.error({ event: 'ipvs.timeouts-failed', error: message }, `IPVS timeouts not set: ${message}`);
      this.timeoutsError = message;
    }
  }

  /** The whole table in the current role; returns what was done. */
  private async reconcileAll(reason: string): Promise<ReconcileResult> {
    const desired = await desiredTableInChunks(this.model, {
      role: this.role,
      ...(this.role === 'active' && { health: this.health.view }),
    });
    const result = await this.reconciler!.reconcile(desired, reason);
    this.lastWholeTableMs = result.durationMs;
    this.record(result, reason, undefined);
    this.programmed = true;
    this.taskFailed = false;
    return result;
  }

  private noteHealth(changes: HealthChange[]): void {
    if (this.role !== 'active' || this.closed) return;
    for (const change of changes) this.pending.add(serviceKey(identityOfVirtualService(change.virtualService)));
    if (this.healthTaskQueued) return;
    this.healthTaskQueued = true;
    void this.task('health', async () => {
      this.healthTaskQueued = false;
      await this.reconcileHealth();
    });
  }

  /** The services whose servers changed health, in batches; only theirs are read from the kernel. */
  private async reconcileHealth(): Promise<void> {
    if (this.role !== 'active' || !this.reconciler) {
      this.pending.clear();
      return;
    }
    while (this.pending.size > 0) {
      const batch: VirtualService[] = [];
      for (const key of this.pending) {
        this.pending.delete(key);
        // A service a reload removed meanwhile was reconciled by that reload.
        const service = this.services.get(key);
        if (service) batch.push(service);
        if (batch.length >= this.healthBatch) break;
      }
      if (batch.length === 0) continue;
      const desired = desiredTable(this.model, { role: 'active', health: this.health.view }, batch);
      const result = await this.reconciler.reconcileServices(desired, 'health');
      this.record(result, 'health', new Set(desired.owned.keys()));
    }
  }

  /** Periodic, while active or while something needs retrying: repair drift, retry failures. */
  private async maintain(): Promise<void> {
    const kernel = await this.kernelIfNeeded();
    if (!kernel) return;
    if (this.role === 'active') {
      // Health changes already noted go to their own reconcile first, so what the repair
      // finds is drift (or a retry), not health.
      await yieldToEventLoop();
      await this.reconcileHealth();
      await this.applyTimeouts(kernel);
    }
    if (this.role === 'active' || this.failing.size > 0 || this.taskFailed || !this.programmed) {
      // The first programming of this role (IPVS was unavailable, or the kernel did not answer) is no repair.
      const first = !this.programmed;
      const retried = new Set([...this.failing.values()].flat());
      const result = await this.reconcileAll(
        first ? (this.role === 'active' ? 'claim' : 'release') : this.role === 'active' ? 'repair' : 'retry',
      );
      // What it put back: an operation that failed (the table changed again while it was
      // read) is logged as a failure and retried, not reported as repaired.
      const failed = new Set(result.failures.map(({ operation }) => operation));
      const repaired = first
        ? []
        : result.operations
            .filter((operation) => !failed.has(operation))
            .map(describeOperation)
            .filter((operation) => !retried.has(operation));
      if (repaired.length > 0) {
        this.repairs.count += 1;
        this.repairs.last = { at: new Date(this.now()).toISOString(), operations: repaired.slice(0, LOGGED_OPERATIONS) };
        this.logger.warn(
          { event: 'ipvs.repaired', operations: repaired.length, repaired: repaired.slice(0, LOGGED_OPERATIONS) },
          `the IPVS table was changed behind tandem's back: ${repaired.length} operations put it back (${repaired.slice(0, 3).join('; ')}${repaired.length > 3 ? '; …' : ''})`,
        );
      }
    }
    await this.reconcileSync();
  }

  /** Remembers the result for status; failures (logged by the reconciler) are retried soon. */
  private record(result: ReconcileResult, reason: string, scope: Set<string> | undefined): void {
    this.lastReconcile = {
      at: new Date(this.now()).toISOString(),
      reason,
      operations: result.operations.length,
      failures: result.failures.length,
      durationMs: result.durationMs,
    };
    if (scope) for (const key of scope) this.failing.delete(key);
    else this.failing = new Map();
    for (const { operation } of result.failures) {
      const key = serviceKey(operation.service);
      this.failing.set(key, [...(this.failing.get(key) ?? []), describeOperation(operation)]);
    }
  }

  // ---- the sync daemon ----

  /** This node's address in the current model (a reload may change it). */
  private selfAddress(): string {
    const { self } = this.options;
    return this.model.nodes.find((node) => node.name === self.name)?.address ?? self.address;
  }

  private syncInterface(): string | undefined {
    return this.model.sync.interface ?? interfaceHolding(this.selfAddress());
  }

  /** Master while active, backup otherwise, none once stopped; only when the model enables sync
   *  (or to stop the daemons tandem started before a reload disabled it). */
  private async reconcileSync(): Promise<void> {
    const sync = this.model.sync;
    if (!sync.enabled && !this.syncStarted) return;
    const kernel = await this.kernelIfNeeded();
    if (!kernel) return;
    const networkInterface = this.syncInterface();
    const wanted = sync.enabled ? this.syncRole : 'none';
    if (wanted !== 'none' && !networkInterface) {
      this.failSync(`no interface holds this node's address ${this.selfAddress()}; set sync.interface`);
      return;
    }
    try {
      await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, wanted, networkInterface ?? ''), this.logger);
      this.syncStarted = wanted !== 'none';
      this.syncError = undefined;
    } catch (error) {
      this.failSync(errorMessage(error));
    }
  }

  private failSync(message: string): void {
    if (message !== this.syncError) {
      this.logger.error(
        { event: 'ipvs.sync-daemon-failed', role: this.syncRole, error: message },
        `IPVS ${this.syncRole} sync daemon: ${message}`,
      );
    }
    this.syncError = message;
  }

  // ---- timing ----

  /** Something to retry: failed operations, a failed task, timeouts, the sync daemon, or an
   *  IPVS that could not be opened while the role needs it. */
  private troubled(): boolean {
    return (
      this.failing.size > 0 ||
      this.taskFailed ||
      this.timeoutsError !== undefined ||
      this.syncError !== undefined ||
      (this.unavailable !== undefined && (this.role === 'active' || (this.model.sync.enabled && this.syncRole !== 'none')))
    );
  }

  /** The next maintenance: soon (backing off) while in trouble, every repairInterval while
   *  active. A pending one that is due sooner stays: frequent tasks (slow start changes
   *  weights every second) must not keep pushing the repair out. */
  private schedule(): void {
    if (this.closed) return;
    let delay: number;
    if (this.troubled()) {
      delay = this.retryDelay;
      if (this.unavailable) delay = Math.max(delay, this.nextOpenAt - this.now());
    } else {
      this.retryDelay = this.firstRetryDelay;
      if (this.role !== 'active') return;
      delay = Math.max(this.repairInterval, this.lastWholeTableMs * REPAIR_COST_FACTOR);
    }
    const due = this.now() + delay;
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      if (this.troubled()) this.retryDelay = Math.min(this.retryDelay * 2, this.repairInterval);
      void this.task('repair', () => this.maintain());
    }, delay);
    this.timer.unref();
  }
}
