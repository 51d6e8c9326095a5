// The driver around the per-server state machines: schedules checks while enabled (on the
// active director), runs them with a bound on how many are in flight, feeds the results to
// the state machines, logs every up/down, and tells the daemon when the IPVS table should
// change. All of it shares the event loop with the heartbeat, so checks are started in
// small batches and nothing here loops over every server in one go while checking.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { Model, RealServer, VirtualService } from '../config/model.js';
import { runCheck, type Check } from './check.js';
import { endpoint, planHealth, serverKey, type PlannedServer } from './plan.js';
import type { CheckResult } from './result.js';
import {
  effectiveWeight,
  initialHealth,
  isRamping,
  isUp,
  observe,
  type HealthState,
  type HealthTransition,
  type Observation,
  type ServerHealth,
} from './state.js';

/** What the IPVS desired-table code asks of health: is the server in, and with which weight. */
export type HealthView = (service: VirtualService, server: RealServer) => { up: boolean; weight: number };

export interface HealthChange {
  key: string;
  service: string;
  server: string;
  up: boolean;
  weight: number;
  previous: { up: boolean; weight: number };
}

export interface HealthMonitorOptions {
  logger: Logger;
  /** Checks in flight at once (sockets and check programs). */
  maxConcurrentChecks?: number;
  /** Monotonic clock in ms (epoch-based, so status can show it as a date). */
  now?: () => number;
  /** Spreads the first checks over one interval; [0, 1). */
  random?: () => number;
  /** Runs one check; unit tests substitute a fake. */
  runCheck?: (check: Check, signal: AbortSignal) => Promise<CheckResult>;
}

export type ServerStatusState = HealthState | 'inactive' | 'unchecked';

/** One real server's health for `tandem status`. Times are epoch ms. */
export interface ServerHealthStatus {
  key: string;
  service: string;
  server: string;
  /** address:port the check connects to (absent for servers that are not checked). */
  target?: string;
  check: string;
  state: ServerStatusState;
  up: boolean;
  since: number;
  weight: number;
  effectiveWeight: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastCheck?: ObservationStatus;
  lastFailure?: ObservationStatus;
  /** Down and passing: how much longer it must pass before it is put back. */
  reentryRemaining?: number;
  /** Ramping after re-entry: how much longer until it carries its full weight. */
  slowStartRemaining?: number;
  /** Why the server is not checked (inactive, no check configured, invalid check). */
  note?: string;
  checking: boolean;
}

export interface ObservationStatus {
  at: number;
  outcome: CheckResult['outcome'];
  reason?: string;
  message: string;
  durationMs: number;
  received?: string;
}

export interface MonitorStats {
  enabled: boolean;
  servers: number;
  checked: number;
  inFlight: number;
  queued: number;
  /** Highest number of checks in flight since enable(). */
  maxInFlight: number;
  started: number;
  completed: number;
  inconclusive: number;
}

export const DEFAULT_MAX_CONCURRENT_CHECKS = 512;
/** Checks started per event-loop turn: starting hundreds of connections in one go would delay a heartbeat. */
const START_BATCH = 16;
/** How often weights of servers in slow start are recomputed (IPVS edits at most this often per server). */
export const RAMP_TICK_MS = 1000;
/** At most one warning per this period about checks this director could not carry out. */
const LOCAL_ERROR_LOG_PERIOD_MS = 10_000;

interface Entry {
  plan: PlannedServer;
  health: ServerHealth;
  timer?: NodeJS.Timeout;
  queued: boolean;
  running?: AbortController;
  removed: boolean;
  /** The output listeners last heard about. */
  reported: { up: boolean; weight: number };
}

export class HealthMonitor {
  private readonly logger: Logger;
  private readonly maxConcurrent: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly run: (check: Check, signal: AbortSignal) => Promise<CheckResult>;

