// What `tandem status`, the operator commands and `tandem reload` print. Pure.
import type { HealthSummary, RejectCounters } from '../cluster/index.js';
import type { ConnsListing, SyncStatus } from '../sync/index.js';
import { formatDuration } from '../lib/duration.js';
import { formatBalancerStatus } from './balancer-format.js';
import type { OperatorOutcome, ReloadOutcome } from './protocol.js';
import type { ControllerStatus, DaemonStatus } from './status.js';

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
  lines.push(`${s.node} (cluster ${s.cluster}): ${s.role}, term ${s.term}, since ${s.since} (${formatDuration(s.inRoleMs)})${reason}`);
  lines.push(`  health: ${health(s.health)}`);
  if (s.version) lines.push(`  version: tandem ${s.version}`);
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
      `peer ${peer.name}: ${peer.alive ? '' : 'SILENT, '}${state}, ${heard}${peer.health && !peer.health.canServe ? `, ${health(peer.health)}` : ''}`,
    );
    if (peer.version) {
      const differs = s.version !== undefined && peer.version !== s.version ? ' (differs from ours: an upgrade in progress?)' : '';
      lines.push(`  version: tandem ${peer.version}${differs}`);
    }
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
        `  path ${p.index} ${p.local} -> ${p.remote}: ${p.up ? 'up' : 'DOWN'}, ${when}${theirs}; sent ${p.sent}${p.sendErrors ? ` (${p.sendErrors} failed)` : ''}, accepted ${p.accepted}${p.receiveErrors ? ` (${p.receiveErrors} failed in handling)` : ''}, ${counts(p.rejected)}`,
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
  if (s.sync) lines.push(...formatSync(s.sync));
  return lines.join('\n');
}

function formatSync(sync: SyncStatus): string[] {
  const d = sync.datagrams;
  const lines = [
    `connection sync with ${sync.peer} on ${sync.path.local} -> ${sync.path.remote} port ${sync.port}: ${sync.synced ? 'synced' : 'NOT SYNCED'}; ` +
      `datagrams sent ${d.sent}, accepted ${d.accepted}, ${counts(d.rejected)}`,
  ];
  for (const k of sync.kinds) {
    const heard = k.lastMessageAgeMs === undefined ? 'peer never heard' : `last message ${formatDuration(k.lastMessageAgeMs)} ago`;
    const state =
      k.role === 'sending'
        ? k.synced
          ? 'peer synced'
          : k.dumping
            ? 'bulk resync'
            : 'peer catching up'
        : k.synced
          ? 'synced'
          : 'NOT SYNCED';
    lines.push(
      `  ${k.kind} (${k.role}, ${k.commitPolicy}): ${state}, ${k.entriesWarm} entries warm, lag ${k.lag}, ${heard}; ` +
        `sent ${k.sent}, received ${k.received}, resends ${k.resends}, nacks ${k.nacks}, resyncs ${k.resyncs}` +
        (k.rejectedRecords ? `, ${k.rejectedRecords} undecodable` : '') +
        (k.cacheDropped ? `, ${k.cacheDropped} dropped (cache full)` : ''),
    );
    const c = k.lastCommit;
    if (c)
      lines.push(
        `    last commit ${formatDuration(c.agoMs)} ago: ${c.entries} entries in ${c.durationMs} ms${c.failed ? `, ${c.failed} failed (${c.firstError ?? 'unknown error'})` : ''}`,
      );
  }
  return lines;
}

/** `tandem conns`: one line per entry, with its kind and the time it has left. */
export function formatConns(listing: ConnsListing): string {
  const lines: string[] = [];
  for (const k of listing.kinds) {
    lines.push(
      `${k.kind}: ${k.total} entries${k.synced ? '' : ' (not synced)'}${k.truncated ? `, the first ${k.entries.length} listed` : ''}`,
    );
    for (const entry of k.entries) lines.push(`  ${entry.key}  expires in ${formatDuration(Math.max(0, entry.expiresInMs))}`);
  }
  if (listing.kinds.length === 0) lines.push('no connection sync (no peer, or no kind enabled)');
  else if (listing.role === 'sending') lines.push('(this node is active: its own tables are in the kernel, the peer keeps the copy)');
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
