// The driver around the per-server state machines: schedules checks while enabled (on the
// active director), runs them with a bound on how many are in flight, feeds the results to
// the state machines, logs every up/down, and tells the daemon when the IPVS table should
// change. All of it shares the event loop with the heartbeat, so checks are started in
// small batches and nothing here loops over every server in one go while checking.
import { performance } from 'node:perf_hooks';
import { createStats, type HealthStats } from '../lib/stats.js';
import { ShardedMap } from '../lib/sharded-map.js';
import { TimeSlice } from '../lib/time-slice.js';
import type { Logger } from '../log.js';
import type { HealthView, Model, RealServer, VirtualService } from '../config/model.js';
import type { Check } from './check.js';
import { DueQueue } from './due-queue.js';
import { runCheck } from './run-check.js';
import { endpoint, planService, serverKey, type PlannedServer, type SharedSpecs } from './plan.js';
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

export interface HealthChange {
  key: string;
  service: string;
  server: string;
  /** The model's service (of the model in effect), for the IPVS side to reconcile. */
  virtualService: VirtualService;
  up: boolean;
  weight: number;
  previous: { up: boolean; weight: number };
}

export interface HealthMonitorOptions {
  logger: Logger;
  /** Checks in flight at once (sockets and check programs). */
  maxConcurrentChecks?: number;
  /** Check programs (send_program) running at once, within maxConcurrentChecks. */
  maxConcurrentPrograms?: number;
  /** Monotonic clock in ms (epoch-based, so status can show it as a date). */
  now?: () => number;
  /** Spreads the first checks over one interval; [0, 1). */
  random?: () => number;
  /** Runs one check; unit tests substitute a fake. */
  runCheck?: (check: Check, signal: AbortSignal) => Promise<CheckResult>;
  /** Where checks and transitions are counted; default: counters of its own. */
  stats?: HealthStats;
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

/** What status shows of the monitor: its state, and its counters (since the daemon started). */
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
export const DEFAULT_MAX_CONCURRENT_PROGRAMS = 16;
/** Checks started per event-loop turn: starting hundreds of connections in one go would delay a heartbeat. */
const START_BATCH = 16;
/** Servers planned or armed per event-loop turn during a reload or enable. */
const LOAD_CHUNK = 1000;
/** How often weights of servers in slow start are recomputed (IPVS edits at most this often per server). */
export const RAMP_TICK_MS = 1000;
/** At most one warning per this period about checks this director could not carry out. */
const LOCAL_ERROR_LOG_PERIOD_MS = 10_000;

/** One real server as the monitor knows it: every field declared here, so that 200,000 of
 *  them share one shape and carry no out-of-object property storage. */
class Entry {
  /** When its next check is due (the DueQueue's time); undefined when none is. */
  dueAt: number | undefined = undefined;
  queued = false;
  running: AbortController | undefined = undefined;
  removed = false;
  /** The output listeners last heard about. */
  reportedUp: boolean;
  reportedWeight: number;

