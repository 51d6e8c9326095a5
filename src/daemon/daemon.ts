// The daemon: the imperative shell around the election. It owns the clock (one
// timer, armed for the election's next deadline), the heartbeat channel, the
// control socket and the controller, feeds the election events and performs the
// actions it returns. Claim, release, announce, the sync role and a reload's host
// changes run one after another on a queue, their results reported back as
// events; a claim goes first in its step, at once when the queue is idle, so its
// first frame waits for nothing else. A heartbeat that follows a claim or a release
// leaves only once it is done: the peer sees us ACTIVE only once our addresses are
// in place and announced (a handover's old node lets go on that), and never claims
// after a release while we still hold an address. Everything else is immediate. Before the election runs, the controller brings the host to a clean
// state and reports the monitored links' health.
import { performance } from 'node:perf_hooks';
import {
  ChannelEndpoint,
  ChannelSessions,
  decodeHeartbeat,
  Election,
  encodeHeartbeat,
  heartbeatPaths,
  LogRateLimiter,
  messageKinds,
  SecureChannel,
  type Action,
  type ChannelPath,
  type ElectionConfig,
  type ElectionEvent,
  type HealthSummary,
  type Heartbeat,
  type Keyring,
  type OperatorCommand,
  type Transition,
} from '../cluster/index.js';
import type { Model, NodeSpec } from '../config/model.js';
import {
  ControlServer,
  type ControlHandler,
  type DaemonStatus,
  type OperatorOutcome,
  type ReloadOutcome,
  type TransitionRecord,
} from '../control/index.js';
import { SerialQueue } from '../lib/serial-queue.js';
import type { Balancer, ServiceList } from '../ipvs/index.js';
import { SyncService, type ConnsListing, type SyncTableFactories } from '../sync/index.js';
import { createStats, type Stats } from '../lib/stats.js';
import { version } from '../lib/version.js';
import type { Logger } from '../log.js';
import type { Controller } from './controller.js';
import { singleThreadedGc } from './realtime.js';
import { reloadVerdict, type ConfigLoader, type LoadedConfig, type ReloadVerdict } from './reload.js';
import { RuntimeMetrics, type RuntimeObserver } from './runtime-metrics.js';
import { daemonStatus, transitionRecord, wallClock } from './status.js';

export interface DaemonOptions {
  model: Model;
  self: NodeSpec;
  /** Undefined for a standalone director. */
  peer?: NodeSpec;
  /** Required with a peer. */
  keyring?: Keyring;
  controller: Controller;
  /** The controller's balancer, for the IPVS part of status. */
  balancer?: Balancer;
  logger: Logger;
  socketPath: string;
  /** Reads the configuration again (SIGHUP, `tandem reload`); without it, reloads are refused. */
  loadConfig?: ConfigLoader;
  /** The counters every part of this daemon counts into; default: a set of its own. */
  stats?: Stats;
  /** The metrics histograms, when metrics are on. */
  runtimeObserver?: RuntimeObserver;
  /** The kernel tables connection sync keeps warm on the peer, by kind (src/sync/kernel-tables.ts). */
  syncTables?: SyncTableFactories;
}

const keptTransitions = 50;

const urgencyOf = (action: Action): number =>
  action.type === 'claim' || action.type === 'release' ? 0 : action.type === 'sendHeartbeat' ? 1 : 2;

/** Heartbeats encoded during a claim or release, in order. */
interface HeldHeartbeats {
  payloads: Buffer[];
}

const now = (): number => performance.now();
const round = (ms: number): number => Math.round(ms * 10) / 10;
/** Node truncates a timer's delay to whole ms, which would make it fire early: round up instead. */
const timerDelay = (ms: number): number => Math.max(0, Math.ceil(ms));

function electionConfig(model: Model, self: NodeSpec, peer: NodeSpec | undefined): ElectionConfig {
  return {
    self: { name: self.name, priority: self.priority },
    ...(peer && { peer: { name: peer.name, priority: peer.priority } }),
    pathCount: peer ? heartbeatPaths(self, peer).paths.length : 0,
    keepalive: model.heartbeat.keepalive,
    deadtime: model.heartbeat.deadtime,
    warntime: model.heartbeat.warntime,
    initdead: model.heartbeat.initdead,
    preempt: model.preempt,
    serialNo: model.serialNo,
    version,
  };
}

