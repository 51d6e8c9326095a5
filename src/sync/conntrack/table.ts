// The conntrack table as the sync engine sees it (SyncedTable): the kernel's entries
// through the injected predicate, so only the flows the pair must keep alive are synced.
import { createStats, type ConntrackStats } from '../../lib/stats.js';
import type { Logger } from '../../log.js';
import type { CommitResult, SyncedTable, TableChange } from '../table.js';
import type { ConntrackEvent } from './frames.js';
import { conntrackKey, type ConntrackEntry } from './entry.js';
import { decodeConntrack, encodeConntrack } from './record.js';

/** What the table needs of the kernel (Ctnetlink, or a fake in tests). */
export interface ConntrackKernel {
  dump(): AsyncIterable<ConntrackEntry[]>;
  /** The entries the kernel holds in this namespace (nf_conntrack_count); undefined when unknown. */
  entryCount(): number | undefined;
  watch(onEvents: (events: ConntrackEvent[]) => void, onLost: (error: Error) => void): () => void;
  commit(entries: readonly ConntrackEntry[]): Promise<CommitResult & { created: number; updated: number }>;
  close(): void;
}

export type ConntrackFilter = (entry: ConntrackEntry) => boolean;

/** enum tcp_conntrack's established state. */
const tcpEstablished = 3;
/** IPS_ASSURED: the kernel saw traffic both ways and keeps the flow (setting it makes an event). */
const statusAssured = 1 << 2;
/** The kernel's default nf_conntrack_tcp_timeout_established: how long an idle established flow lives. */
const establishedLifetimeSeconds = 432_000;

export interface ConntrackTableOptions {
  /** Which flows are synced (true: synced). Applied to dumps and events. */
  filter: ConntrackFilter;
  stats?: ConntrackStats;
  logger?: Logger;
}

export class ConntrackTable implements SyncedTable<ConntrackEntry> {
  readonly kind = 'conntrack';
  readonly commitPolicy = 'on-takeover';
  private readonly filter: ConntrackFilter;
  private readonly stats: ConntrackStats;

  constructor(
    private readonly kernel: ConntrackKernel,
    private readonly options: ConntrackTableOptions,
  ) {
    this.filter = options.filter;
    this.stats = options.stats ?? createStats().conntrack;
  }

  key(entry: ConntrackEntry): string {
    return conntrackKey(entry);
  }

  encode(entry: ConntrackEntry): Uint8Array {
    return encodeConntrack(entry);
  }

  decode(bytes: Uint8Array): ConntrackEntry {
    return decodeConntrack(bytes);
  }

  timeoutMs(entry: ConntrackEntry): number {
    // The kernel refreshes a flow's countdown with each packet and makes no event of it (a
    // busy TCP flow counts down from 300 s, a UDP stream from 120 s): kept by the countdown
    // it had when read, the backup would forget a flow that lives on. An established or
    // assured flow stays until its removal comes as an event (or a resync drops it).
    const lasting = entry.tcp?.state === tcpEstablished || (entry.status & statusAssured) !== 0;
    return (lasting ? Math.max(entry.timeoutSeconds, establishedLifetimeSeconds) : entry.timeoutSeconds) * 1000;
  }

  /**
   * The kernel makes a dump's parts by walking its conntrack hash, shared by every
   * namespace, with softirqs off, until a part is full: with no entry here, all of it at
   * once (11–15 ms of a CPU at 262,144 buckets, nothing else running there). An empty
   * table is not walked; whatever comes after the count was read comes as events.
   */
  async *dump(): AsyncIterable<readonly ConntrackEntry[]> {
    if (this.kernel.entryCount() === 0) {
      this.stats.dumps.inc({ kernel: 'skipped-empty' });
      return;
    }
    this.stats.dumps.inc({ kernel: 'walked' });
    for await (const chunk of this.kernel.dump()) {
      const kept = this.kept(chunk);
      if (kept.length > 0) yield kept;
    }
  }

  watch(onChanges: (changes: readonly TableChange<ConntrackEntry>[]) => void, onLost: () => void): () => void {
    return this.kernel.watch(
      (events) => {
        const changes: TableChange<ConntrackEntry>[] = [];
        for (const { type, entry } of events) {
          this.stats.events.inc({ type });
          if (!this.filter(entry)) {
            this.stats.filtered.inc();
            continue;
          }
          changes.push({ type: type === 'destroy' ? 'remove' : 'upsert', entry });
        }
        if (changes.length > 0) onChanges(changes);
      },
      (error) => {
        this.stats.overruns.inc();
        this.options.logger?.warn(
          { event: 'conntrack.events-lost', err: error },
          'conntrack events were lost; the peer needs a full resync',
        );
        onLost();
      },
    );
  }

  async commit(entries: readonly ConntrackEntry[]): Promise<CommitResult> {
    const { created, updated, failed, written, firstError } = await this.kernel.commit(entries);
    this.stats.committed.add(created, { result: 'created' });
    this.stats.committed.add(updated, { result: 'updated' });
    this.stats.committed.add(failed, { result: 'failed' });
    return { written, failed, ...(firstError !== undefined && { firstError }) };
  }

  close(): void {
    this.kernel.close();
  }

  private kept(chunk: readonly ConntrackEntry[]): ConntrackEntry[] {
    const kept = chunk.filter(this.filter);
    this.stats.filtered.add(chunk.length - kept.length);
    return kept;
  }
}
