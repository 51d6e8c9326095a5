// The election: a pure state machine. It is fed events (a timer tick, a heartbeat
// from the peer, a change of this node's health, an operator request, the result
// of an action, a stop request), each with the time `now` in monotonic ms, and
// answers with actions for the daemon to perform. It never touches a socket or a
// clock, so tests drive it through hours of simulated failures in milliseconds.
//
// Roles: INIT (just started, listening for the peer), BACKUP, ACTIVE, FAULT (cannot
// serve: a monitored link is down, health says so, or claiming failed), STANDBY
// (operator maintenance: never active), STOPPED (shutting down, holds nothing).
//
// Handing the active role over is a handshake: the active node gives the role up,
// tells the peer (REQUEST_HANDOVER, sent at once and repeated in every heartbeat
// until the peer is seen active), and the peer claims. A backup that wants the role
// (operator takeover, or preemption) asks with REQUEST_TAKEOVER and the active node
// performs the same handover. So the role never moves by two independent
// decisions, and never to a node that cannot hear us. A handover and a graceful
// stop make before they break: the old node keeps answering on the addresses
// until it sees the peer ACTIVE (the daemon sends that only once the peer's
// addresses are in place and announced), then a short grace for the clients.
import { handoverReasons, type HandoverReason, type Heartbeat, type HealthSummary, type PeerRequest, type Role } from './heartbeat.js';
import { LogRateLimiter } from './rejections.js';

export interface ElectionConfig {
  self: { name: string; priority: number };
  /** Undefined for a standalone director. */
  peer?: { name: string; priority: number };
  /** Number of heartbeat paths (public, and the private one if both nodes have it). */
  pathCount: number;
  keepalive: number;
  deadtime: number;
  warntime: number;
  initdead: number;
  /** true: the preferred node takes the role back when it is healthy again. */
  preempt: boolean;
  serialNo: number;
  /** This node's software version, sent in every heartbeat. */
  version?: string;
}

export type TransitionReason =
  | HandoverReason
  /** No peer configured. */
  | 'standalone'
  /** The peer was not heard within initdead after start. */
  | 'initdead'
  /** Nobody is active and this node is the preferred one (priority, then name). */
  | 'elected'
  | 'peer-active'
  /** Both starting: the peer is the preferred one. */
  | 'peer-preferred'
  /** Starting while the peer is backup: the peer decides (it claims unless we are preferred). */
  | 'peer-backup'
  /** The peer (re)started and holds nothing: the established backup claims. */
  | 'peer-starting'
  /** The peer was silent for deadtime on every path. */
  | 'peer-dead'
  /** The peer is in FAULT or STANDBY, or says it cannot serve. */
  | 'peer-unable'
  /** The peer's last heartbeat said it is shutting down. */
  | 'peer-stopped'
  | 'split-brain-yield'
  /** We handed over, but the peer did not claim. */
  | 'handover-failed'
  | 'link-down'
  | 'health'
  | 'health-restored'
  | 'claim-failed'
  /** A failed claim is retried when no peer can take the role. */
  | 'claim-retry'
  | 'operator-resume'
  | 'shutdown';

export interface Transition {
  from: Role;
  to: Role;
  reason: TransitionReason;
  term: number;
  /** Monotonic ms. */
  at: number;
  peer?: { name: string; role?: Role; term?: number };
  timings: {
    /** How long this node held its previous role. */
    inPreviousRoleMs: number;
    /** How long the peer had been silent (for peer-dead: the detection time). */
    peerSilentMs?: number;
  };
}

export type OperatorCommand = 'failover' | 'takeover' | 'standby' | 'resume';

/** Why an operator request was refused or did not complete. */
export type RefusalCode =
  | 'not-active'
  | 'not-standby'
  | 'no-peer'
  | 'busy'
  | 'peer-silent'
  | 'peer-fault'
  | 'peer-standby'
  | 'peer-starting'
  | 'peer-stopping'
  | 'peer-active'
  | 'peer-not-active'
  | 'peer-cannot-serve'
  | 'peer-deaf'
  | 'self-fault'
  | 'self-starting'
  | 'self-standby'
  | 'self-stopping'
  | 'timeout'
  | 'cancelled'
  /** This node's connection tables have not caught up with the active's yet. */
  | 'not-synced';

export type AnnounceReason = 'split-brain-survivor' | 'peer-claimed-meanwhile';

export type SyncRole = 'master' | 'backup' | 'none';

export type LogLevel = 'info' | 'warn' | 'error';

export type Action =
  /** Take the active role's addresses, announce them, start IPVS. */
  | { type: 'claim'; term: number; reason: TransitionReason }
  | { type: 'release'; reason: TransitionReason }
  /** Announce the addresses again now (we won a split brain, or the peer claimed while we were active). */
  | { type: 'announce'; reason: AnnounceReason }
  | { type: 'setSyncRole'; role: SyncRole }
  /** Queue the operator's hooks for this transition (which ones run is the hook runner's business). */
  | { type: 'runHooks'; transition: Transition }
  /** Log exactly one role.change event for it. */
  | { type: 'roleChanged'; transition: Transition }
  /** Send this heartbeat on every path now. */
  | { type: 'sendHeartbeat'; heartbeat: Heartbeat }
  /** The peer is heard again on this path after silence: it may not hear us yet (our neighbour entry for it may be stuck unresolved). */
  | { type: 'pathUp'; path: number }
  | { type: 'log'; level: LogLevel; event: string; message: string; fields?: Record<string, unknown> }
  | { type: 'operatorReply'; requestId: number; ok: boolean; code?: RefusalCode; message: string }
  /** The graceful stop is complete: the daemon may exit. */
  | { type: 'stopped' };

export type ElectionEvent =
  | {
      type: 'tick';
      now: number;
      /** How much later than asked (nextWakeAt) the daemon's timer fired. */
      lateMs?: number;
    }
  | {
      type: 'heartbeat';
      now: number;
      path: number;
      seq: number;
      bootId: string;
      /** The datagram echoed this boot of ours (see ChannelMessage.echoesUs). */
      echoesUs: boolean;
      /** Made since our start, not a recording (see ChannelMessage.proven). */
      proven: boolean;
      heartbeat: Heartbeat;
    }
  | { type: 'health'; now: number; health: HealthSummary }
  | { type: 'operator'; now: number; requestId: number; command: OperatorCommand }
  | { type: 'actionResult'; now: number; action: 'claim' | 'release' | 'announce' | 'setSyncRole'; ok: boolean; error?: string }
  /** Whether this node's synced tables caught up (always, without connection sync). */
  | { type: 'synced'; now: number; synced: boolean }
  | { type: 'stop'; now: number };

