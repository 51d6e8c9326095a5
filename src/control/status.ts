// What `tandem status` shows, as data: the control socket's JSON.
import type { HealthSummary, RejectCounters, Role, TransitionReason } from '../cluster/index.js';
import type { BalancerStatus, ServiceList, ServiceStatus } from '../ipvs/index.js';
import type { CounterSnapshot } from '../lib/counters.js';
import type { LinkState } from '../net/index.js';
import type { SyncStatus } from '../sync/index.js';

/** One role change as logged (event role.change) and as listed in status: the same fields. */
export interface TransitionRecord {
  at: string;
  from: Role;
  to: Role;
  reason: TransitionReason;
  term: number;
  peer?: string;
  peerRole?: Role;
  peerTerm?: number;
  inPreviousRoleMs: number;
  peerSilentMs?: number;
}

export interface PathStatus {
  index: number;
  local: string;
  remote: string;
  up: boolean;
  lastHeardMsAgo?: number;
  /** The peer's view of this path, from its last heartbeat. */
  peerHearsUs?: { heard: boolean; silentMs: number };
  sent: number;
  sendErrors: number;
  /** Accepted datagrams whose handling failed on an internal error; absent when none. */
  receiveErrors?: number;
  accepted: number;
  rejected: Partial<RejectCounters>;
}

/** The host side of the role: what this node holds, announces and watches. */
export interface ControllerStatus {
  /** The addresses this node holds now (none unless active), where, and what for. */
  addresses: Array<{ address: string; prefix: number; device: string; label?: string; purpose: string }>;
  /** Addresses the last claim or reload could not place, and why. */
  failedAddresses: Array<{ address: string; reason: string }>;
  announcements: { framesSent: number; framesFailed: number; lastMsAgo?: number };
  /** Undefined when monitor_links is off. */
  links?: LinkState[];
  hooks: { pending: number };
}

/** `Services` as in BalancerStatus: the daemon holds a ServiceList, its client reads an array. */
export interface DaemonStatus<Services extends ServiceList = ServiceStatus[]> {
  node: string;
  cluster: string;
  /** Absent from a daemon older than the CLI asking (during an upgrade). */
  version?: string;
  pid: number;
  startedAt: string;
  role: Role;
  term: number;
  since: string;
  inRoleMs: number;
  lastTransition?: TransitionRecord;
  health: HealthSummary;
  pending?: { kind: 'handover' | 'takeover'; reason: string; sinceMs: number };
  splitBrainSinceMs?: number;
  peer?: {
    name: string;
    alive: boolean;
    role?: Role;
    term?: number;
    priority?: number;
    /** As the peer's heartbeats say; absent from an older peer. */
    version?: string;
    bootId?: string;
    lastHeardMsAgo?: number;
    health?: HealthSummary;
    timers?: { keepaliveMs: number; deadtimeMs: number };
    paths: PathStatus[];
  };
  config: { serialNo: number; peerSerialNo?: number; serialMismatch: boolean };
  timers: { keepalive: number; deadtime: number; warntime: number; initdead: number };
  packets: { sent: number; accepted: number; rejected: RejectCounters };
  /** How late this node's own timer fired (event loop blocked, GC, CPU starvation). */
  timerLateness: { lastMs: number; maxMs: number; overWarntime: number };
  /** How long the event loop was blocked (sampled every 10 ms, so shorter blocks read as about 10 ms). */
  eventLoopDelay: { p99Ms: number; maxMs: number };
  /** Garbage collection pauses of the daemon so far. */
  gcPauses: { count: number; totalMs: number; maxMs: number };
  /** Recent role changes, oldest first. */
  transitions: TransitionRecord[];
  host: ControllerStatus;
  /** The IPVS table with the health of each real server, the sync daemon. */
  ipvs?: BalancerStatus<Services>;
  /** Connection sync per kind; absent without a peer or from an older daemon. */
  sync?: SyncStatus;
  /** Every counter since the daemon started (src/lib/stats.ts); absent from an older daemon. */
  counters?: CounterSnapshot[];
}
