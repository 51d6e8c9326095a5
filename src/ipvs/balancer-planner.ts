// The balancer's decisions as a pure state machine, shaped like the election: it is fed
// events (the role, the sync role, a new model, health changes, the outcome of each kernel
// operation, the clock) and answers with kernel operations, one at a time, and log lines;
// `nextWakeAt(now)` says when it wants the next tick. It owns the retries and their
// backoff, the periodic repair and what counts as one, and the figures status shows. No
// timers, no promises, no kernel: the driver (ipvs-balancer.ts) runs the operations.
//
// Work comes in three kinds, done in this order: what a call asked for (claim, release,
// reload, sync role), the services whose servers changed health, and the periodic
// maintenance (repair drift while active, retry what failed). A reload that changed only
// some services reconciles just those; one that changed what shapes every service, or
// that comes before the table is programmed in the role, reconciles the whole table.
import type { SyncRole } from '../cluster/index.js';
import { wireSyncDaemons } from '../config/index.js';
import type { IpvsTimeouts as ModelTimeouts, Model, VirtualService } from '../config/model.js';
import { createStats, type IpvsStats } from '../lib/stats.js';
import { identityOfVirtualService, type IpvsRole } from './desired.js';
import type { SyncDaemonState } from './genl/codec.js';
import { describeOperation } from './operations.js';
import type { ReconcileResult } from './reconcile.js';
import { serviceKey, type ServiceIdentity } from './table.js';

export const DEFAULT_REPAIR_INTERVAL = 10_000;
/** Drift repair may take at most 1/REPAIR_COST_FACTOR of the time (reading 10,000 services
 *  costs seconds). */
export const REPAIR_COST_FACTOR = 20;
export const MAX_OPEN_RETRY_DELAY = 300_000;
export const IPVS_REMEDY = 'load the IPVS module: modprobe ip_vs (the kernel needs CONFIG_IP_VS); tandem retries by itself';
/** Operations named in one log line about a repair; the rest are counted. */
const LOGGED_OPERATIONS = 20;
/** A reload reconciles only the services it changed while they are at most this share of
 *  the model's: each is read from the kernel on its own, where the whole table is read in
 *  bulk. */
const RELOAD_SERVICES_SHARE = 0.1;

/** Why the whole table is reconciled. The first programming in a role is a claim or a
 *  release; only a repair or a retry can find drift. */
export type TableReason = 'claim' | 'release' | 'reload' | 'repair' | 'retry';

export type BalancerOperation =
  | { type: 'open' }
  | { type: 'apply-timeouts'; timeouts: ModelTimeouts }
  /** Active: with the real servers' health as it is when the table is built. */
  | { type: 'reconcile-table'; reason: TableReason; role: IpvsRole; model: Model }
  /** Only these services (their servers changed health, or a reload changed them); the
   *  `removed` ones (a reload dropped them) are deleted. */
  | {
      type: 'reconcile-services';
      reason: 'health' | 'reload';
      role: IpvsRole;
      services: VirtualService[];
      removed: ServiceIdentity[];
      model: Model;
    }
  | { type: 'reconcile-sync'; state: SyncDaemonState | 'none'; model: Model };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type BalancerAction =
  BalancerOperation | { type: 'log'; level: LogLevel; event: string; message: string; fields?: Record<string, unknown> };

/** How the operation in flight ended. An error the operation handles (IPVS missing, a
 *  timeout or sync daemon refused) is an outcome; `threw` is anything else. */
export type Outcome =
  | { type: 'opened'; version?: string }
  | { type: 'open-failed'; error: string }
  | { type: 'reconciled'; result: ReconcileResult }
  | { type: 'timeouts-applied'; error?: string }
  | { type: 'sync-reconciled'; error?: string }
  | { type: 'threw'; error: unknown };

