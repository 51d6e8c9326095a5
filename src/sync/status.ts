// What `tandem status` and `tandem conns` show of connection sync, as data. Pure.
import { rejectReasons, type ChannelPath, type RejectCounters } from '../cluster/index.js';
import type { SyncStats } from '../lib/stats.js';
import type { ReceiverStatus } from './receiver.js';
import type { SenderStatus } from './sender.js';
import type { SyncKind } from './table.js';

export interface SyncKindStatus {
  kind: SyncKind;
  commitPolicy: 'on-takeover' | 'write-through';
  /** sending: this node is active and streams its table; receiving: it keeps the peer's. */
  role: 'sending' | 'receiving';
  /** receiving: caught up with the active; sending: the peer acknowledged the bulk resync's end. */
  synced: boolean;
  /** Entries held for the peer's table (receiving). */
  entriesWarm: number;
  /** receiving: messages the active sent that are not applied here; sending: messages not acknowledged and entries waiting. */
  lag: number;
  /** Since the last message of the peer's stream (receiving) or feedback of the peer (sending). */
  lastMessageAgeMs?: number;
  epoch?: number;
  /** Sending: the bulk resync is still reading the table. */
  dumping?: boolean;
  sent: number;
  received: number;
  resends: number;
  nacks: number;
  resyncs: number;
  /** Entries of authentic datagrams that did not decode. */
  rejectedRecords: number;
  cacheDropped: number;
  lastCommit?: { entries: number; failed: number; durationMs: number; agoMs: number; firstError?: string };
}

export interface SyncStatus {
  peer: string;
  port: number;
  path: ChannelPath;
  /** Every kind's receiving side caught up: what lets this node take the role back. */
  synced: boolean;
  /** The sync channel's datagrams; `rejected` by reason (bad-mac: forged, replay: a copy). */
  datagrams: { sent: number; accepted: number; rejected: Partial<RejectCounters> };
  kinds: SyncKindStatus[];
}

/** One kind's machines and last commit, as the driver holds them. */
export interface KindFigures {
  kind: SyncKind;
  commitPolicy: 'on-takeover' | 'write-through';
  sending: boolean;
  sender: SenderStatus;
  receiver: ReceiverStatus;
  lastCommit?: { entries: number; failed: number; durationMs: number; at: number; firstError?: string };
}

export interface SyncStatusSources {
  now: number;
  peer: string;
  port: number;
  path: ChannelPath;
  kinds: KindFigures[];
  stats: SyncStats;
}

export function syncStatusOf({ now, peer, port, path, kinds, stats }: SyncStatusSources): SyncStatus {
  const rejected: Partial<RejectCounters> = {};
  for (const reason of rejectReasons) {
    const count = stats.channel.rejected.sum({ reason });
    if (count > 0) rejected[reason] = count;
  }
  return {
    peer,
    port,
    path,
    synced: kinds.every((figures) => figures.receiver.synced),
    datagrams: { sent: stats.channel.sent.sum(), accepted: stats.channel.accepted.sum(), rejected },
    kinds: kinds.map((figures) => kindStatus(now, figures, stats)),
  };
}

function kindStatus(
  now: number,
  { kind, commitPolicy, sending, sender, receiver, lastCommit }: KindFigures,
  stats: SyncStats,
): SyncKindStatus {
  const heardAt = sending ? sender.lastFeedbackAt : receiver.lastHeardAt;
  const epoch = sending ? sender.epoch : receiver.stream?.epoch;
  return {
    kind,
    commitPolicy,
    role: sending ? 'sending' : 'receiving',
    synced: sending ? sender.peerSynced : receiver.synced,
    entriesWarm: receiver.entries,
    lag: sending ? sender.unacknowledged + sender.backlog : receiver.lag,
    ...(heardAt !== undefined && { lastMessageAgeMs: Math.round(now - heardAt) }),
    ...(epoch !== undefined && { epoch }),
    ...(sending && { dumping: sender.dumping }),
    sent: stats.recordsSent.value({ kind }),
    received: stats.recordsReceived.value({ kind }),
    resends: stats.resends.value({ kind }),
    nacks: stats.nacks.sum({ kind }),
    resyncs: stats.resyncs.sum({ kind }),
    rejectedRecords: stats.recordsRejected.value({ kind }),
    cacheDropped: stats.cacheDropped.value({ kind }),
    ...(lastCommit && {
      lastCommit: {
        entries: lastCommit.entries,
        failed: lastCommit.failed,
        durationMs: lastCommit.durationMs,
        agoMs: Math.round(now - lastCommit.at),
        ...(lastCommit.firstError !== undefined && { firstError: lastCommit.firstError }),
      },
    }),
  };
}

/** `tandem conns`: what the caches hold (the peer's entries on a backup). */
export interface ConnsListing {
  role: 'sending' | 'receiving';
  kinds: Array<{
    kind: SyncKind;
    synced: boolean;
    total: number;
    /** Only the first entries are listed. */
    truncated: boolean;
    entries: Array<{ key: string; expiresInMs: number }>;
  }>;
}