export class Daemon implements ControlHandler {
  private readonly election: Election;
  private readonly logger: Logger;
  /** The running configuration (a reload replaces it). */
  private model: Model;
  private self: NodeSpec;
  private peer: NodeSpec | undefined;
  private endpoint: ChannelEndpoint | undefined;
  private channel: SecureChannel<Heartbeat> | undefined;
  private sync: SyncService | undefined;
  private control: ControlServer | undefined;
  private readonly startedAt = now();
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = 0;
  private readonly stats: Stats;
  private readonly metrics: RuntimeMetrics;
  private readonly latenessLog = new LogRateLimiter<'late'>(10_000);
  /** Claim, release, announce, the sync role and a reload's host changes: one at a time. */
  private readonly actuator = new SerialQueue();
  /** The heartbeats encoded while the latest claim or release runs: they leave once it is done. */
  private held: HeldHeartbeats | undefined;
  private readonly transitions: TransitionRecord[] = [];
  private readonly waiting = new Map<number, { resolve: (outcome: OperatorOutcome) => void; startedAt: number }>();
  private nextRequestId = 1;
  private health: HealthSummary | undefined;
  /** Events are handled once the host is clean and the sockets are open. */
  private opened = false;
  /** While a step's actions are performed. */
  private performing = false;
  private readonly reloads = new SerialQueue();
  private stopRequested = false;
  private finished = false;
  private resolveDone!: () => void;
  /** Resolves when the daemon has stopped (after a graceful stop). */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  /** The configuration it runs: the first until a reload applies another (a refused one never does). */
  get runningModel(): Model {
    return this.model;
  }

  /** The options without the first model: a reload replaces this.model, and the first must go. */
  private readonly options: Omit<DaemonOptions, 'model'>;

  private constructor({ model, ...options }: DaemonOptions) {
    const { self, peer } = options;
    this.options = options;
    this.logger = options.logger;
    this.model = model;
    this.self = self;
    this.peer = peer;
    this.stats = options.stats ?? createStats();
    this.metrics = new RuntimeMetrics(this.stats.timer, options.runtimeObserver);
    this.election = new Election(electionConfig(model, self, peer), this.startedAt);
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    try {
      await daemon.open();
    } catch (error) {
      await options.controller.close().catch(() => undefined);
      await daemon.close();
      throw error;
    }
    return daemon;
  }

  private async open(): Promise<void> {
    const { model } = this;
    const { self, peer, keyring, logger, controller } = this.options;
    this.health = await controller.start((health) => this.reportHealth(health));
    const sessions = new ChannelSessions();
    let paths: ChannelPath[] = [];
    if (peer) {
      if (!keyring) throw new Error('a keyring is needed to talk to the peer');
      const planned = heartbeatPaths(self, peer);
      paths = planned.paths;
      if (planned.warning) logger.warn({ event: 'config.private-path' }, planned.warning);
      this.endpoint = new ChannelEndpoint(
        { cluster: model.cluster, self: self.name, peer: peer.name },
        messageKinds.heartbeat,
        keyring,
        sessions,
      );
      this.channel = await SecureChannel.open({
        endpoint: this.endpoint,
        decode: decodeHeartbeat,
        paths,
        port: model.heartbeat.port,
        logger: logger.child({ component: 'channel' }),
        now,
        stats: this.stats.heartbeat,
        onMessage: (m) =>
          this.dispatch({
            type: 'heartbeat',
            now: m.receivedAt,
            path: m.path,
            seq: m.seq,
            bootId: m.bootId,
            echoesUs: m.echoesUs,
            proven: m.proven,
            heartbeat: m.message,
          }),
      });
      this.sync = await SyncService.open({
        model,
        self,
        peer,
        keyring,
        sessions,
        tables: this.options.syncTables ?? {},
        logger: logger.child({ component: 'sync' }),
        now,
        stats: this.stats.sync,
        registry: this.stats,
        onSyncedChange: (synced) => this.dispatch({ type: 'synced', now: now(), synced }),
      });
    }
    this.control = await ControlServer.listen(this.options.socketPath, this, { stats: this.stats.control });
    logger.info(
      {
        event: 'daemon.start',
        version,
        cluster: model.cluster,
        peer: peer?.name,
        paths,
        port: model.heartbeat.port,
        timers: model.heartbeat,
        preempt: model.preempt,
        serialNo: model.serialNo,
        bootId: sessions.bootId.toString('hex'),
        socket: this.options.socketPath,
        gc: singleThreadedGc() ? 'single-threaded' : 'parallel',
      },
      `tandem ${version} started: ${self.name}${peer ? ` with peer ${peer.name} on ${paths.length} path(s)` : ', standalone'}`,
    );
    this.opened = true;
    if (this.sync && this.sync.kinds.length > 0) this.dispatch({ type: 'synced', now: now(), synced: this.sync.synced });
    this.dispatch({ type: 'health', now: now(), health: this.health });
  }