interface PeerState {
  bootId?: string;
  /** When we first heard that boot, if it followed one we knew (the peer restarted while we ran). */
  restartHeardAt?: number;
  /** Per path: when a datagram last arrived, and the highest sequence number seen. */
  lastHeard: (number | undefined)[];
  lastSeq: number[];
  pathUp: boolean[];
  /** Sequence number of the heartbeat whose content `heartbeat` is. */
  appliedSeq: number;
  heartbeat?: Heartbeat;
  alive: boolean;
  /** The peer's request we acted on last (handover or takeover), so repeats are ignored. */
  handledRequestId?: number;
  /** The peer's state_version as last heard, and whether that heartbeat's echo of our state is from this boot. */
  stateVersion: number;
  echoesUs: boolean;
  /**
   * `heartbeat` is proven to be made since our start. An unproven one may be a
   * recording replayed after our restart (a STOPPED heartbeat, a handover
   * request): it may hold us back (make a starting node BACKUP, keep us from
   * claiming while it is heard), never make us claim or hand over. A live peer
   * proves itself within a round trip, by echoing our boot id.
   */
  proven: boolean;
  mismatchLogged: { serialNo?: number; timers?: string };
}

/** When we stopped asking, and the state version of our first heartbeat without the request. */
interface Withdrawal {
  at: number;
  version: number;
}

type Pending =
  /** We released and asked the peer to claim; `withdrawn` once we stopped asking (see resolveHandover). */
  | { kind: 'handover'; id: number; reason: HandoverReason; since: number; requestId?: number; withdrawn?: Withdrawal }
  /** We asked the active peer to hand the role over to us. */
  | { kind: 'takeover'; id: number; reason: 'operator-takeover' | 'preempt'; since: number; requestId?: number };

/** What the status API shows of the election. */
export interface ElectionStatus {
  role: Role;
  term: number;
  since: number;
  lastTransition?: Transition;
  health: HealthSummary;
  pending?: { kind: Pending['kind']; reason: HandoverReason; since: number };
  splitBrainSince?: number;
  peer?: {
    name: string;
    alive: boolean;
    bootId?: string;
    role?: Role;
    term?: number;
    priority?: number;
    serialNo?: number;
    version?: string;
    health?: HealthSummary;
    timers?: Heartbeat['timers'];
    paths: { lastHeard?: number; up: boolean; lastSeq: number; peerHearsUs?: { heard: boolean; silentMs: number } }[];
  };
}

/** A transition a rule decided on. */
interface Move {
  to: Role;
  reason: TransitionReason;
}

/** The immediate answer to an operator request. */
interface Answer {
  ok: boolean;
  message: string;
  code?: RefusalCode;
}

type Refusal = Answer & { ok: false; code: RefusalCode };

function refusal(code: RefusalCode, message: string): Refusal {
  return { ok: false, code, message };
}

const preemptRetryDeadtimes = 10;
/** How long a split brain with a peer that does not hear us lasts at least before we yield to it. */
const splitBrainDeafGraceMs = 1000;
/** After the peer is seen ACTIVE (its addresses announced), how long we still answer for packets already on their way to us. */
const releaseGraceMs = 10;

const healthy: HealthSummary = { canServe: true, monitorLinks: false, links: [], fault: '' };

function preferred(a: { name: string; priority: number }, b: { name: string; priority: number }): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.name < b.name);
}

export class Election {
  private role: Role = 'INIT';
  private term = 0;
  /** Counts our role changes; the peer echoes it (peer_state_version). */
  private stateVersion = 1;
  private since: number;
  private readonly startedAt: number;
  private lastTransition: Transition | undefined;
  private health: HealthSummary = healthy;
  private claimFailedAt: number | undefined;
  /** The term whose claim the driver reported done; the peer lets go of kept addresses on it. */
  private claimedTerm = 0;
  private syncRole: SyncRole | undefined;
  private pending: Pending | undefined;
  private nextRequestId = 1;
  private splitBrain: { since: number; announced: boolean } | undefined;
  /** Preemption is for a preferred node that returns (from INIT, FAULT, STANDBY), not for one that handed over. */
  private mayPreempt = false;
  private preemptNotBefore = 0;
  /** Asking the active role back (preemption, takeover) waits for warm tables; a dead peer does not. */
  private synced = true;
  private stopDone = false;
  /**
   * We left ACTIVE by a handover or a stop and still hold the addresses, until
   * the peer holds them too (`peerActiveAt`: when we first saw it ACTIVE;
   * `peerClaimedAt`: when it first said its claim of that term was done).
   */
  private kept: { since: number; reason: TransitionReason; peerActiveAt?: number; peerClaimedAt?: number } | undefined;
  private stopReported = false;
  private nextHeartbeatAt: number;
  /** Until when a stall of ours keeps the peer alive. */
  private stallGraceUntil = 0;
  /** The peer's last hearing that the grace was given for. */
  private stallGraceAfter: number | undefined;
  private readonly peer: PeerState | undefined;
  private actions: Action[] = [];
  /** Late heartbeats are logged at most once a second (with how many were not) — a loaded machine has many. */
  private readonly lateLog = new LogRateLimiter<'late'>(1000);
  private sendNow = false;

  constructor(
    private config: ElectionConfig,
    now: number,
  ) {
    this.startedAt = now;
    this.since = now;
    this.nextHeartbeatAt = now;
    if (config.peer) {
      const paths = Array.from({ length: config.pathCount });
      this.peer = {
        lastHeard: paths.map(() => undefined),
        lastSeq: paths.map(() => 0),
        pathUp: paths.map(() => false),
        appliedSeq: 0,
        stateVersion: 0,
        echoesUs: false,
        proven: false,
        alive: false,
        mismatchLogged: {},
      };
    }
  }

  get currentRole(): Role {
    return this.role;
  }

  /**
   * A reloaded configuration of the same pair: new timers, priorities, preemption
   * and serial take effect from now on. A reload never moves the role by itself:
   * a backup that the new priorities prefer does not preempt because of them (it
   * would when it next returns from FAULT or STANDBY).
   */
  reconfigure(config: ElectionConfig): void {
    const { self, peer, pathCount } = this.config;
    if (config.self.name !== self.name || config.peer?.name !== peer?.name || config.pathCount !== pathCount) {
      throw new Error('the election cannot change its nodes or heartbeat paths while running');
    }
    const wasPreferred = this.isPreferred();
    // The next heartbeat keeps its distance from the last one sent.
    this.nextHeartbeatAt += config.keepalive - this.config.keepalive;
    this.config = config;
    if (this.isPreferred() !== wasPreferred) this.mayPreempt = false;
  }

