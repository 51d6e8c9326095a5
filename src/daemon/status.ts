// The daemon's status for the control socket, put together from the election's view,
// the counters and what the host and the balancer report. Pure.
import {
  emptyRejectCounters,
  rejectReasons,
  type ChannelPath,
  type ElectionStatus,
  type RejectCounters,
  type Transition,
} from '../cluster/index.js';
import type { Model } from '../config/model.js';
import type { ControllerStatus, DaemonStatus, PathStatus, TransitionRecord } from '../control/index.js';
import type { BalancerStatus, ServiceList } from '../ipvs/index.js';
import type { ChannelStats, Stats } from '../lib/stats.js';
import type { SyncStatus } from '../sync/index.js';
import type { RuntimeStatus } from './runtime-metrics.js';

/** Monotonic ms (performance.now()) as a wall-clock time. */
export const wallClock = (monotonic: number): Date => new Date(performance.timeOrigin + monotonic);

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

export interface StatusSources {
  /** Monotonic ms, the clock of every other time here. */
  now: number;
  startedAt: number;
  pid: number;
  node: string;
  version: string;
  model: Pick<Model, 'cluster' | 'serialNo' | 'heartbeat'>;
  election: ElectionStatus;
  /** The heartbeat paths (none without a peer). */
  paths: readonly ChannelPath[];
  /** The daemon's counters: the heartbeat's per path, and all of them for `counters`. */
  stats: Stats;
  /** Oldest first. */
  transitions: readonly TransitionRecord[];
  runtime: RuntimeStatus;
  host: ControllerStatus;
  ipvs?: BalancerStatus<ServiceList> | undefined;
  sync?: SyncStatus | undefined;
}

/** Datagrams rejected per reason, every reason present (on `path`, or on all of them). */
function rejectedByReason(heartbeat: ChannelStats, path?: number): RejectCounters {
  const counts = emptyRejectCounters();
  for (const reason of rejectReasons) counts[reason] = heartbeat.rejected.sum({ reason, ...(path !== undefined && { path }) });
  return counts;
}

export function daemonStatus(sources: StatusSources): DaemonStatus<ServiceList> {
  const { now: t, election: e, model, paths, transitions } = sources;
  const { heartbeat } = sources.stats;
  const peerPaths: PathStatus[] = paths.map(({ local, remote }, index) => {
    const view = e.peer?.paths[index];
    const receiveErrors = heartbeat.receiveErrors.value({ path: index });
    return {
      index,
      local,
      remote,
      up: view?.up ?? false,
      ...(view?.lastHeard !== undefined && { lastHeardMsAgo: Math.round(t - view.lastHeard) }),
      ...(view?.peerHearsUs && { peerHearsUs: view.peerHearsUs }),
      sent: heartbeat.sent.value({ path: index }),
      sendErrors: heartbeat.sendErrors.value({ path: index }),
      ...(receiveErrors > 0 && { receiveErrors }),
      accepted: heartbeat.accepted.value({ path: index }),
      rejected: Object.fromEntries(Object.entries(rejectedByReason(heartbeat, index)).filter(([, n]) => n > 0)),
    };
  });
  const lastHeard = Math.max(...(e.peer?.paths.map((p) => p.lastHeard ?? -Infinity) ?? []));
  const lastTransition = transitions.at(-1);
  return {
    node: sources.node,
    cluster: model.cluster,
    version: sources.version,
    pid: sources.pid,
    startedAt: wallClock(sources.startedAt).toISOString(),
    role: e.role,
    term: e.term,
    since: wallClock(e.since).toISOString(),
    inRoleMs: Math.round(t - e.since),
    ...(lastTransition && { lastTransition }),
    health: e.health,
    ...(e.pending && { pending: { kind: e.pending.kind, reason: e.pending.reason, sinceMs: Math.round(t - e.pending.since) } }),
    ...(e.splitBrainSince !== undefined && { splitBrainSinceMs: Math.round(t - e.splitBrainSince) }),
    ...(e.peer && {
      peer: {
        name: e.peer.name,
        alive: e.peer.alive,
        ...(e.peer.role && { role: e.peer.role, term: e.peer.term, priority: e.peer.priority }),
        ...(e.peer.bootId && { bootId: e.peer.bootId }),
        ...(e.peer.version && { version: e.peer.version }),
        ...(Number.isFinite(lastHeard) && { lastHeardMsAgo: Math.round(t - lastHeard) }),
        ...(e.peer.health && { health: e.peer.health }),
        ...(e.peer.timers && { timers: e.peer.timers }),
        paths: peerPaths,
      },
    }),
    config: {
      serialNo: model.serialNo,
      ...(e.peer?.serialNo !== undefined && { peerSerialNo: e.peer.serialNo }),
      serialMismatch: e.peer?.serialNo !== undefined && e.peer.serialNo !== model.serialNo,
    },
    timers: model.heartbeat,
    packets: {
      sent: heartbeat.sent.sum(),
      accepted: heartbeat.accepted.sum(),
      rejected: rejectedByReason(heartbeat),
    },
    ...sources.runtime,
    transitions: [...transitions],
    host: sources.host,
    ...(sources.ipvs && { ipvs: sources.ipvs }),
    ...(sources.sync && { sync: sources.sync }),
    counters: sources.stats.registry.snapshot(),
  };
}