export type BalancerEvent =
  | { type: 'activate'; now: number }
  | { type: 'deactivate'; now: number }
  | { type: 'sync-role'; now: number; role: SyncRole }
  /** `services`: the model's services by IPVS key (health changes find them by it).
   *  `changed`: the services the reload added, removed or changed, by IPVS key
   *  (changedServices); absent, the whole table is reconciled. */
  | {
      type: 'reload';
      now: number;
      model: Model;
      services: ReadonlyMap<string, VirtualService>;
      changed?: ReadonlyMap<string, ServiceIdentity>;
    }
  | { type: 'health'; now: number; services: readonly VirtualService[] }
  /** Status is about to read the kernel: open it if it is needed and not backing off. */
  | { type: 'status'; now: number }
  | { type: 'tick'; now: number }
  | { type: 'done'; now: number; outcome: Outcome }
  | { type: 'close'; now: number };

export interface BalancerPlannerOptions {
  model: Model;
  services: ReadonlyMap<string, VirtualService>;
  now: number;
  /** While active, how often the table is compared with the desired one (ms); at least
   *  REPAIR_COST_FACTOR times the last whole-table reconcile. */
  repairInterval?: number;
  /** After a failure, the first retry (ms); doubles up to repairInterval. */
  retryDelay?: number;
  /** After IPVS could not be opened, the first new attempt (ms); doubles up to 5 min. */
  openRetryDelay?: number;
  /** Services reconciled together after health changes, or a reload's changes. */
  healthBatch?: number;
  /** Where reconciles, operations and repairs are counted; default: counters of its own. */
  stats?: IpvsStats;
}

/** What status shows of the planner. Times are the clock's (epoch ms with the driver's). */
export interface BalancerFigures {
  role: IpvsRole;
  since: number;
  syncRole: SyncRole;
  model: Model;
  /** The model's services by IPVS key. */
  services: ReadonlyMap<string, VirtualService>;
  unavailable?: { since: number; error: string };
  syncError?: string;
  failing: string[];
  repairs: { count: number; last?: { at: number; operations: string[] } };
  lastReconcile?: { at: number; reason: string; operations: number; failures: number; durationMs: number };
}

interface Running {
  operation: BalancerOperation;
  /** Asked for by a call: the call is not settled until it is done. */
  forCall: boolean;
  /** A health batch: the services it reconciles. */
  scope?: Set<string>;
}

type MaintenanceStep = 'timeouts' | 'table' | 'sync';

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

const needsKernel = (model: Model) => wireSyncDaemons(model.sync) || model.virtualServices.some((service) => service.active);

export class BalancerPlanner {
  private model: Model;
  private services: ReadonlyMap<string, VirtualService>;
  private kernelNeeded: boolean;
  private role: IpvsRole = 'inactive';
  private roleSince: number;
  private syncRole: SyncRole = 'none';
  private closed = false;
  private readonly repairInterval: number;
  private readonly firstRetryDelay: number;
  private readonly firstOpenRetryDelay: number;
  private readonly healthBatch: number;
  private readonly stats: IpvsStats;

  private kernel: 'closed' | 'opening' | 'open' = 'closed';
  private unavailable: { since: number; error: string } | undefined;
  private openRetryDelay: number;
  private nextOpenAt = 0;

  // What calls asked for and is not done yet.
  private wantTimeouts = false;
  private wantTable: TableReason | undefined;
  private wantSync = false;
  /** Services whose real servers changed health, for the next batches. */
  private readonly pending = new Set<string>();
  /** Services reloads changed, by key, for the next batches (the reload call waits for them). */
  private readonly reloaded = new Map<string, ServiceIdentity>();
  /** The next step of the maintenance under way. */
  private maintenance: MaintenanceStep | undefined;
  private running: Running | undefined;

  private dueAt = Infinity;
  private retryDelay: number;
  /** The table has been programmed in the current role (until then a reconcile is the claim or the release). */
  private programmed = true;
  /** An operation threw (e.g. the kernel did not answer): the next maintenance redoes the table. */
  private taskFailed = false;
  private timeoutsError: string | undefined;
  private syncError: string | undefined;
  /** Whether tandem runs (or ran) sync daemons: if sync is switched off, they are stopped. */
  private syncStarted = false;
  /** Failed operations by service key, retried with the next reconcile. */
  private failing = new Map<string, string[]>();
  private lastReconcile: BalancerFigures['lastReconcile'];
  /** How long the last whole-table reconcile took (ms). */
  private lastWholeTableMs = 0;
  private lastRepair: { at: number; operations: string[] } | undefined;
  private actions: BalancerAction[] = [];