  handle(event: ElectionEvent): Action[] {
    this.actions = [];
    const { now } = event;
    switch (event.type) {
      case 'tick':
        if (event.lateMs !== undefined) this.noticeStall(now, event.lateMs);
        break;
      case 'heartbeat':
        this.receive(event);
        break;
      case 'health':
        this.health = event.health;
        break;
      case 'operator':
        this.operator(event.command, event.requestId, now);
        break;
      case 'actionResult':
        this.actionResult(event, now);
        break;
      case 'synced':
        this.synced = event.synced;
        break;
      case 'stop':
        this.stop(now);
        break;
    }
    this.evaluate(now, event.type);
    if (this.peer && !this.stopReported && (this.sendNow || now >= this.nextHeartbeatAt)) this.sendHeartbeat(now);
    this.sendNow = false;
    if (this.stopDone && !this.stopReported) {
      this.stopReported = true;
      this.actions.push({ type: 'stopped' });
    }
    return this.actions;
  }

  /** When the daemon must call `handle({ type: 'tick' })` next at the latest. */
  nextWakeAt(now: number): number {
    // The event just handled may be older than `now` (a datagram's arrival time, a
    // slow action's result): a heartbeat that fell due meanwhile is due now, not
    // skipped until the next future deadline.
    if (this.peer && !this.stopReported && this.nextHeartbeatAt <= now) return now;
    // The earliest deadline still ahead, without an array per event (called for every datagram).
    let next: number | undefined;
    const consider = (at: number) => {
      if (at > now && (next === undefined || at < next)) next = at;
    };
    consider(this.nextHeartbeatAt);
    const { deadtime } = this.config;
    const peer = this.peer;
    if (peer) {
      if (this.role === 'INIT') consider(this.startedAt + this.config.initdead);
      const lastHeard = this.lastHeardAny();
      if (lastHeard !== undefined) consider(lastHeard + deadtime);
      for (let path = 0; path < peer.lastHeard.length; path++) {
        const at = peer.lastHeard[path];
        if (at !== undefined && peer.pathUp[path]) consider(at + deadtime);
      }
    }
    if (this.mayPreempt && this.preemptNotBefore > now) consider(this.preemptNotBefore);
    if (this.pending) consider(this.pending.since + deadtime);
    if (this.pending?.kind === 'handover' && this.pending.withdrawn) consider(this.pending.withdrawn.at + deadtime);
    if (this.splitBrain) consider(this.splitBrain.since + this.splitBrainDeafGrace());
    if (this.claimFailedAt !== undefined) consider(this.claimFailedAt + deadtime);
    if (this.stallGraceUntil > now) consider(this.stallGraceUntil);
    if (this.kept) consider(this.keptUntil(this.kept));
    // STOPPED gives up waiting for the peer then; INIT and BACKUP stop waiting for it to acknowledge our state.
    consider(this.since + deadtime);
    consider(this.since + this.claimPatience());
    return next ?? now + this.config.keepalive;
  }

  status(now: number): ElectionStatus {
    const peer = this.peer;
    const hb = peer?.heartbeat;
    return {
      role: this.role,
      term: this.term,
      since: this.since,
      ...(this.lastTransition && { lastTransition: this.lastTransition }),
      health: this.health,
      ...(this.pending && { pending: { kind: this.pending.kind, reason: this.pending.reason, since: this.pending.since } }),
      ...(this.splitBrain && { splitBrainSince: this.splitBrain.since }),
      ...(peer &&
        this.config.peer && {
          peer: {
            name: this.config.peer.name,
            alive: this.peerAlive(now),
            ...(peer.bootId && { bootId: peer.bootId }),
            ...(hb && { role: hb.role, term: hb.term, priority: hb.priority, serialNo: hb.serialNo, health: hb.health, timers: hb.timers }),
            ...(hb?.version && { version: hb.version }),
            paths: peer.lastHeard.map((lastHeard, path) => {
              const view = hb?.peerView.find((v) => v.path === path);
              return {
                ...(lastHeard !== undefined && { lastHeard }),
                up: peer.pathUp[path] ?? false,
                lastSeq: peer.lastSeq[path] ?? 0,
                ...(view && { peerHearsUs: { heard: view.heard, silentMs: view.silentMs } }),
              };
            }),
          },
        }),
    };
  }

  // ---- events ----

  private receive(event: Extract<ElectionEvent, { type: 'heartbeat' }>): void {
    const peer = this.peer;
    if (!peer || event.path >= this.config.pathCount) return;
    const { now, heartbeat } = event;
    if (peer.bootId !== event.bootId) {
      peer.restartHeardAt = peer.bootId === undefined ? undefined : now;
      peer.bootId = event.bootId;
      peer.appliedSeq = 0;
      peer.lastSeq.fill(0);
      peer.handledRequestId = undefined;
      peer.stateVersion = 0;
      // Our next heartbeat echoes the new boot, which proves it once it answers.
      this.sendNow = true;
    }
    // Only progress on a path counts: a datagram overtaken on its path (or an old
    // one replayed within the channel's window) neither keeps the peer alive nor
    // rolls its state back.
    if (event.seq <= (peer.lastSeq[event.path] ?? 0)) return;
    const lastHeard = this.lastHeardAny();
    if (
      !peer.alive &&
      this.role === 'ACTIVE' &&
      (lastHeard === undefined || now >= lastHeard + this.config.deadtime + this.splitBrainDeafGrace())
    ) {
      // Silent that long, the peer may have seen us ACTIVE, waited out our deafness
      // and yielded: what it sent before may be arriving only now (held up across
      // the heal). A new state version of ours makes only its answers to this
      // heartbeat acknowledge us (see resolveSplitBrain).
      this.stateVersion += 1;
      this.sendNow = true;
    }
    // A peer already declared dead is not late but back (logged as peer.alive).
    const admitted = lastHeard !== undefined && peer.alive && now - lastHeard > this.config.warntime && this.lateLog.admit('late', now);
    if (lastHeard !== undefined && admitted) {
      const gapMs = now - lastHeard;
      this.log('warn', 'heartbeat.late', `late heartbeat: ${Math.round(gapMs)} ms since the previous one`, {
        gapMs: Math.round(gapMs),
        latenessMs: Math.round(gapMs - this.config.keepalive),
        path: event.path,
        suppressed: admitted.suppressed,
      });
    }
    peer.lastHeard[event.path] = now;
    peer.lastSeq[event.path] = event.seq;
    if (!peer.pathUp[event.path]) {
      peer.pathUp[event.path] = true;
      this.log('info', 'path.up', `heartbeat path ${event.path} is up`, { path: event.path });
      this.actions.push({ type: 'pathUp', path: event.path });
    }
    // The other path's copy of the same or a newer heartbeat may have come first.
    if (event.seq <= peer.appliedSeq) return;
    peer.appliedSeq = event.seq;
    peer.heartbeat = heartbeat;
    peer.echoesUs = event.echoesUs;
    peer.proven = event.proven;
    if (heartbeat.stateVersion !== peer.stateVersion) {
      // Tell the peer at once that we saw its new state: it may be waiting for that to act.
      peer.stateVersion = heartbeat.stateVersion;
      this.sendNow = true;
    }
    if (this.role !== 'ACTIVE' && heartbeat.term > this.term) this.term = heartbeat.term;
    this.checkConfigMatch(peer, heartbeat);
  }