  private entries = new Map<string, Entry>();
  private byServer = new WeakMap<RealServer, Entry>();
  private queue: Entry[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private enabled = false;
  /** Bumped by enable/disable; a result from an older epoch is discarded. */
  private epoch = 0;
  private pumpScheduled = false;
  private readonly ramping = new Set<Entry>();
  private rampTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(changes: HealthChange[]) => void>();
  private pendingChanges = new Map<string, HealthChange>();
  private flushScheduled = false;
  private lastLocalErrorLogAt = -Infinity;
  private counters = { maxInFlight: 0, started: 0, completed: 0, inconclusive: 0 };

  constructor(model: Model, options: HealthMonitorOptions) {
    this.logger = options.logger.child({ component: 'health' });
    this.maxConcurrent = Math.max(1, options.maxConcurrentChecks ?? DEFAULT_MAX_CONCURRENT_CHECKS);
    this.now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.random = options.random ?? Math.random;
    this.run = options.runCheck ?? runCheck;
    this.load(model);
  }

  /**
   * Up and effective weight of a real server of the current model. A server not checked
   * yet counts as up (alive until proven dead, as with Piranha and keepalived); an
   * inactive one is never up. A server the monitor does not know is reported as
   * configured.
   */
  readonly view: HealthView = (service, server) => {
    const entry = this.byServer.get(server) ?? this.entries.get(serverKey(service, server));
    if (!entry) return service.active && server.active ? { up: true, weight: server.weight } : { up: false, weight: 0 };
    return this.outputOf(entry, this.now());
  };

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Starts checking (the daemon calls it when this node becomes active). Every server starts unknown (= up). */
  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    this.epoch++;
    this.counters = { maxInFlight: 0, started: 0, completed: 0, inconclusive: 0 };
    const now = this.now();
    let checked = 0;
    for (const entry of this.entries.values()) {
      entry.health = initialHealth(now);
      entry.reported = this.outputOf(entry, now);
      if (entry.plan.check) {
        checked++;
        this.scheduleFirst(entry);
      }
    }
    this.logger.info({ event: 'health-enabled', servers: this.entries.size, checked, maxConcurrentChecks: this.maxConcurrent }, `health checking started for ${checked} real servers`);
  }

  /**
   * Stops checking: cancels timers, aborts checks in flight (closes sockets, kills check
   * programs) and forgets what was learnt — a node that becomes active again starts
   * from fresh checks, as its knowledge is stale. No change events are sent (the
   * daemon is releasing). Resolves when every check in flight has ended.
   */
  async disable(): Promise<void> {
    if (this.enabled) {
      this.enabled = false;
      this.epoch++;
      const now = this.now();
      for (const entry of this.entries.values()) {
        this.stopEntry(entry);
        entry.health = initialHealth(now);
        entry.reported = this.outputOf(entry, now);
      }
      this.queue = [];
      this.queueHead = 0;
      this.ramping.clear();
      this.stopRampTimer();
      this.pendingChanges.clear();
      this.logger.info({ event: 'health-disabled' }, 'health checking stopped');
    }
    await Promise.all([...this.running]);
  }

  /**
   * A new model (reload). Servers that still exist (same service and address:port) keep
   * their state and counters; a changed check is rescheduled within its new interval;
   * removed servers' checks are cancelled. No change events: the daemon reconciles
   * after a reload anyway.
   */
  reload(model: Model): void {
    const previous = this.entries;
    this.load(model, previous);
    for (const [key, entry] of previous) {
      if (this.entries.get(key) !== entry) {
        entry.removed = true;
        this.stopEntry(entry);
        this.ramping.delete(entry);
      }
    }
  }