  constructor(options: BalancerPlannerOptions) {
    this.model = options.model;
    this.services = options.services;
    this.kernelNeeded = needsKernel(options.model);
    this.roleSince = options.now;
    this.repairInterval = options.repairInterval ?? DEFAULT_REPAIR_INTERVAL;
    this.firstRetryDelay = Math.min(options.retryDelay ?? 1000, this.repairInterval);
    this.retryDelay = this.firstRetryDelay;
    this.firstOpenRetryDelay = options.openRetryDelay ?? 10_000;
    this.openRetryDelay = this.firstOpenRetryDelay;
    this.healthBatch = options.healthBatch ?? 500;
    this.stats = options.stats ?? createStats().ipvs;
  }

  /** Nothing a call asked for is left that could be done now: the call may return. Health
   *  batches and maintenance never hold a call up. */
  get settled(): boolean {
    if (this.closed) return true;
    if (this.running?.forCall) return false;
    return !this.asked() || this.kernel === 'closed';
  }

  handle(event: BalancerEvent): BalancerAction[] {
    this.actions = [];
    if (this.closed) return this.actions;
    const { now } = event;
    switch (event.type) {
      case 'activate':
        this.setRole('active', now);
        this.wantTimeouts = true;
        this.wantTable = 'claim';
        break;
      case 'deactivate':
        this.setRole('inactive', now);
        this.pending.clear();
        this.wantTimeouts = false;
        this.wantTable = this.kernel === 'closed' ? undefined : 'release';
        break;
      case 'sync-role':
        this.syncRole = event.role;
        if (this.syncApplies()) this.wantSync = true;
        break;
      case 'reload': {
        const whyWholeTable = event.changed ? this.whyWholeTable(event.model, event.changed) : undefined;
        this.model = event.model;
        this.services = event.services;
        this.kernelNeeded = needsKernel(event.model);
        if (this.role === 'active') this.wantTimeouts = true;
        if (event.changed && whyWholeTable === undefined) for (const [key, identity] of event.changed) this.reloaded.set(key, identity);
        else this.wantTable = 'reload';
        if (event.changed) this.logReloadScope(event.changed.size, whyWholeTable);
        if (this.syncApplies()) this.wantSync = true;
        break;
      }
      case 'health':
        if (this.role !== 'active') break;
        for (const service of event.services) this.pending.add(serviceKey(identityOfVirtualService(service)));
        break;
      case 'status':
        break;
      case 'tick':
        if (now < this.dueAt) break;
        this.dueAt = Infinity;
        if (this.troubled()) this.retryDelay = Math.min(this.retryDelay * 2, this.repairInterval);
        this.maintenance ??= 'timeouts';
        break;
      case 'done':
        this.finish(event.outcome, now);
        break;
      case 'close':
        this.closed = true;
        this.dueAt = Infinity;
        return this.actions;
    }
    const next = this.next(now, event.type === 'status');
    if (next) {
      this.running = next;
      this.actions.push(next.operation);
    }
    // Rescheduled between tasks (a health batch is one of its own), not in the middle of a
    // claim or a repair: its first steps would set the repair's due time before the table's
    // reconcile tells what it costs.
    if (!this.running || this.running.operation.type === 'reconcile-services') this.schedule(now);
    return this.actions;
  }

  /** When the driver must call `handle({ type: 'tick' })` next. */
  nextWakeAt(now: number): number {
    return Math.max(now, this.dueAt);
  }

  figures(): BalancerFigures {
    return {
      role: this.role,
      since: this.roleSince,
      syncRole: this.syncRole,
      model: this.model,
      services: this.services,
      ...(this.unavailable && { unavailable: { ...this.unavailable } }),
      ...(this.syncError !== undefined && { syncError: this.syncError }),
      failing: [...this.failing.values()].flat(),
      repairs: { count: this.stats.repairs.value(), ...(this.lastRepair && { last: this.lastRepair }) },
      ...(this.lastReconcile && { lastReconcile: { ...this.lastReconcile } }),
    };
  }