  constructor(
    public plan: PlannedServer,
    public health: ServerHealth,
    output: { up: boolean; weight: number },
  ) {
    this.reportedUp = output.up;
    this.reportedWeight = output.weight;
  }
}

/** A model being planned: applied by install() once complete. */
interface Staged {
  /** By serverKey, in the model's order (status lists them so). */
  entries: ShardedMap<Entry>;
  /** Shared by the plans of services with the same check settings. */
  specs: SharedSpecs;
  /** Entries that stay, with their new plans and whether their checks start again. */
  updates: Array<[Entry, PlannedServer, boolean]>;
  invalid: Array<{ service: string; message: string; servers: string[] }>;
  /** Entries with a check. */
  checked: number;
}

/** First in, first out, without Array.shift's copying. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class HealthMonitor {
  private readonly logger: Logger;
  private readonly maxConcurrent: number;
  private readonly maxPrograms: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly run: (check: Check, signal: AbortSignal) => Promise<CheckResult>;
  private readonly counters: HealthStats;

  /** By serverKey: big tables grow it without a rehash of 200,000 keys in one turn. */
  private entries = new ShardedMap<Entry>();
  /** The checks' timers, one Node timer for all of them. */
  private readonly due: DueQueue<Entry>;
  /** Entries with a check (status asks often; counting 200,000 entries each time would stall). */
  private checked = 0;
  private readonly socketQueue = new Fifo<Entry>();
  /** Check programs wait apart: spawning forks this process and is started one per turn. */
  private readonly programQueue = new Fifo<Entry>();
  private inFlight = 0;
  private programsInFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private enabled = false;
  /** Bumped by enable/disable; a result from an older epoch is discarded. */
  private epoch = 0;
  /** Bumped by every reload; a reload overtaken by a newer one stops. */
  private generation = 0;
  private pumpScheduled = false;
  private readonly ramping = new Set<Entry>();
  private rampTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(changes: HealthChange[]) => void>();
  private pendingChanges = new Map<string, HealthChange>();
  private flushScheduled = false;
  private lastLocalErrorLogAt = -Infinity;
  /** Highest number of checks in flight since enable(). */
  private maxInFlight = 0;

  /** Starts with no model: `reload(model)` gives it one. */
  constructor(options: HealthMonitorOptions) {
    this.logger = options.logger.child({ component: 'health' });
    this.maxConcurrent = Math.max(1, options.maxConcurrentChecks ?? DEFAULT_MAX_CONCURRENT_CHECKS);
    this.maxPrograms = Math.max(1, options.maxConcurrentPrograms ?? DEFAULT_MAX_CONCURRENT_PROGRAMS);
    this.now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.random = options.random ?? Math.random;
    this.run = options.runCheck ?? runCheck;
    this.counters = options.stats ?? createStats().health;
    this.due = new DueQueue(this.now, (entry, at) => this.fall(entry, at));
  }

  /**
   * Up and effective weight of a real server of the current model. A server not checked
   * yet counts as up (alive until proven dead, as with Piranha and keepalived); an
   * inactive one is never up. A server the monitor does not know is reported as
   * configured.
   */
  readonly view: HealthView = (service, server) => {
    const entry = this.entries.get(serverKey(service, server));
    if (!entry) return service.active && server.active ? { up: true, weight: server.weight } : { up: false, weight: 0 };
    return this.outputOf(entry, this.now());
  };