  /** A new health summary of this node (monitored links, health sources). */
  reportHealth(health: HealthSummary): void {
    this.health = health;
    this.dispatch({ type: 'health', now: now(), health });
  }

  /**
   * Reads the configuration again and applies it in the current role: election
   * timers, priorities and serial, keys, and the controller's reconcile (addresses,
   * hooks, links, balancer). A file with errors, or one that changes who the nodes
   * are, is refused and nothing changes. One `config.reload` event either way.
   */
  reload(): Promise<ReloadOutcome> {
    return this.reloads.run(() => this.applyReload());
  }

  private async applyReload(): Promise<ReloadOutcome> {
    const startedAt = now();
    const verdict = await this.reloadVerdict();
    if (verdict.ok) await this.applyConfig(verdict.next);
    const outcome: ReloadOutcome = {
      changes: verdict.ok ? verdict.changes : [],
      diagnostics: verdict.diagnostics,
      serialNo: this.model.serialNo,
      ok: verdict.ok,
      ...(!verdict.ok && { code: verdict.code }),
      message: verdict.message,
      durationMs: round(now() - startedAt),
    };
    this.stats.config.reloads.inc({ result: outcome.ok ? 'ok' : 'refused' });
    this.logger[outcome.ok ? 'info' : 'error'](
      {
        event: 'config.reload',
        ok: outcome.ok,
        ...(outcome.code && { code: outcome.code }),
        changes: outcome.changes,
        diagnostics: outcome.diagnostics,
        serialNo: outcome.serialNo,
        durationMs: outcome.durationMs,
      },
      `reload ${outcome.ok ? 'done' : 'refused'}: ${outcome.message}`,
    );
    return outcome;
  }

  private async reloadVerdict(): Promise<ReloadVerdict> {
    const load = this.options.loadConfig;
    if (this.stopRequested || !load)
      return {
        ok: false,
        code: 'self-stopping',
        message: this.stopRequested ? 'this node is shutting down' : 'this daemon cannot reload',
        diagnostics: [],
      };
    const loaded = await load(this.model).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    return reloadVerdict({ model: this.model, self: this.self, ...(this.peer && { peer: this.peer }) }, loaded);
  }

  private async applyConfig(next: LoadedConfig): Promise<void> {
    this.model = next.model;
    this.self = next.self;
    this.peer = next.peer;
    if (next.keyring) {
      this.endpoint?.setKeyring(next.keyring);
      this.sync?.setKeyring(next.keyring);
    }
    this.election.reconfigure(electionConfig(next.model, next.self, next.peer));
    await this.enqueue(() => this.options.controller.reload(next.model));
    // the new serial and timers go out at once
    this.dispatch({ type: 'tick', now: now() });
  }

  operator(command: OperatorCommand): Promise<OperatorOutcome> {
    const requestId = this.nextRequestId++;
    const startedAt = now();
    this.logger.info({ event: 'operator.request', command, requestId }, `operator request: ${command}`);
    return new Promise((resolve) => {
      this.waiting.set(requestId, { resolve, startedAt });
      this.dispatch({ type: 'operator', now: startedAt, requestId, command });
    });
  }