  // ---- what to do next ----

  private next(now: number, statusReads: boolean): Running | undefined {
    if (this.running) return undefined;
    const forCall = this.asked();
    if (this.kernel === 'closed') {
      if (!forCall && !this.maintenance && !statusReads) return undefined;
      // A kernel without IPVS is retried now and then; a maintenance waits for the next tick.
      if (!this.kernelNeeded || now < this.nextOpenAt) {
        this.maintenance = undefined;
        return undefined;
      }
      this.kernel = 'opening';
      return { operation: { type: 'open' }, forCall };
    }
    if (this.wantTimeouts) {
      this.wantTimeouts = false;
      return { operation: this.timeouts(), forCall: true };
    }
    if (this.wantTable) {
      // Built from the health as it is then: the changes noted so far are in it.
      if (this.role === 'active') this.pending.clear();
      // It does what a maintenance under way would do to the table (and its timeouts), and
      // what the services reloads changed are waiting for.
      if (this.maintenance) this.maintenance = 'sync';
      this.reloaded.clear();
      const reason = this.wantTable;
      this.wantTable = undefined;
      return { operation: this.table(reason), forCall: true };
    }
    const reloadBatch = this.nextReloadBatch();
    if (reloadBatch) return reloadBatch;
    if (this.wantSync) {
      this.wantSync = false;
      const sync = this.sync();
      if (sync) return { operation: sync, forCall: true };
    }
    return this.nextHealthBatch() ?? this.nextMaintenanceStep();
  }

  private asked(): boolean {
    return this.wantTimeouts || this.wantTable !== undefined || this.wantSync || this.reloaded.size > 0;
  }

  /** Why a reload that changed `changed` reconciles the whole table; undefined when it
   *  reconciles only those services. */
  private whyWholeTable(next: Model, changed: ReadonlyMap<string, ServiceIdentity>): string | undefined {
    if (this.kernel !== 'open' || !this.programmed || this.taskFailed || this.wantTable !== undefined)
      return 'the table is not yet programmed for this role';
    if (next.keepServicesOnRelease !== this.model.keepServicesOnRelease || next.network !== this.model.network)
      return 'a setting of every service changed';
    if (changed.size > next.virtualServices.length * RELOAD_SERVICES_SHARE) return 'too many services changed';
    return undefined;
  }

  private logReloadScope(changed: number, whyWholeTable: string | undefined): void {
    this.log(
      'info',
      'ipvs.reload-scope',
      whyWholeTable === undefined
        ? `reload: ${changed} virtual service(s) changed; reconciling only those`
        : `reload: ${changed} virtual service(s) changed; reconciling the whole table (${whyWholeTable})`,
      { changed, wholeTable: whyWholeTable !== undefined, ...(whyWholeTable !== undefined && { why: whyWholeTable }) },
    );
  }

  /** The services reloads changed, a batch at a time: those the model still has are made
   *  as it says, the others deleted. */
  private nextReloadBatch(): Running | undefined {
    if (this.reloaded.size === 0) return undefined;
    const services: VirtualService[] = [];
    const removed: ServiceIdentity[] = [];
    const scope = new Set<string>();
    for (const [key, identity] of this.reloaded) {
      this.reloaded.delete(key);
      scope.add(key);
      const service = this.services.get(key);
      if (service) services.push(service);
      else removed.push(identity);
      if (scope.size >= this.healthBatch) break;
    }
    const operation: BalancerOperation = {
      type: 'reconcile-services',
      reason: 'reload',
      role: this.role,
      services,
      removed,
      model: this.model,
    };
    return { operation, forCall: true, scope };
  }

  private nextHealthBatch(): Running | undefined {
    const services: VirtualService[] = [];
    const scope = new Set<string>();
    for (const key of this.pending) {
      this.pending.delete(key);
      // A service a reload removed meanwhile was reconciled by that reload.
      const service = this.services.get(key);
      if (service) {
        services.push(service);
        scope.add(key);
      }
      if (services.length >= this.healthBatch) break;
    }
    if (services.length === 0) return undefined;
    const operation: BalancerOperation = {
      type: 'reconcile-services',
      reason: 'health',
      role: 'active',
      services,
      removed: [],
      model: this.model,
    };
    return { operation, forCall: false, scope };
  }