  private checkConfigMatch(peer: PeerState, heartbeat: Heartbeat): void {
    if (heartbeat.serialNo !== this.config.serialNo && peer.mismatchLogged.serialNo !== heartbeat.serialNo) {
      peer.mismatchLogged.serialNo = heartbeat.serialNo;
      this.log(
        'warn',
        'config.serial-mismatch',
        `configuration serial differs: ours ${this.config.serialNo}, peer's ${heartbeat.serialNo}`,
        {
          serialNo: this.config.serialNo,
          peerSerialNo: heartbeat.serialNo,
        },
      );
    }
    const timers = `${heartbeat.timers.keepaliveMs}/${heartbeat.timers.deadtimeMs}`;
    if (timers !== `${this.config.keepalive}/${this.config.deadtime}` && peer.mismatchLogged.timers !== timers) {
      peer.mismatchLogged.timers = timers;
      this.log(
        'warn',
        'config.timer-mismatch',
        `heartbeat timers differ: ours keepalive/deadtime ${this.config.keepalive}/${this.config.deadtime} ms, peer's ${timers} ms`,
        {
          peerTimers: heartbeat.timers,
        },
      );
    }
  }

  private actionResult(event: Extract<ElectionEvent, { type: 'actionResult' }>, now: number): void {
    if (event.ok) {
      // Tell a peer keeping the addresses after a handover at once: it lets go on this.
      if (event.action === 'claim' && this.role === 'ACTIVE') {
        this.claimedTerm = this.term;
        this.sendNow = true;
      }
      return;
    }
    this.log('error', 'controller.action-failed', `${event.action} failed: ${event.error ?? 'unknown error'}`, {
      action: event.action,
      error: event.error,
    });
    if (event.action === 'claim' && this.role === 'ACTIVE') this.claimFailedAt = now;
  }

  private stop(now: number): void {
    if (this.role === 'STOPPED') return;
    if (this.pending) this.finishPending(this.pending, false, 'cancelled', 'the node is shutting down');
    this.transition('STOPPED', 'shutdown', now);
  }

  // ---- operator requests ----

  private operator(command: OperatorCommand, requestId: number, now: number): void {
    const answer = this.carryOut(command, requestId, now);
    if (answer) this.reply(requestId, answer.ok, answer.message, answer.code);
  }

  /** Acts on an operator request; returns the answer, or undefined when a handover gives it on its end. */
  private carryOut(command: OperatorCommand, requestId: number, now: number): Answer | undefined {
    if (this.role === 'STOPPED') return refusal('self-stopping', 'this node is shutting down');
    if (this.pending && command !== 'resume') return refusal('busy', `a ${this.pending.kind} (${this.pending.reason}) is in progress`);
    switch (command) {
      case 'failover': {
        if (this.role !== 'ACTIVE') return refusal('not-active', `this node is ${this.role}, not ACTIVE`);
        const unable = this.peerCannotTakeOver(now);
        if (unable) return unable;
        this.handOver('operator-failover', 'BACKUP', now, requestId);
        return undefined;
      }
      case 'takeover': {
        if (this.role === 'ACTIVE') return { ok: true, message: 'this node is already ACTIVE' };
        const self = this.selfCannotServe();
        if (self) return self;
        if (!this.peer) return refusal('no-peer', 'no peer is configured');
        if (!this.peerAlive(now)) return refusal('peer-silent', 'the peer is silent; this node takes over by itself after deadtime');
        if (this.peer.heartbeat?.role !== 'ACTIVE')
          return refusal('peer-not-active', `the peer is ${this.peer.heartbeat?.role ?? 'unknown'}, not ACTIVE`);
        if (!this.peerHearsUs(now)) return refusal('peer-deaf', 'the peer does not hear our heartbeats, so it cannot hand over');
        if (!this.synced)
          return refusal('not-synced', "this node's connection tables have not caught up yet (tandem status shows sync); try again later");
        this.pending = { kind: 'takeover', id: this.nextRequestId++, reason: 'operator-takeover', since: now, requestId };
        this.sendNow = true;
        return undefined;
      }
      case 'standby': {
        if (this.role === 'STANDBY') return { ok: true, message: 'this node is already in STANDBY' };
        if (this.role === 'ACTIVE') {
          const unable = this.peerCannotTakeOver(now);
          if (unable) return { ...unable, message: `${unable.message}; this node stays ACTIVE` };
          this.handOver('operator-standby', 'STANDBY', now, requestId);
          return undefined;
        }
        this.transition('STANDBY', 'operator-standby', now);
        return { ok: true, message: 'this node is now in STANDBY' };
      }
      case 'resume': {
        if (this.role !== 'STANDBY') return refusal('not-standby', `this node is ${this.role}, not in STANDBY`);
        this.claimFailedAt = undefined;
        this.transition('BACKUP', 'operator-resume', now);
        return { ok: true, message: 'this node left STANDBY' };
      }
    }
  }

  private selfCannotServe(): Refusal | undefined {
    switch (this.role) {
      case 'FAULT':
        return refusal('self-fault', `this node is in FAULT (${this.faultReason()})`);
      case 'STANDBY':
        return refusal('self-standby', 'this node is in STANDBY; resume it first');
      case 'INIT':
        return refusal('self-starting', 'this node is still starting');
      default:
        return undefined;
    }
  }