  /** Graceful stop: release, tell the peer, wait until it took over (at most deadtime), close. */
  stop(): Promise<void> {
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.logger.info({ event: 'daemon.stopping' }, 'stopping: handing over to the peer');
      this.dispatch({ type: 'stop', now: now() });
      // Should the election not finish (it always does within deadtime), stop anyway.
      setTimeout(() => void this.finish('timeout'), this.model.heartbeat.deadtime + 2000).unref();
    }
    return this.done;
  }

  async status(): Promise<DaemonStatus<ServiceList>> {
    const ipvs = await this.options.balancer?.status();
    const t = now();
    return daemonStatus({
      now: t,
      startedAt: this.startedAt,
      pid: process.pid,
      node: this.self.name,
      version,
      model: this.model,
      election: this.election.status(t),
      paths: this.channel?.paths ?? [],
      stats: this.stats,
      transitions: this.transitions,
      runtime: this.metrics.status(),
      host: this.options.controller.status(),
      ipvs,
      sync: this.sync?.kinds.length ? this.sync.status() : undefined,
    });
  }

  conns(): ConnsListing {
    return this.sync?.conns() ?? { role: this.election.currentRole === 'ACTIVE' ? 'sending' : 'receiving', kinds: [] };
  }

  // ---- the loop ----

  private dispatch(event: ElectionEvent): void {
    if (!this.opened || this.finished) return;
    // An event reported while a step is performed (a claim starts at once, and the commit
    // beside it may report `synced`) waits for the step: its actions must not come first.
    if (this.performing) {
      queueMicrotask(() => this.dispatch(event));
      return;
    }
    this.performing = true;
    try {
      this.perform(this.election.handle(event));
    } finally {
      this.performing = false;
    }
    this.arm();
  }

  private arm(): void {
    if (this.finished) return;
    const t = now();
    const wakeAt = this.election.nextWakeAt(t);
    // Most events (a heartbeat received) leave the next deadline where it was: the armed timer stands.
    if (this.timer && wakeAt === this.wakeAt) return;
    clearTimeout(this.timer);
    this.wakeAt = wakeAt;
    this.timer = setTimeout(() => this.wake(), timerDelay(wakeAt - t));
  }

  private wake(): void {
    this.timer = undefined;
    const t = now();
    // Node's timers count whole ms on a clock read at the start of the loop's turn, so
    // one can fire up to a ms or so before its deadline: there is nothing to do yet.
    if (t < this.wakeAt) {
      this.timer = setTimeout(() => this.wake(), timerDelay(this.wakeAt - t));
      return;
    }
    const lateMs = Math.max(0, t - this.wakeAt);
    if (this.metrics.timerFired(lateMs, this.model.heartbeat.warntime)) {
      const admitted = this.latenessLog.admit('late', t);
      if (admitted) {
        this.logger.warn(
          { event: 'timer.late', lateMs: Math.round(lateMs), suppressed: admitted.suppressed },
          `this node's timer fired ${Math.round(lateMs)} ms late (event loop blocked or CPU starved): our heartbeats were late too`,
        );
      }
    }
    // Node runs timers before it reads the sockets: what the peer sent while this
    // process was not running is read first, so its silence is judged, not ours.
    setImmediate(() => this.dispatch({ type: 'tick', now: now(), lateMs }));
  }

  /**
   * A claim or release first, then the heartbeat, then the rest in the election's order:
   * the address and its first announcement (a claim starts at once when nothing is
   * queued) and the peer's news leave before the log lines and the hooks are written.
   * A heartbeat after a claim or release still waits for it (changeAddresses).
   */
  private perform(actions: Action[]): void {
    for (const urgency of [0, 1, 2]) for (const action of actions) if (urgencyOf(action) === urgency) this.performAction(action);
  }

  private performAction(action: Action): void {
    const { controller } = this.options;
    switch (action.type) {
      case 'roleChanged':
        this.logTransition(action.transition);
        // becoming ACTIVE, the sync service follows once the claim is done (below)
        if (action.transition.to !== 'ACTIVE') this.sync?.setRole(action.transition.to);
        break;
      case 'claim':
        this.changeAddresses('claim', () => this.claimWithCommit(() => controller.claim({ term: action.term, reason: action.reason })));
        // Starting the sync sender (a kernel watch, a dump for the peer) took 1.3–2.2 ms of
        // the event loop, which the announcement waited for; its dump covers what it missed.
        void this.enqueue(() => Promise.resolve(this.sync?.setRole(this.election.currentRole)));
        break;
      case 'release':
        this.changeAddresses('release', () => controller.release({ reason: action.reason }));
        break;
      case 'announce':
        void this.actuate('announce', () => controller.announce({ reason: action.reason }));
        break;
      case 'setSyncRole':
        void this.actuate('setSyncRole', () => controller.setSyncRole(action.role));
        break;
      case 'runHooks':
        try {
          controller.runHooks(action.transition);
        } catch (error) {
          this.logger.error({ event: 'hook.failed', err: error }, 'the hooks of a transition could not be queued');
        }
        break;
      case 'sendHeartbeat':
        this.send(action.heartbeat);
        break;
      case 'pathUp':
        controller.refreshPeer(action.path);
        break;
      case 'log':
        this.logger[action.level]({ event: action.event, ...action.fields }, action.message);
        break;
      case 'operatorReply':
        this.answer(action);
        break;
      case 'stopped':
        void this.finish('handed over');
        break;
    }
  }

  /**
   * The claim, with the synced tables' commit into the kernel before it (so before the
   * gratuitous ARP: no packet meets the kernel before its connection is there) or
   * beside it, as sync.conntrack.commit says. With nothing to commit (no table synced
   * yet, or all of it committed at an earlier claim) the claim need not wait for it.
   */
  private async claimWithCommit(claim: () => Promise<void>): Promise<void> {
    const sync = this.sync;
    if (!sync) return claim();
    if (this.model.sync.conntrack?.commit === 'beside-announce' || !sync.commitPending()) {
      const claimed = claim();
      await Promise.all([claimed, sync.commit()]);
      return;
    }
    await sync.commit();
    await claim();
  }

  /**
   * Runs a claim or release; the heartbeats encoded meanwhile wait for it, but never so
   * long that the peer would count us dead. They leave the moment it is done, before the
   * result is reported and before anything queued after it runs (the sync sender's start).
   */
  private changeAddresses(action: 'claim' | 'release', run: () => Promise<void>): void {
    const held: HeldHeartbeats = { payloads: [] };
    this.held = held;
    const timer = setTimeout(() => this.sendHeld(held), this.model.heartbeat.deadtime / 2);
    const settled = () => {
      clearTimeout(timer);
      this.sendHeld(held);
    };
    // and should the call not even start (a controller that throws), once the queue has logged it
    void this.actuate(action, run, settled).then(settled);
  }

  private sendHeld(held: HeldHeartbeats): void {
    if (this.held === held) this.held = undefined;
    for (const payload of held.payloads.splice(0)) this.channel?.send(payload);
  }

  /** Runs a controller call after the ones before it and reports the result to the election (after `settled`). */
  private actuate(action: 'claim' | 'release' | 'announce' | 'setSyncRole', run: () => Promise<void>, settled?: () => void): Promise<void> {
    // a claim with nothing before it starts at once: its first frame need not wait for this event's other actions
    return this.enqueue(
      () =>
        run().then(
          () => {
            settled?.();
            this.dispatch({ type: 'actionResult', now: now(), action, ok: true });
          },
          (error: unknown) => {
            settled?.();
            this.dispatch({
              type: 'actionResult',
              now: now(),
              action,
              ok: false,
              error: error instanceof Error ? error.message : String(error),
            });
          },
        ),
      action === 'claim',
    );
  }

  /**
   * Runs a controller call after the ones before it (with `atOnceWhenIdle` and none
   * before it, at once, up to its first await); never rejects (a failure is logged).
   */
  private enqueue(run: () => Promise<void>, atOnceWhenIdle = false): Promise<void> {
    return (atOnceWhenIdle ? this.actuator.start(run) : this.actuator.run(run)).catch((error: unknown) =>
      this.logger.error({ event: 'controller.failed', err: error }, `controller: ${(error as Error).message}`),
    );
  }

  private send(heartbeat: Heartbeat): void {
    const channel = this.channel;
    if (!channel) return;
    const payload = encodeHeartbeat(heartbeat);
    if (this.held) this.held.payloads.push(payload);
    else channel.send(payload);
  }

  private answer(action: Extract<Action, { type: 'operatorReply' }>): void {
    const waiting = this.waiting.get(action.requestId);
    if (!waiting) return;
    this.waiting.delete(action.requestId);
    const outcome: OperatorOutcome = {
      ok: action.ok,
      ...(action.code && { code: action.code }),
      message: action.message,
      role: this.election.currentRole,
      durationMs: round(now() - waiting.startedAt),
    };
    this.logger.info(
      { event: 'operator.reply', requestId: action.requestId, ...outcome },
      `operator request ${outcome.ok ? 'done' : 'refused'}: ${outcome.message}`,
    );
    waiting.resolve(outcome);
  }

  private logTransition(transition: Transition): void {
    const record = transitionRecord(transition, wallClock(transition.at));
    this.transitions.push(record);
    if (this.transitions.length > keptTransitions) this.transitions.shift();
    this.stats.role.transitions.inc({ from: record.from, to: record.to, reason: record.reason });
    this.logger.info(
      { event: 'role.change', ...record },
      `role.change ${record.from} -> ${record.to} reason=${record.reason} term=${record.term}`,
    );
  }

  private async finish(why: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    // The release (and the heartbeat after it) must be out before the sockets close.
    await this.actuator.run(() => Promise.resolve());
    await this.options.controller
      .close()
      .catch((error: unknown) =>
        this.logger.error({ event: 'controller.close-failed', err: error }, 'the controller did not stop cleanly'),
      );
    await this.close();
    this.logger.info({ event: 'daemon.stopped', why }, `tandem stopped (${why})`);
    this.resolveDone();
  }

  private async close(): Promise<void> {
    this.metrics.close();
    await this.sync?.close();
    await this.channel?.close();
    await this.control?.close();
  }
}