  /** Timeouts while active, the table (while active, or when something is to be retried),
   *  then the sync daemon. After the health batches, so what a repair finds is drift. */
  private nextMaintenanceStep(): Running | undefined {
    while (this.maintenance) {
      const step = this.maintenance;
      let operation: BalancerOperation | undefined;
      switch (step) {
        case 'timeouts':
          this.maintenance = 'table';
          if (this.role === 'active') operation = this.timeouts();
          break;
        case 'table':
          this.maintenance = 'sync';
          if (this.role === 'active' || this.failing.size > 0 || this.taskFailed || !this.programmed) {
            const active = this.role === 'active';
            operation = this.table(this.programmed ? (active ? 'repair' : 'retry') : active ? 'claim' : 'release');
          }
          break;
        case 'sync':
          this.maintenance = undefined;
          operation = this.sync();
          break;
      }
      if (operation) return { operation, forCall: false };
    }
    return undefined;
  }

  private timeouts(): BalancerOperation {
    return { type: 'apply-timeouts', timeouts: this.model.ipvsTimeouts };
  }

  private table(reason: TableReason): BalancerOperation {
    return { type: 'reconcile-table', reason, role: this.role, model: this.model };
  }

  /** Master while active, backup otherwise, none once stopped: only when the model enables
   *  sync, or to stop the daemons tandem started before a reload disabled it. */
  private sync(): BalancerOperation | undefined {
    if (!this.syncApplies()) return undefined;
    return { type: 'reconcile-sync', state: wireSyncDaemons(this.model.sync) ? this.syncRole : 'none', model: this.model };
  }

  private syncApplies(): boolean {
    return wireSyncDaemons(this.model.sync) || this.syncStarted;
  }

  // ---- outcomes ----

  private finish(outcome: Outcome, now: number): void {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    const { operation } = running;
    switch (outcome.type) {
      case 'opened':
        this.kernel = 'open';
        this.openRetryDelay = this.firstOpenRetryDelay;
        if (this.unavailable) {
          this.log('info', 'ipvs.available', 'IPVS is available now: programming the table', { version: outcome.version });
          this.unavailable = undefined;
        }
        break;
      case 'open-failed':
        this.openFailed(outcome.error, now);
        break;
      case 'reconciled':
        if (operation.type === 'reconcile-table') this.tableReconciled(operation, outcome.result, now);
        else this.record(outcome.result, operation.type === 'reconcile-services' ? operation.reason : 'health', running.scope, now);
        break;
      case 'timeouts-applied':
        if (outcome.error !== undefined && outcome.error !== this.timeoutsError)
          this.log('error', 'ipvs.timeouts-failed', `IPVS timeouts not set: ${outcome.error}`, { error: outcome.error });
        this.timeoutsError = outcome.error;
        break;
      case 'sync-reconciled':
        if (outcome.error !== undefined) this.syncFailed(outcome.error);
        else if (operation.type === 'reconcile-sync') {
          this.syncStarted = operation.state !== 'none';
          this.syncError = undefined;
        }
        break;
      case 'threw':
        if (this.kernel === 'opening') this.kernel = 'closed';
        this.taskFailed = true;
        this.log('error', 'balancer.task-failed', `${operation.type}: ${errorMessage(outcome.error)}; retrying later`, {
          task: operation.type,
          err: outcome.error,
        });
        break;
    }
  }

  /** A kernel without IPVS is one error in the log (and in status) and a new attempt now
   *  and then, never an exception. */
  private openFailed(error: string, now: number): void {
    this.kernel = 'closed';
    this.maintenance = undefined;
    if (!this.unavailable) {
      this.unavailable = { since: now, error };
      this.log(
        'error',
        'ipvs.unavailable',
        `IPVS is unavailable: ${error}. The addresses still move with the role, but nothing is balanced. Remedy: ${IPVS_REMEDY}`,
        { error, remedy: IPVS_REMEDY },
      );
    } else {
      this.log('debug', 'ipvs.unavailable', 'IPVS is still unavailable', { error });
    }
    this.nextOpenAt = now + this.openRetryDelay;
    this.openRetryDelay = Math.min(this.openRetryDelay * 2, MAX_OPEN_RETRY_DELAY);
  }