  private peerCannotTakeOver(now: number): Refusal | undefined {
    const hb = this.peer?.heartbeat;
    if (!this.peer) return refusal('no-peer', 'no peer is configured');
    if (!hb || !this.peerAlive(now)) return refusal('peer-silent', 'the peer is silent');
    switch (hb.role) {
      case 'FAULT':
        return refusal('peer-fault', `the peer is in FAULT${hb.health.fault ? ` (${hb.health.fault})` : ''}`);
      case 'STANDBY':
        return refusal('peer-standby', 'the peer is in STANDBY');
      case 'INIT':
        return refusal('peer-starting', 'the peer is still starting');
      case 'STOPPED':
        return refusal('peer-stopping', 'the peer is shutting down');
      case 'ACTIVE':
        return refusal('peer-active', 'the peer is ACTIVE too (split brain being resolved)');
      case 'BACKUP':
        break;
    }
    if (!hb.health.canServe) return refusal('peer-cannot-serve', `the peer cannot serve (${hb.health.fault || 'health'})`);
    if (!this.peerHearsUs(now)) return refusal('peer-deaf', 'the peer does not hear our heartbeats');
    return undefined;
  }

  /** Starts the handshake: release now, tell the peer at once, finish when it is seen ACTIVE. */
  private handOver(reason: HandoverReason, to: 'BACKUP' | 'STANDBY', now: number, requestId?: number): void {
    this.transition(to, reason, now);
    this.pending = { kind: 'handover', id: this.nextRequestId++, reason, since: now, ...(requestId !== undefined && { requestId }) };
    this.sendNow = true;
  }

  private finishPending(pending: Pending, ok: boolean, code: RefusalCode | undefined, message: string): void {
    this.pending = undefined;
    this.log(
      ok ? 'info' : 'warn',
      pending.kind === 'handover' ? (ok ? 'handover.done' : 'handover.failed') : ok ? 'takeover.done' : 'takeover.failed',
      `${pending.kind} (${pending.reason}) ${ok ? 'done' : 'failed'}: ${message}`,
      {
        reason: pending.reason,
        ...(code && { code }),
      },
    );
    if (pending.requestId !== undefined) this.reply(pending.requestId, ok, message, code);
  }

  private reply(requestId: number, ok: boolean, message: string, code?: RefusalCode): void {
    this.actions.push({ type: 'operatorReply', requestId, ok, message, ...(code && { code }) });
  }

  // ---- the rules ----

  private evaluate(now: number, cause: ElectionEvent['type']): void {
    // A datagram read in a burst after a stall of ours may come before its copy on
    // the other path: silence is judged on ticks, which the daemon runs after the
    // sockets are read, so a path does not flap down and up on every stall.
    this.trackPeerLiveness(now, cause !== 'heartbeat');
    // Each pass makes at most one transition; a few passes let e.g. a resumed node
    // go on to claim the role in the same step. Four is more than any chain needs.
    for (let pass = 0; pass < 4; pass++) {
      const before = this.role;
      this.resolvePending(now);
      this.letGo(now);
      this.applyRules(now);
      if (this.role === before) break;
    }
  }

  private applyRules(now: number): void {
    const move = this.decide(now);
    if (move) this.transition(move.to, move.reason, now);
  }

  private decide(now: number): Move | undefined {
    switch (this.role) {
      case 'INIT':
        return this.ruleInit(now);
      case 'BACKUP':
        return this.ruleBackup(now);
      case 'ACTIVE':
        return this.ruleActive(now);
      case 'FAULT':
        return this.ruleFault(now);
      case 'STANDBY':
        return undefined;
      case 'STOPPED':
        this.ruleStopped(now);
        return undefined;
    }
  }

  private ruleInit(now: number): Move | undefined {
    if (this.cannotServe()) return { to: 'FAULT', reason: this.faultReason() };
    if (!this.peer) return { to: 'ACTIVE', reason: 'standalone' };
    // Which node claims when nobody is active depends on the pair of roles, and for
    // every pair exactly one rule fires on one side; acting only on heartbeats that
    // acknowledge our current state keeps both sides looking at the same pair.
    const hb = this.peer.heartbeat;
    if (hb && this.peerAlive(now)) {
      if (hb.role === 'ACTIVE') return { to: 'BACKUP', reason: 'peer-active' };
      // Only a proven peer's word makes us claim; an unproven one (maybe a
      // recording) may make us BACKUP, and keeps us waiting while it is heard.
      if (hb.role === 'STOPPED') return this.peer.proven ? { to: 'ACTIVE', reason: 'peer-stopped' } : undefined;
      if (this.peerUnable()) return this.peerKnowsOurState(now) ? { to: 'ACTIVE', reason: 'peer-unable' } : undefined;
      // A backup that has not heard us yet may be the one of our previous boot (killed while
      // active): on our INIT it claims at once (peer-starting), while a BACKUP of ours would
      // leave it to us once it acknowledges that, a round trip that loss can stretch.
      if (hb.role === 'BACKUP') return this.peer.proven ? { to: 'BACKUP', reason: 'peer-backup' } : undefined;
      if (!this.isPreferred()) return { to: 'BACKUP', reason: 'peer-preferred' };
      return this.peerKnowsOurState(now, this.claimPatience()) ? { to: 'ACTIVE', reason: 'elected' } : undefined;
    }
    return now >= this.startedAt + this.config.initdead ? { to: 'ACTIVE', reason: 'initdead' } : undefined;
  }

  private ruleBackup(now: number): Move | undefined {
    if (this.cannotServe()) return { to: 'FAULT', reason: this.faultReason() };
    if (this.pending?.kind === 'handover') return undefined;
    const peer = this.peer;
    if (!peer) return { to: 'ACTIVE', reason: 'standalone' };
    const hb = peer.heartbeat;
    if (!hb || !this.peerAlive(now)) {
      // Back from FAULT, the silence may have been ours (our links were down): the
      // peer gets a deadtime to be heard before it counts as dead, as at start.
      const backFromFault = this.lastTransition?.from === 'FAULT' && now < this.since + this.config.deadtime;
      return backFromFault ? undefined : { to: 'ACTIVE', reason: 'peer-dead' };
    }
    // Whatever an unproven peer says, it keeps us waiting while it is heard.
    if (!peer.proven) return undefined;
    if (hb.role === 'STOPPED') return { to: 'ACTIVE', reason: 'peer-stopped' };
    const request = this.newPeerRequest('handover');
    if (request) {
      peer.handledRequestId = request.id;
      return { to: 'ACTIVE', reason: request.reason };
    }
    if (this.peerUnable()) return this.peerKnowsOurState(now) ? { to: 'ACTIVE', reason: 'peer-unable' } : undefined;
    if (hb.role === 'ACTIVE') {
      if (
        this.config.preempt &&
        this.mayPreempt &&
        this.isPreferred() &&
        this.synced &&
        !this.pending &&
        now >= this.preemptNotBefore &&
        this.peerHearsUs(now)
      ) {
        this.pending = { kind: 'takeover', id: this.nextRequestId++, reason: 'preempt', since: now };
        this.log('info', 'role.preempt', 'this node is preferred: asking the peer to hand the active role over');
        this.sendNow = true;
      }
      return undefined;
    }
    // Nobody is active. A starting peer holds nothing and leaves the decision to
    // us; between two backups the preferred one claims. A peer restarted under us
    // takes our heartbeats as proven only once they echo it: BACKUP since before we
    // heard it, we are all it can have acted on, no acknowledgement to wait for.
    if (hb.role === 'INIT') {
      const backupBeforeItsRestart = peer.restartHeardAt !== undefined && this.since < peer.restartHeardAt;
      return backupBeforeItsRestart || this.peerKnowsOurState(now) ? { to: 'ACTIVE', reason: 'peer-starting' } : undefined;
    }
    return this.isPreferred() && this.peerKnowsOurState(now, this.claimPatience()) ? { to: 'ACTIVE', reason: 'elected' } : undefined;
  }