  /** Called (batched, once per event-loop turn) when servers go in or out or their effective weight changes. */
  onChange(listener: (changes: HealthChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): ServerHealthStatus[] {
    const now = this.now();
    return [...this.entries.values()].map((entry) => this.statusOf(entry, now));
  }

  stats(): MonitorStats {
    let checked = 0;
    for (const entry of this.entries.values()) if (entry.plan.check) checked++;
    return {
      enabled: this.enabled,
      servers: this.entries.size,
      checked,
      inFlight: this.inFlight,
      queued: this.queue.length - this.queueHead,
      ...this.counters,
    };
  }

  private load(model: Model, previous = new Map<string, Entry>()): void {
    const now = this.now();
    const entries = new Map<string, Entry>();
    const byServer = new WeakMap<RealServer, Entry>();
    for (const plan of planHealth(model)) {
      if (plan.unchecked?.kind === 'invalid') {
        this.logger.warn(
          { event: 'health-check-invalid', service: plan.service.name, server: plan.server.name, key: plan.key, detail: plan.unchecked.message },
          `real server ${plan.server.name} of ${plan.service.name} is not checked (counts as up): ${plan.unchecked.message}`,
        );
      }
      const kept = previous.get(plan.key);
      const entry: Entry = kept ?? { plan, health: initialHealth(now), queued: false, removed: false, reported: { up: true, weight: 0 } };
      const checkChanged = kept !== undefined && kept.plan.specSignature !== plan.specSignature;
      entry.plan = plan;
      if (!kept) entry.reported = this.outputOf(entry, now);
      entries.set(plan.key, entry);
      byServer.set(plan.server, entry);
      if (!this.enabled) continue;
      if (!plan.check) {
        this.stopEntry(entry);
      } else if (!kept || checkChanged || (!entry.timer && !entry.queued && !entry.running)) {
        this.stopEntry(entry);
        this.scheduleFirst(entry);
      }
    }
    this.entries = entries;
    this.byServer = byServer;
  }

  private outputOf(entry: Entry, now: number): { up: boolean; weight: number } {
    const { plan } = entry;
    if (plan.unchecked?.kind === 'inactive') return { up: false, weight: 0 };
    if (!plan.check) return { up: true, weight: plan.server.weight };
    return { up: isUp(entry.health), weight: effectiveWeight(entry.health, plan.server.weight, plan.policy, now) };
  }

  /** The first check of a server lands at a random point of its first interval, so a thousand servers do not fire at once. */
  private scheduleFirst(entry: Entry): void {
    this.scheduleIn(entry, Math.floor(this.random() * entry.plan.interval));
  }

  private scheduleIn(entry: Entry, delay: number): void {
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.queued = true;
      this.queue.push(entry);
      this.schedulePump();
    }, delay);
  }

  private stopEntry(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.queued = false;
    entry.running?.abort();
    entry.running = undefined;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    let started = 0;
    while (this.inFlight < this.maxConcurrent && this.queueHead < this.queue.length && started < START_BATCH) {
      const entry = this.queue[this.queueHead++]!;
      if (!entry.queued || entry.removed || !entry.plan.check) continue;
      entry.queued = false;
      this.start(entry, entry.plan.check);
      started++;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.inFlight < this.maxConcurrent) {
      this.schedulePump();
    }
  }

  private start(entry: Entry, check: Check): void {
    const controller = new AbortController();
    const epoch = this.epoch;
    entry.running = controller;
    this.inFlight++;
    this.counters.started++;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.inFlight);
    const done = this.run(check, controller.signal).then(
      (result) => this.finish(entry, controller, epoch, result),
      (error: unknown) => this.finish(entry, controller, epoch, { outcome: 'fail', reason: 'error', message: String(error), durationMs: 0 }),
    );
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  private finish(entry: Entry, controller: AbortController, epoch: number, result: CheckResult): void {
    this.inFlight--;
    if (entry.running === controller) entry.running = undefined;
    if (epoch !== this.epoch || entry.removed || controller.signal.aborted) {
      this.schedulePump();
      return;
    }
    this.counters.completed++;
    this.record(entry, { at: this.now(), result });
    if (entry.plan.check && !entry.timer && !entry.queued) this.scheduleIn(entry, entry.plan.interval);
    this.schedulePump();
  }

  private record(entry: Entry, observation: Observation): void {
    const { health, transition } = observe(entry.health, observation, entry.plan.policy);
    entry.health = health;
    if (observation.result.outcome === 'inconclusive') this.noteInconclusive(entry, observation.result.message);
    if (transition) this.logTransition(entry, transition);
    if (isRamping(health, entry.plan.policy, observation.at)) this.startRamp(entry);
    this.noteOutput(entry, observation.at);
  }

  private noteOutput(entry: Entry, now: number): void {
    const output = this.outputOf(entry, now);
    const previous = entry.reported;
    if (output.up === previous.up && output.weight === previous.weight) return;
    entry.reported = output;
    const known = this.pendingChanges.get(entry.plan.key);
    this.pendingChanges.set(entry.plan.key, {
      key: entry.plan.key,
      service: entry.plan.service.name,
      server: entry.plan.server.name,
      ...output,
      previous: known?.previous ?? previous,
    });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const changes = [...this.pendingChanges.values()].filter((c) => c.up !== c.previous.up || c.weight !== c.previous.weight);
      this.pendingChanges = new Map();
      if (changes.length === 0) return;
      for (const listener of this.listeners) {
        try {
          listener(changes);
        } catch (error) {
          this.logger.error({ event: 'health-listener-failed', err: error }, 'a health change listener threw');
        }
      }
    });
  }

  private startRamp(entry: Entry): void {
    this.ramping.add(entry);
    if (this.rampTimer) return;
    this.rampTimer = setInterval(() => {
      const now = this.now();
      for (const ramping of this.ramping) {
        this.noteOutput(ramping, now);
        if (!isRamping(ramping.health, ramping.plan.policy, now)) this.ramping.delete(ramping);
      }
      if (this.ramping.size === 0) this.stopRampTimer();
    }, RAMP_TICK_MS);
  }

  private stopRampTimer(): void {
    if (this.rampTimer) clearInterval(this.rampTimer);
    this.rampTimer = undefined;
  }

  private logTransition(entry: Entry, transition: HealthTransition): void {
    const { plan } = entry;
    const { failure } = transition;
    const fields = {
      event: 'health',
      service: plan.service.name,
      server: plan.server.name,
      target: plan.check ? endpoint(plan.check.target.address, plan.check.target.port) : undefined,
      check: plan.service.healthCheck.kind,
      from: transition.from,
      to: transition.to,
      consecutiveFailures: transition.consecutiveFailures,
      consecutiveSuccesses: transition.consecutiveSuccesses,
    };
    const who = `real server ${plan.server.name} (${fields.target}) of ${plan.service.name}`;
    if (transition.to === 'down' && failure) {
      this.logger.warn(
        {
          ...fields,
          reason: failure.reason,
          detail: failure.message,
          durationMs: failure.durationMs,
          ...(failure.received !== undefined ? { received: failure.received } : {}),
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          ...(failure.exitCode !== undefined ? { exitCode: failure.exitCode } : {}),
          ...(failure.signal !== undefined ? { signal: failure.signal } : {}),
        },
        `${who} is down: ${failure.message}`,
      );
    } else if (transition.from === 'down') {
      this.logger.info(
        {
          ...fields,
          reason: 'reentry',
          passedForMs: transition.passedFor,
          downForMs: transition.downFor,
          ...(plan.policy.slowStart > 0 ? { slowStartMs: plan.policy.slowStart } : {}),
        },
        `${who} is back up after passing checks for ${transition.passedFor} ms`,
      );
    } else {
      this.logger.debug({ ...fields, reason: 'first-check' }, `${who} passed its first check`);
    }
  }

  private noteInconclusive(entry: Entry, message: string): void {
    this.counters.inconclusive++;
    const now = this.now();
    if (now - this.lastLocalErrorLogAt < LOCAL_ERROR_LOG_PERIOD_MS) return;
    this.lastLocalErrorLogAt = now;
    this.logger.warn(
      { event: 'health-check-inconclusive', service: entry.plan.service.name, server: entry.plan.server.name, detail: message, inconclusive: this.counters.inconclusive },
      `checks cannot be carried out from this director (state unchanged): ${message}`,
    );
  }

  private statusOf(entry: Entry, now: number): ServerHealthStatus {
    const { plan, health } = entry;
    const output = this.outputOf(entry, now);
    const state: ServerStatusState = plan.unchecked?.kind === 'inactive' ? 'inactive' : plan.check ? health.state : 'unchecked';
    const status: ServerHealthStatus = {
      key: plan.key,
      service: plan.service.name,
      server: plan.server.name,
      check: plan.service.healthCheck.kind,
      state,
      up: output.up,
      since: health.since,
      weight: plan.server.weight,
      effectiveWeight: output.weight,
      consecutiveFailures: health.consecutiveFailures,
      consecutiveSuccesses: health.consecutiveSuccesses,
      checking: entry.running !== undefined,
    };
    if (plan.check) status.target = endpoint(plan.check.target.address, plan.check.target.port);
    if (plan.unchecked) status.note = plan.unchecked.message;
    if (health.lastResult) status.lastCheck = observationStatus(health.lastResult);
    if (health.lastFailure) status.lastFailure = observationStatus(health.lastFailure);
    if (health.state === 'down' && health.passingSince !== undefined) {
      status.reentryRemaining = Math.max(0, plan.policy.reentry - (now - health.passingSince));
    }
    if (isRamping(health, plan.policy, now)) status.slowStartRemaining = (health.rampStartedAt ?? now) + plan.policy.slowStart - now;
    return status;
  }
}

function observationStatus({ at, result }: Observation): ObservationStatus {
  return {
    at,
    outcome: result.outcome,
    message: result.message,
    durationMs: result.durationMs,
    ...(result.outcome === 'pass' ? {} : { reason: result.reason }),
    ...('received' in result && result.received !== undefined ? { received: result.received } : {}),
  };
}
