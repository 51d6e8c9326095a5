// What `tandem status` shows, as data (the control socket's JSON) and as text.
import type { HealthSummary, RejectCounters, Role, Transition, TransitionReason } from '../cluster/index.js';
import type { LinkState } from '../net/index.js';
import { formatBalancerStatus } from './balancer-status.js';
import type { BalancerStatus } from './balancer.js';
import type { OperatorOutcome, ReloadOutcome } from './control.js';

/** Monotonic ms (performance.now()) as a wall-clock time. */
export const wallClock = (monotonic: number): Date => new Date(performance.timeOrigin + monotonic);

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

export function transitionRecord(transition: Transition, at: Date): TransitionRecord {
  const { from, to, reason, term, peer, timings } = transition;
  return {
    at: at.toISOString(),
    from,
    to,
    reason,
    term,
    ...(peer && { peer: peer.name }),
    ...(peer?.role && { peerRole: peer.role }),
    ...(peer?.term !== undefined && { peerTerm: peer.term }),
    inPreviousRoleMs: timings.inPreviousRoleMs,
    ...(timings.peerSilentMs !== undefined && { peerSilentMs: timings.peerSilentMs }),
  };
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

export interface DaemonStatus {
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
  ipvs?: BalancerStatus;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

function counts(rejected: Partial<RejectCounters>): string {
  const entries = Object.entries(rejected).filter(([, n]) => n);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return total === 0 ? 'rejected 0' : `rejected ${total} (${entries.map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
}

function health(h: HealthSummary): string {
  return h.canServe ? 'ok' : `cannot serve${h.fault ? `: ${h.fault}` : ''}`;
}

export function formatStatus(s: DaemonStatus): string {
  const lines: string[] = [];
  const reason = s.lastTransition ? `, reason ${s.lastTransition.reason}` : '';
  lines.push(
    `${s.node} (cluster ${s.cluster}${s.version ? `, tandem ${s.version}` : ''}): ${s.role}, term ${s.term}, since ${s.since} (${formatDuration(s.inRoleMs)})${reason}`,
  );
  lines.push(`  health: ${health(s.health)}`);
  if (s.pending) lines.push(`  ${s.pending.kind} in progress (${s.pending.reason}) for ${formatDuration(s.pending.sinceMs)}`);
  if (s.splitBrainSinceMs !== undefined) lines.push(`  SPLIT BRAIN: both nodes ACTIVE for ${formatDuration(s.splitBrainSinceMs)}`);
  lines.push(...formatHost(s.host));
  const peer = s.peer;
  if (!peer) {
    lines.push('peer: none (standalone)');
  } else {
    const heard = peer.lastHeardMsAgo === undefined ? 'never heard' : `heard ${formatDuration(peer.lastHeardMsAgo)} ago`;
    const state = peer.role
      ? `${peer.alive ? peer.role : `${peer.role} (as last heard)`}, term ${peer.term}, priority ${peer.priority}`
      : 'unknown';
    lines.push(
      `peer ${peer.name}${peer.version ? ` (tandem ${peer.version})` : ''}: ${peer.alive ? '' : 'SILENT, '}${state}, ${heard}${peer.health && !peer.health.canServe ? `, ${health(peer.health)}` : ''}`,
    );
    for (const p of peer.paths) {
      const when =
        p.lastHeardMsAgo === undefined
          ? 'never heard'
          : p.up
            ? `heard ${formatDuration(p.lastHeardMsAgo)} ago`
            : `silent ${formatDuration(p.lastHeardMsAgo)}`;
      const theirs =
        p.peerHearsUs && !(p.peerHearsUs.heard && p.peerHearsUs.silentMs < s.timers.deadtime) ? ', the peer does not hear us here' : '';
      lines.push(
        `  path ${p.index} ${p.local} -> ${p.remote}: ${p.up ? 'up' : 'DOWN'}, ${when}${theirs}; sent ${p.sent}${p.sendErrors ? ` (${p.sendErrors} failed)` : ''}, accepted ${p.accepted}, ${counts(p.rejected)}`,
      );
    }
  }
  lines.push(`config serial ${s.config.serialNo}${s.config.peerSerialNo !== undefined ? `, peer ${s.config.peerSerialNo}` : ''}`);
  if (s.config.serialMismatch)
    lines.push(
      `  WARNING: the nodes run different configurations (serial ${s.config.serialNo} here, ${s.config.peerSerialNo} on the peer)`,
    );
  const t = s.timers;
  lines.push(`timers: keepalive ${t.keepalive} ms, deadtime ${t.deadtime} ms, warntime ${t.warntime} ms, initdead ${t.initdead} ms`);
  if (peer?.timers && (peer.timers.keepaliveMs !== t.keepalive || peer.timers.deadtimeMs !== t.deadtime)) {
    lines.push(`  WARNING: the peer uses keepalive ${peer.timers.keepaliveMs} ms, deadtime ${peer.timers.deadtimeMs} ms`);
  }
  lines.push(`packets: sent ${s.packets.sent}, accepted ${s.packets.accepted}, ${counts(s.packets.rejected)}`);
  lines.push(
    `own timer lateness: last ${s.timerLateness.lastMs.toFixed(1)} ms, max ${s.timerLateness.maxMs.toFixed(1)} ms, ${s.timerLateness.overWarntime} times over warntime`,
  );
  lines.push(
    `event loop delay: p99 ${s.eventLoopDelay.p99Ms.toFixed(1)} ms, max ${s.eventLoopDelay.maxMs.toFixed(1)} ms; garbage collection: ${s.gcPauses.count} pauses, longest ${s.gcPauses.maxMs.toFixed(1)} ms`,
  );
  if (s.transitions.length > 0) {
    lines.push('recent transitions:');
    for (const r of s.transitions) lines.push(`  ${r.at}  ${r.from} -> ${r.to}  ${r.reason}  term ${r.term}`);
  }
  if (s.ipvs) lines.push(...formatBalancerStatus(s.ipvs));
  return lines.join('\n');
}

function formatHost(h: ControllerStatus): string[] {
  const lines = [h.addresses.length === 0 ? 'addresses: none held' : 'addresses held:'];
  for (const a of h.addresses)
    lines.push(`  ${a.address}/${a.prefix} on ${a.device}${a.label && a.label !== a.device ? ` as ${a.label}` : ''} (${a.purpose})`);
  for (const f of h.failedAddresses) lines.push(`  FAILED ${f.address}: ${f.reason}`);
  const last = h.announcements.lastMsAgo === undefined ? '' : `, last ${formatDuration(h.announcements.lastMsAgo)} ago`;
  lines.push(
    `announcements: ${h.announcements.framesSent} frames sent${h.announcements.framesFailed ? `, ${h.announcements.framesFailed} failed` : ''}${last}`,
  );
  lines.push(
    `monitored links: ${h.links ? h.links.map((l) => (l.up ? `${l.device} up` : `${l.device} DOWN (${l.condition})`)).join(', ') : 'none'}`,
  );
  if (h.hooks.pending > 0) lines.push(`hooks: ${h.hooks.pending} queued or running`);
  return lines;
}

export function formatOutcome(command: string, outcome: OperatorOutcome): string {
  const verdict = outcome.ok ? 'done' : `refused (${outcome.code ?? 'failed'})`;
  return `${command}: ${verdict}: ${outcome.message} [now ${outcome.role}, ${formatDuration(outcome.durationMs)}]`;
}

export function formatReload(outcome: ReloadOutcome): string {
  const verdict = outcome.ok ? 'done' : `refused (${outcome.code ?? 'failed'})`;
  const lines = [`reload: ${verdict}: ${outcome.message} [serial ${outcome.serialNo}, ${formatDuration(outcome.durationMs)}]`];
  for (const change of outcome.changes) lines.push(`  ${change}`);
  return lines.join('\n');
}