  private ruleActive(now: number): Move | undefined {
    if (this.cannotServe()) return { to: 'FAULT', reason: this.faultReason() };
    const peer = this.peer;
    const hb = peer?.heartbeat;
    if (!peer || !hb || !this.peerAlive(now)) return undefined;
    if (hb.role === 'ACTIVE') return this.resolveSplitBrain(hb, now);
    // A term above ours means the peer claimed after us (it could not hear us,
    // then yielded or failed): clients may have followed its announcement.
    if (peer.proven && hb.term > this.term) {
      this.log(
        'warn',
        'role.peer-claimed',
        `the peer claimed while this node was active (its term ${hb.term}, ours ${this.term}): announcing again`,
        {
          term: this.term,
          peerTerm: hb.term,
        },
      );
      this.announceSurvivor(hb.term, 'peer-claimed-meanwhile');
    }
    if (this.splitBrain) {
      // The peer let go (it may have yielded before we saw it hear us).
      if (!this.splitBrain.announced) this.announceSurvivor(hb.term, 'split-brain-survivor');
      this.splitBrain = undefined;
      this.log('info', 'role.split-brain-resolved', `split brain resolved: the peer is ${hb.role}`);
    }
    const request = this.newPeerRequest('takeover');
    if (!request) return undefined;
    peer.handledRequestId = request.id;
    const unable = this.peerCannotTakeOver(now);
    if (unable) {
      this.log('warn', 'takeover.refused', `the peer asked for the active role (${request.reason}) but ${unable.message}`, {
        code: unable.code,
      });
    } else {
      this.handOver(request.reason, 'BACKUP', now);
    }
    return undefined;
  }

  /**
   * Both nodes are ACTIVE. Both pick the same survivor from what both know (the
   * terms, then preference), but each acts only on a heartbeat of the peer that
   * has seen our ACTIVE state: one sent before (delayed across the heal) may show
   * a peer that has since yielded, and yielding to it too would leave nobody.
   */
  private resolveSplitBrain(peerHeartbeat: Heartbeat, now: number): Move | undefined {
    const survivor = this.config.preempt || this.term === peerHeartbeat.term ? this.isPreferred() : this.term > peerHeartbeat.term;
    if (!this.splitBrain) {
      this.splitBrain = { since: now, announced: false };
      this.log(
        'warn',
        'role.split-brain',
        `split brain: both nodes are ACTIVE (our term ${this.term}, the peer's ${peerHeartbeat.term}); this node ${survivor ? 'stays active' : 'yields'}`,
        {
          term: this.term,
          peerTerm: peerHeartbeat.term,
          survivor: survivor ? this.config.self.name : this.config.peer?.name,
        },
      );
    }
    if (!this.peerAcknowledgesUs()) {
      // The peer does not hear us, so it cannot yield to us: the side that hears
      // yields to the deaf one, after a grace that outlasts the skew of a heal
      // (one direction often comes back later, e.g. behind neighbour resolution).
      return now >= this.splitBrain.since + this.splitBrainDeafGrace() ? { to: 'BACKUP', reason: 'split-brain-yield' } : undefined;
    }
    if (!survivor) return { to: 'BACKUP', reason: 'split-brain-yield' };
    // The loser hears us and yields on this heartbeat: only now are the clients
    // moved to us, never to a node that might still yield.
    if (!this.splitBrain.announced) this.announceSurvivor(peerHeartbeat.term, 'split-brain-survivor');
    return undefined;
  }

  /** Announces our addresses again with a term above both, the newest claim whichever rule picked it. */
  private announceSurvivor(peerTerm: number, reason: AnnounceReason): void {
    if (this.splitBrain) this.splitBrain.announced = true;
    this.term = Math.max(this.term, peerTerm) + 1;
    this.actions.push({ type: 'announce', reason });
    this.sendNow = true;
  }

  private splitBrainDeafGrace(): number {
    return Math.max(this.config.deadtime, splitBrainDeafGraceMs);
  }

  private ruleFault(now: number): Move | undefined {
    if (!this.health.canServe) return undefined;
    if (this.claimFailedAt === undefined) return { to: 'BACKUP', reason: 'health-restored' };
    // Retry only when no peer can take the role: otherwise the peer serves and an
    // operator looks at why claiming failed (resume clears it).
    if (now < this.claimFailedAt + this.config.deadtime || (this.peerAlive(now) && !this.peerUnable())) return undefined;
    this.claimFailedAt = undefined;
    return { to: 'BACKUP', reason: 'claim-retry' };
  }

  /** Keeps telling the peer until it has taken over (or cannot, or deadtime passed). */
  private ruleStopped(now: number): void {
    const alive = this.peerAlive(now);
    const peerTookOver = alive && this.peer?.heartbeat?.role === 'ACTIVE';
    const over = peerTookOver || !alive || this.peerUnable() || now >= this.since + this.config.deadtime;
    if (over && !this.kept) this.stopDone = true;
  }

  private resolvePending(now: number): void {
    const pending = this.pending;
    if (!pending) return;
    const alive = this.peerAlive(now);
    const timedOut = now >= pending.since + this.config.deadtime;
    const took = `after ${Math.round(now - pending.since)} ms`;
    if (pending.kind === 'handover') {
      this.resolveHandover(pending, alive, timedOut, took, now);
    } else if (this.role === 'ACTIVE') {
      this.finishPending(pending, true, undefined, `this node is ACTIVE ${took}`);
    } else if (this.role !== 'BACKUP') {
      this.finishPending(pending, false, 'cancelled', `this node became ${this.role}`);
    } else if (timedOut) {
      this.finishPending(pending, false, 'timeout', `the peer did not hand over within ${this.config.deadtime} ms`);
      // The active node may be busy with another handover: ask again later, not every deadtime.
      if (pending.reason === 'preempt') this.preemptNotBefore = now + preemptRetryDeadtimes * this.config.deadtime;
    }
  }