  private tableReconciled(operation: Extract<BalancerOperation, { type: 'reconcile-table' }>, result: ReconcileResult, now: number): void {
    const retried = new Set([...this.failing.values()].flat());
    this.record(result, operation.reason, undefined, now);
    this.lastWholeTableMs = result.durationMs;
    if (operation.role === this.role) this.programmed = true;
    this.taskFailed = false;
    if (operation.reason !== 'repair' && operation.reason !== 'retry') return;
    // What it put back: an operation that failed (the table changed again while it was
    // read) is logged as a failure and retried, not reported as repaired.
    const failed = new Set(result.failures.map(({ operation: failedOperation }) => failedOperation));
    const repaired = result.operations
      .filter((done) => !failed.has(done))
      .map(describeOperation)
      .filter((done) => !retried.has(done));
    // those past the ones a result keeps count as put back: a repair that big is a table cleared
    const count = repaired.length + result.operationCount - result.operations.length;
    if (count === 0) return;
    const named = repaired.slice(0, LOGGED_OPERATIONS);
    this.stats.repairs.inc();
    this.lastRepair = { at: now, operations: named };
    this.log(
      'warn',
      'ipvs.repaired',
      `the IPVS table was changed behind tandem's back: ${count} operations put it back (${repaired.slice(0, 3).join('; ')}${count > 3 ? '; …' : ''})`,
      { operations: count, repaired: named },
    );
  }

  /** Counts and remembers the result for status; failures (logged by the reconciler) are retried soon. */
  private record(result: ReconcileResult, reason: string, scope: Set<string> | undefined, now: number): void {
    this.stats.reconciles.inc({ reason });
    for (const [kind, count] of Object.entries(result.byKind)) this.stats.operations.add(count, { kind });
    for (const { operation } of result.failures) this.stats.operationFailures.inc({ kind: operation.kind });
    this.lastReconcile = {
      at: now,
      reason,
      operations: result.operationCount,
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

  private syncFailed(error: string): void {
    if (error !== this.syncError)
      this.log('error', 'ipvs.sync-daemon-failed', `IPVS ${this.syncRole} sync daemon: ${error}`, { role: this.syncRole, error });
    this.syncError = error;
  }

  // ---- timing ----

  private setRole(role: IpvsRole, now: number): void {
    if (this.role === role) return;
    this.role = role;
    this.roleSince = now;
    this.programmed = false;
  }

  /** Something to retry: failed operations, an operation that threw, timeouts, the sync
   *  daemon, or an IPVS that could not be opened while the role needs it. */
  private troubled(): boolean {
    return (
      this.failing.size > 0 ||
      this.taskFailed ||
      this.timeoutsError !== undefined ||
      this.syncError !== undefined ||
      (this.unavailable !== undefined && (this.role === 'active' || (wireSyncDaemons(this.model.sync) && this.syncRole !== 'none')))
    );
  }

  /** The next maintenance: soon (backing off) while in trouble, every repair interval while
   *  active. A due time that is sooner stays: frequent work (slow start changes weights
   *  every second) must not keep pushing the repair out. */
  private schedule(now: number): void {
    let delay: number;
    if (this.troubled()) {
      delay = this.retryDelay;
      if (this.unavailable) delay = Math.max(delay, this.nextOpenAt - now);
    } else {
      this.retryDelay = this.firstRetryDelay;
      if (this.role !== 'active') return;
      delay = Math.max(this.repairInterval, this.lastWholeTableMs * REPAIR_COST_FACTOR);
    }
    this.dueAt = Math.min(this.dueAt, now + delay);
  }

  private log(level: LogLevel, event: string, message: string, fields?: Record<string, unknown>): void {
    this.actions.push({ type: 'log', level, event, message, ...(fields && { fields }) });
  }
}