  get isEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Starts checking (the daemon calls it when this node becomes active). Every server
   * starts unknown, which counts as up; first checks are spread over one interval.
   */
  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    this.epoch++;
    this.maxInFlight = 0;
    this.logger.info(
      { event: 'health.enabled', servers: this.entries.size, checked: this.checked, maxConcurrentChecks: this.maxConcurrent },
      `health checking started for ${this.checked} real servers`,
    );
    void this.arm(this.entries.values());
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
      this.socketQueue.clear();
      this.programQueue.clear();
      this.due.clear();
      this.ramping.clear();
      this.stopRampTimer();
      this.pendingChanges.clear();
      // a chunk per turn; a timer that fires meanwhile queues nothing (see scheduleIn)
      const slice = new TimeSlice(yieldToLoop);
      const now = this.now();
      const fresh = initialHealth(now);
      for (const entry of this.entries.values()) {
        if (slice.spent) await slice.next();
        this.stopEntry(entry);
        entry.health = fresh;
        this.setReported(entry, this.outputOf(entry, now));
      }
      this.logger.info({ event: 'health.disabled' }, 'health checking stopped');
    }
    await Promise.all([...this.running]);
  }

  /**
   * Takes a model: the first one, or a new one on reload. Servers that still exist (same
   * service and address:port) keep their state and counters; a changed check is
   * rescheduled within its new interval; removed servers' checks are cancelled. The
   * model is planned a chunk of servers per event-loop turn (40,000 servers take a few
   * hundred ms of CPU) and takes effect at once when complete (the view answers from
   * the previous one until then). Resolves when it has taken effect; a reload overtaken
   * by a newer one resolves without effect. No change events: the daemon reconciles
   * after a reload anyway.
   */
  async reload(model: Model): Promise<void> {
    const generation = ++this.generation;
    const previous = this.entries;
    const staged: Staged = { entries: new ShardedMap(), specs: new ShardedMap(), updates: [], invalid: [], checked: 0 };
    const slice = new TimeSlice(yieldToLoop);
    // the state of new servers, shared (it is never changed, only replaced) within a slice
    let fresh = initialHealth(this.now());
    let planned = 0;
    for (const service of model.virtualServices) {
      this.adopt(service, previous, staged, fresh);
      planned += service.realServers.length;
      if (planned >= LOAD_CHUNK || slice.spent) {
        planned = 0;
        await slice.next();
        if (generation !== this.generation) return;
        fresh = initialHealth(this.now());
      }
    }
    await this.install(staged, slice, generation);
    // out of the table already: their checks can stop a chunk at a time
    for (const [key, entry] of previous) {
      if (slice.spent) await slice.next();
      if (staged.entries.get(key) === entry) continue;
      entry.removed = true;
      this.stopEntry(entry);
      this.ramping.delete(entry);
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

  /** One real server's status, found as the view finds it: a status that walks a big
   *  table asks server by server rather than for all of them at once. */
  serverStatus(service: VirtualService, server: RealServer): ServerHealthStatus | undefined {
    const entry = this.entries.get(serverKey(service, server));
    return entry && this.statusOf(entry, this.now());
  }

  stats(): MonitorStats {
    return {
      enabled: this.enabled,
      servers: this.entries.size,
      checked: this.checked,
      inFlight: this.inFlight,
      queued: this.socketQueue.length + this.programQueue.length,
      maxInFlight: this.maxInFlight,
      started: this.counters.checksStarted.value(),
      completed: this.counters.checksCompleted.sum(),
      inconclusive: this.counters.checksCompleted.value({ outcome: 'inconclusive' }),
    };
  }

  /**
   * Plans a service's servers into `staged`: new servers get new entries, servers that
   * still exist keep theirs (their new plan waits in `updates` until install()).
   */
  private adopt(service: VirtualService, previous: ShardedMap<Entry>, staged: Staged, fresh: ServerHealth): void {
    const invalid = new Map<string, string[]>();
    for (const plan of planService(service, staged.specs)) {
      if (plan.check) staged.checked++;
      if (plan.unchecked?.kind === 'invalid') {
        const servers = invalid.get(plan.unchecked.message) ?? [];
        invalid.set(plan.unchecked.message, servers);
        servers.push(plan.server.name);
      }
      // the same server twice is the loader's error to report; the first one counts here
      if (staged.entries.has(plan.key)) continue;
      const kept = previous.get(plan.key);
      if (kept) staged.updates.push([kept, plan, kept.plan.specSignature !== plan.specSignature || !plan.check]);
      const entry = kept ?? new Entry(plan, fresh, outputOf(plan, fresh, this.now()));
      staged.entries.set(plan.key, entry);
    }
    for (const [message, servers] of invalid) staged.invalid.push({ service: service.name, message, servers });
  }

  /**
   * The staged plan takes effect: the maps at once, then the entries that stay get their
   * new plans a chunk per turn (a check that ends meanwhile is judged by its old plan,
   * which started it). Stops when a newer reload has begun: it compares with the plans
   * as they are and updates these entries itself.
   */
  private async install(staged: Staged, slice: TimeSlice, generation: number): Promise<void> {
    this.entries = staged.entries;
    this.checked = staged.checked;
    for (const [entry, plan, restart] of staged.updates) {
      if (slice.spent) {
        await slice.next();
        if (generation !== this.generation) return;
      }
      if (restart) this.stopEntry(entry);
      entry.plan = plan;
    }
    if (this.enabled) void this.arm(staged.entries.values());
    for (const { service, message, servers } of staged.invalid) {
      this.logger.warn(
        { event: 'health.check-invalid', service, servers, detail: message },
        `${servers.length === 1 ? `real server ${servers[0]}` : `${servers.length} real servers`} of ${service} not checked (counted as up): ${message}`,
      );
    }
  }

  private outputOf(entry: Entry, now: number): { up: boolean; weight: number } {
    return outputOf(entry.plan, entry.health, now);
  }

  private setReported(entry: Entry, output: { up: boolean; weight: number }): void {
    entry.reportedUp = output.up;
    entry.reportedWeight = output.weight;
  }

  /** Schedules the first check of each entry that needs one, a chunk per event-loop turn. */
  private async arm(entries: Iterable<Entry>): Promise<void> {
    const epoch = this.epoch;
    const slice = new TimeSlice(yieldToLoop);
    let index = 0;
    for (const entry of entries) {
      if (index > 0 && (index % LOAD_CHUNK === 0 || slice.spent)) {
        await slice.next();
        if (epoch !== this.epoch) return;
      }
      this.scheduleFirst(entry);
      index++;
    }
  }

  /**
   * The first check of a server lands at a random point of its first interval, so a
   * thousand servers do not fire at once. Does nothing for a server already scheduled,
   * queued or being checked, or not checked at all.
   */
  private scheduleFirst(entry: Entry): void {
    if (!entry.plan.check || entry.removed || entry.dueAt !== undefined || entry.queued || entry.running) return;
    this.scheduleIn(entry, Math.floor(this.random() * entry.plan.interval));
  }

  private scheduleIn(entry: Entry, delay: number): void {
    entry.dueAt = this.due.add(entry, delay);
  }

  /** A check fell due: queued to start (unless stopped or rescheduled since). */
  private fall(entry: Entry, at: number): void {
    if (entry.dueAt !== at) return;
    entry.dueAt = undefined;
    if (!this.enabled) return;
    entry.queued = true;
    (entry.plan.check?.probe.kind === 'program' ? this.programQueue : this.socketQueue).push(entry);
    this.schedulePump();
  }

  private stopEntry(entry: Entry): void {
    entry.dueAt = undefined;
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

  /** Starts queued checks: up to START_BATCH socket checks and one check program per turn. */
  private pump(): void {
    let started = 0;
    while (started < START_BATCH && this.inFlight < this.maxConcurrent) {
      const entry = this.socketQueue.shift();
      if (!entry) break;
      if (this.startIfDue(entry)) started++;
    }
    while (this.inFlight < this.maxConcurrent && this.programsInFlight < this.maxPrograms) {
      const entry = this.programQueue.shift();
      if (!entry || this.startIfDue(entry)) break;
    }
    const room = this.inFlight < this.maxConcurrent;
    if (room && (this.socketQueue.length > 0 || (this.programQueue.length > 0 && this.programsInFlight < this.maxPrograms)))
      this.schedulePump();
  }

  /** Starts the check of a queued entry unless it was cancelled or removed meanwhile. */
  private startIfDue(entry: Entry): boolean {
    const check = entry.plan.check;
    if (!entry.queued || entry.removed || !check) return false;
    entry.queued = false;
    this.start(entry, check);
    return true;
  }

  private start(entry: Entry, check: Check): void {
    const controller = new AbortController();
    const epoch = this.epoch;
    const program = check.probe.kind === 'program';
    entry.running = controller;
    this.inFlight++;
    if (program) this.programsInFlight++;
    this.counters.checksStarted.inc();
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const done = this.run(check, controller.signal)
      .catch((error: unknown): CheckResult => ({ outcome: 'fail', reason: 'error', message: String(error), durationMs: 0 }))
      .then((result) => {
        this.inFlight--;
        if (program) this.programsInFlight--;
        this.finish(entry, controller, epoch, result);
      });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  private finish(entry: Entry, controller: AbortController, epoch: number, result: CheckResult): void {
    if (entry.running === controller) entry.running = undefined;
    this.schedulePump();
    if (epoch !== this.epoch || entry.removed || controller.signal.aborted) return;
    this.counters.checksCompleted.inc({ outcome: result.outcome });
    this.record(entry, { at: this.now(), result });
    if (entry.plan.check && entry.dueAt === undefined && !entry.queued) this.scheduleIn(entry, nextCheckIn(entry));
  }

  private record(entry: Entry, observation: Observation): void {
    const { health, transition } = observe(entry.health, observation, entry.plan.policy);
    entry.health = health;
    if (observation.result.outcome === 'inconclusive') this.noteInconclusive(entry, observation.result.message);
    if (transition) {
      this.counters.transitions.inc({ from: transition.from, to: transition.to });
      this.logTransition(entry, transition);
    }
    if (rampsUp(entry, observation.at)) this.startRamp(entry);
    this.noteOutput(entry, observation.at);
  }

  private noteOutput(entry: Entry, now: number): void {
    const output = this.outputOf(entry, now);
    if (output.up === entry.reportedUp && output.weight === entry.reportedWeight) return;
    const previous = { up: entry.reportedUp, weight: entry.reportedWeight };
    this.setReported(entry, output);
    const known = this.pendingChanges.get(entry.plan.key);
    this.pendingChanges.set(entry.plan.key, {
      key: entry.plan.key,
      service: entry.plan.service.name,
      server: entry.plan.server.name,
      virtualService: entry.plan.service,
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
          this.logger.error({ event: 'health.listener-failed', err: error }, 'a health change listener threw');
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
        if (!rampsUp(ramping, now)) this.ramping.delete(ramping);
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
      event: 'health.change',
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
    const now = this.now();
    if (now - this.lastLocalErrorLogAt < LOCAL_ERROR_LOG_PERIOD_MS) return;
    this.lastLocalErrorLogAt = now;
    this.logger.warn(
      {
        event: 'health.check-inconclusive',
        service: entry.plan.service.name,
        server: entry.plan.server.name,
        detail: message,
        inconclusive: this.counters.checksCompleted.value({ outcome: 'inconclusive' }),
      },
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
      const checksLeft = (plan.policy.reentryChecks ?? 1) - health.consecutiveSuccesses;
      status.reentryRemaining = Math.max(0, plan.policy.reentry - (now - health.passingSince), checksLeft * plan.interval);
    }
    if (rampsUp(entry, now)) status.slowStartRemaining = (health.rampStartedAt ?? now) + plan.policy.slowStart - now;
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

/** What the IPVS side is told of a server: an inactive one is out, an unchecked one up at its weight. */
function outputOf(plan: PlannedServer, health: ServerHealth, now: number): { up: boolean; weight: number } {
  if (plan.unchecked?.kind === 'inactive') return { up: false, weight: 0 };
  if (!plan.check) return { up: true, weight: plan.server.weight };
  return { up: isUp(health), weight: effectiveWeight(health, plan.server.weight, plan.policy, now) };
}

/** A server failing but not yet down is checked again after the retry interval, if set. */
function nextCheckIn(entry: Entry): number {
  const { plan, health } = entry;
  const retrying = plan.retryInterval !== undefined && health.state !== 'down' && health.consecutiveFailures > 0;
  return retrying && plan.retryInterval !== undefined ? plan.retryInterval : plan.interval;
}

/** In slow start and not yet at its weight (a doubling ramp may get there early; a weight of 1
 *  or 0 has no ramp at all). */
function rampsUp({ health, plan }: Entry, now: number): boolean {
  return isRamping(health, plan.policy, now) && effectiveWeight(health, plan.server.weight, plan.policy, now) < plan.server.weight;
}