  /**
   * A peer that heard our request may claim at any moment, so timing out alone must not
   * make us claim again (both would be ACTIVE). At the timeout we stop asking; the role
   * comes back to us only once the peer, still not ACTIVE, acknowledges a heartbeat of
   * ours without the request: it applies heartbeats in order, so it can no longer act.
   */
  private resolveHandover(
    pending: Extract<Pending, { kind: 'handover' }>,
    alive: boolean,
    timedOut: boolean,
    took: string,
    now: number,
  ): void {
    if (alive && this.peer?.heartbeat?.role === 'ACTIVE') {
      this.finishPending(pending, true, undefined, `the peer is ACTIVE ${took}`);
      return;
    }
    if (timedOut && alive && !pending.withdrawn) {
      this.stateVersion += 1;
      pending.withdrawn = { at: now, version: this.stateVersion };
      this.sendNow = true;
    }
    const failure = this.handoverFailure(pending, alive, now);
    if (!failure) return;
    this.finishPending(pending, false, alive && !timedOut ? 'peer-cannot-serve' : 'timeout', `${failure}; this node takes the role back`);
    if (this.role === 'BACKUP' || this.role === 'STANDBY') this.transition('ACTIVE', 'handover-failed', now);
  }

  /** Why the peer will not claim after our handover, if it will not. */
  private handoverFailure(pending: Extract<Pending, { kind: 'handover' }>, alive: boolean, now: number): string | undefined {
    const peer = this.peer;
    const hb = peer?.heartbeat;
    if (!alive) return 'the peer went silent';
    // Only a proven peer's word ends it early; an unproven one is waited out.
    if (hb && peer.proven && this.peerUnable()) return `the peer became ${hb.role}${hb.health.canServe ? '' : ' and cannot serve'}`;
    const withdrawn = pending.withdrawn;
    if (!withdrawn) return undefined;
    const acknowledged = !!peer?.proven && peer.echoesUs && (hb?.peerStateVersion ?? 0) >= withdrawn.version;
    // A peer that hears us not at all for a deadtime claims by itself: we would see it ACTIVE.
    if (acknowledged || now >= withdrawn.at + this.config.deadtime)
      return `the peer did not claim within ${Math.round(now - pending.since)} ms`;
    return undefined;
  }

  /** Releases the addresses kept after a handover or stop once the peer holds them (or cannot take them). */
  private letGo(now: number): void {
    const kept = this.kept;
    if (!kept) return;
    const alive = this.peerAlive(now);
    const hb = this.peer?.heartbeat;
    if (alive && hb?.role === 'ACTIVE') {
      kept.peerActiveAt ??= now;
      if (hb.claimedTerm === hb.term) kept.peerClaimedAt ??= now;
      if (now < this.keptUntil(kept)) return;
    } else if (alive && !this.peerUnable() && (now < kept.since + this.config.deadtime || this.pending?.kind === 'handover')) {
      return;
    }
    this.releaseKept();
  }

  /**
   * Until when kept addresses stay while the peer is ACTIVE: a grace after its claim is
   * done, since its ACTIVE heartbeat leaves before the claim and clients follow only its
   * announcement; a deadtime for a peer that never says so (an older version).
   */
  private keptUntil(kept: NonNullable<typeof this.kept>): number {
    if (kept.peerClaimedAt !== undefined) return kept.peerClaimedAt + this.releaseGrace(kept.reason);
    return (kept.peerActiveAt ?? kept.since) + this.config.deadtime;
  }

  private releaseKept(): void {
    if (!this.kept) return;
    this.actions.push({ type: 'release', reason: this.kept.reason });
    this.kept = undefined;
  }

  /** A stopping node lets go as soon as the peer holds the addresses: its exit does not wait. */
  private releaseGrace(reason: TransitionReason): number {
    return reason === 'shutdown' ? 0 : Math.min(this.config.keepalive, releaseGraceMs);
  }

  private trackPeerLiveness(now: number, judgeSilence: boolean): void {
    const peer = this.peer;
    if (!peer) return;
    peer.lastHeard.forEach((at, path) => {
      if (judgeSilence && peer.pathUp[path] && at !== undefined && now >= at + this.config.deadtime) {
        peer.pathUp[path] = false;
        this.log('warn', 'path.down', `heartbeat path ${path} is silent for ${Math.round(now - at)} ms`, {
          path,
          silentMs: Math.round(now - at),
        });
      }
    });
    const alive = this.peerAlive(now);
    if (alive !== peer.alive && (alive || judgeSilence)) {
      peer.alive = alive;
      if (alive) this.log('info', 'peer.alive', 'the peer is alive');
      else this.log('warn', 'peer.dead', `the peer is silent for ${Math.round(now - (this.lastHeardAny() ?? now))} ms on every path`);
    }
  }

  // ---- helpers ----

  private transition(to: Role, reason: TransitionReason, now: number): void {
    const from = this.role;
    if (to === 'ACTIVE') {
      this.term = Math.max(this.term, this.peer?.heartbeat?.term ?? 0) + 1;
      this.claimFailedAt = undefined;
    }
    if (to !== 'ACTIVE') this.splitBrain = undefined;
    const lastHeard = this.lastHeardAny();
    const hb = this.peer?.heartbeat;
    const transition: Transition = {
      from,
      to,
      reason,
      term: this.term,
      at: now,
      ...(this.config.peer && { peer: { name: this.config.peer.name, ...(hb && { role: hb.role, term: hb.term }) } }),
      timings: {
        inPreviousRoleMs: Math.round(now - this.since),
        ...(lastHeard !== undefined && { peerSilentMs: Math.round(now - lastHeard) }),
      },
    };
    if (to === 'BACKUP') this.mayPreempt = from === 'INIT' || from === 'FAULT' || from === 'STANDBY';
    this.role = to;
    this.stateVersion += 1;
    this.since = now;
    this.lastTransition = transition;
    this.actions.push({ type: 'roleChanged', transition });
    if (to === 'ACTIVE') {
      // Taking the role back while still holding the addresses: the claim re-asserts them.
      this.kept = undefined;
      this.actions.push({ type: 'claim', term: this.term, reason });
    } else {
      this.releaseKept();
    }
    if (from === 'ACTIVE') {
      if (this.makesBeforeBreak(reason, now)) this.kept = { since: now, reason };
      else this.actions.push({ type: 'release', reason });
    }
    this.updateSyncRole();
    this.actions.push({ type: 'runHooks', transition });
    this.sendNow = true;
  }

  /** A planned move to a peer that can take over: keep the addresses until it holds them. */
  private makesBeforeBreak(reason: TransitionReason, now: number): boolean {
    const planned = reason === 'shutdown' || handoverReasons.some((r) => r === reason);
    return planned && this.peerAlive(now) && !this.peerUnable();
  }

  private updateSyncRole(): void {
    const role: SyncRole = this.role === 'ACTIVE' ? 'master' : this.role === 'STOPPED' ? 'none' : 'backup';
    if (role === this.syncRole) return;
    this.syncRole = role;
    this.actions.push({ type: 'setSyncRole', role });
  }

  private sendHeartbeat(now: number): void {
    this.updateSyncRole();
    this.actions.push({ type: 'sendHeartbeat', heartbeat: this.heartbeat(now) });
    this.nextHeartbeatAt = now + this.config.keepalive;
  }

  private heartbeat(now: number): Heartbeat {
    const pending = this.pending;
    const asking = pending && !(pending.kind === 'handover' && pending.withdrawn);
    const request: PeerRequest | undefined = asking ? { kind: pending.kind, id: pending.id, reason: pending.reason } : undefined;
    const peer = this.peer;
    const heartbeat: Heartbeat = {
      role: this.role,
      priority: this.config.self.priority,
      term: this.term,
      serialNo: this.config.serialNo,
      health: this.health,
      peerView: (peer?.lastHeard ?? []).map((at, path) => ({
        path,
        heard: at !== undefined,
        lastSeq: peer?.lastSeq[path] ?? 0,
        silentMs: at === undefined ? 0 : Math.min(0xffff_ffff, Math.round(now - at)),
      })),
      timers: { keepaliveMs: this.config.keepalive, deadtimeMs: this.config.deadtime },
      stateVersion: this.stateVersion,
      peerStateVersion: peer?.stateVersion ?? 0,
      claimedTerm: this.claimedTerm,
    };
    // set afterwards, not spread in: a spread object literal takes V8's slow path, every tick
    if (request) heartbeat.request = request;
    if (this.config.version) heartbeat.version = this.config.version;
    return heartbeat;
  }

  private log(level: LogLevel, event: string, message: string, fields?: Record<string, unknown>): void {
    this.actions.push({ type: 'log', level, event, message, ...(fields && { fields }) });
  }

  private lastHeardAny(): number | undefined {
    let last: number | undefined;
    for (const at of this.peer?.lastHeard ?? []) if (at !== undefined && (last === undefined || at > last)) last = at;
    return last;
  }

  private peerAlive(now: number): boolean {
    const lastHeard = this.lastHeardAny();
    const silent = lastHeard !== undefined && now >= lastHeard + this.config.deadtime && now >= this.stallGraceUntil;
    return lastHeard !== undefined && !silent && this.peer?.heartbeat !== undefined;
  }

  /**
   * Woken much later than we asked (this process was not running: CPU starved,
   * stopped), we cannot tell the peer's silence from our own: what it sent may
   * still be on its way, or it starved with us. It gets a keepalive to be heard
   * before it counts as dead, once per silence: stalling again does not extend it.
   */
  private noticeStall(now: number, lateMs: number): void {
    const { keepalive } = this.config;
    const lastHeard = this.lastHeardAny();
    if (lateMs <= keepalive / 2 || lastHeard === undefined) return;
    if (this.stallGraceAfter === lastHeard) return;
    this.stallGraceAfter = lastHeard;
    this.stallGraceUntil = now + keepalive;
  }

  /** The peer's state (as last heard) rules it out as the active node. */
  private peerUnable(): boolean {
    const hb = this.peer?.heartbeat;
    return !!hb && (hb.role === 'FAULT' || hb.role === 'STANDBY' || hb.role === 'STOPPED' || !hb.health.canServe);
  }

  /**
   * The peer's last heartbeat was sent knowing our current state, so it is not
   * about to act on an older one. A peer that stays silent about it for `patience`
   * (deadtime unless said) cannot hear us; then we act on what we know.
   */
  private peerKnowsOurState(now: number, patience = this.config.deadtime): boolean {
    const peer = this.peer;
    const acknowledged = !!peer?.echoesUs && peer.heartbeat?.peerStateVersion === this.stateVersion;
    return acknowledged || (!!peer?.proven && now >= this.since + patience);
  }

  /**
   * How long to wait for the acknowledgement of an able backup before electing ourselves
   * without it. A peer that cannot hear us judges us dead after its deadtime and claims by
   * itself: were we to claim after the same deadtime, a one-way partition would make both
   * ACTIVE. One more deadtime lets its claim reach us first; an able peer that has not
   * claimed by then is stuck, and we claim. A starting peer (INIT) is not waited for so:
   * it holds nothing, and a quickly restarted active must be replaced at once.
   */
  private claimPatience(): number {
    return 2 * this.config.deadtime;
  }

  /** The peer's last heartbeat was sent knowing our current state: no older view of ours, however long we have held it. */
  private peerAcknowledgesUs(): boolean {
    const peer = this.peer;
    return !!peer?.proven && peer.echoesUs && peer.heartbeat?.peerStateVersion === this.stateVersion;
  }

  /** The peer's last heartbeat says it heard us on some path within deadtime. */
  private peerHearsUs(now: number): boolean {
    const peer = this.peer;
    const hb = peer?.heartbeat;
    // An unproven peer has not heard this boot of ours, whatever a recording says.
    if (!peer?.proven || !hb) return false;
    const age = now - (this.lastHeardAny() ?? now);
    return hb.peerView.some((view) => view.heard && view.silentMs + age < this.config.deadtime);
  }

  /** A handover or takeover request of the peer not acted on yet: only from a proven peer, so never a replayed one. */
  private newPeerRequest(kind: PeerRequest['kind']): PeerRequest | undefined {
    const peer = this.peer;
    const request = peer?.proven ? peer.heartbeat?.request : undefined;
    return request?.kind === kind && request.id !== peer?.handledRequestId ? request : undefined;
  }

  private isPreferred(): boolean {
    return !this.config.peer || preferred(this.config.self, this.config.peer);
  }

  private cannotServe(): boolean {
    return !this.health.canServe || this.claimFailedAt !== undefined;
  }

  private faultReason(): TransitionReason {
    if (this.claimFailedAt !== undefined) return 'claim-failed';
    return this.health.monitorLinks && this.health.links.some((link) => !link.up) ? 'link-down' : 'health';
  }
}
