// The backup side of one table kind's stream, as a pure state machine: it is fed the
// active's Data and Alive messages (already authenticated, their records decoded) and
// the clock, keeps the external cache, and answers with acknowledgements, NACKs,
// resync requests and, for a write-through kind, the entries to write now.
//
// Messages are applied in sequence order (an entry's removal must not overtake its
// creation); those that arrive early wait, at most `reorderMax` of them, and every gap
// is NACKed (again after `nackRetryMs` while it stays open). A new stream (a new boot
// of the active, or a new epoch) is adopted from its first message on: it begins with
// a bulk resync, so whatever it does not send again is dropped at its end; one first
// heard far past its start is asked for a new resync rather than replayed. The kind is
// synced once the stream's resync ended, little is missing and the stream is heard.
import { ExternalCache, type CachedEntry } from './cache.js';
import type { DataBody, FeedbackBody } from './wire.js';

export interface ReceivedRecord<Entry> {
  remove: boolean;
  key: string;
  entry: Entry;
  /** The lifetime the entry had left when the active captured it. */
  timeoutMs: number;
}

export type ReceivedData<Entry> = Omit<DataBody, 'records'> & { records: ReadonlyArray<ReceivedRecord<Entry>> };

export interface ReceiverConfig {
  commitPolicy: 'on-takeover' | 'write-through';
  cacheMaxEntries: number;
  /** Acknowledge after this many messages applied … */
  ackEvery: number;
  /** … or this long after the first one not yet acknowledged. */
  ackDelayMs: number;
  nackRetryMs: number;
  /** Early messages kept while a gap is repaired; more ask for a resync. */
  reorderMax: number;
  resyncRetryMs: number;
  /** Synced allows at most this many messages not yet applied … */
  syncedLag: number;
  /** … and the stream heard within this long. */
  staleAfterMs: number;
}

export const defaultReceiverConfig: Omit<ReceiverConfig, 'commitPolicy' | 'cacheMaxEntries'> = {
  ackEvery: 32,
  ackDelayMs: 50,
  nackRetryMs: 200,
  reorderMax: 1024,
  resyncRetryMs: 2000,
  syncedLag: 64,
  staleAfterMs: 3000,
};

export type ReceiverEvent<Entry> =
  | { type: 'data'; now: number; stream: string; body: ReceivedData<Entry> }
  | { type: 'alive'; now: number; stream: string; epoch: number; lastSeq: number }
  | { type: 'tick'; now: number };

export type ReceiverCounter = 'received' | 'duplicates' | 'nacks' | 'expired' | 'cache-dropped' | 'stale-dropped';

export type ReceiverAction<Entry> =
  | { type: 'send'; body: FeedbackBody }
  /** Write-through: these entries into the local kernel now. */
  | { type: 'write'; entries: Entry[] }
  | { type: 'count'; counter: ReceiverCounter; amount: number }
  | { type: 'log'; level: 'info' | 'warn'; event: string; message: string; fields?: Record<string, unknown> };

export interface ReceiverStatus {
  /** The active's boot and epoch being followed. */
  stream?: { boot: string; epoch: number };
  synced: boolean;
  resyncDone: boolean;
  entries: number;
  /** Messages the active sent (as far as we know) that are not applied here yet. */
  lag: number;
  lastHeardAt?: number;
}

interface Stream<Entry> {
  boot: string;
  epoch: number;
  /** The next sequence number to apply. */
  expected: number;
  /** The highest sequence number the active is known to have sent. */
  highest: number;
  early: Map<number, ReceivedData<Entry>>;
  resyncDone: boolean;
  ackedUpTo: number;
  unackedSince?: number;
  lastNackAt: number;
  lastNackedTo: number;
  lastResyncRequestAt: number;
}

export class SyncReceiver<Entry> {
  private stream: Stream<Entry> | undefined;
  private readonly cache: ExternalCache<Entry>;
  private lastHeardAt: number | undefined;
  private cacheFullLogged = false;
  private actions: Array<ReceiverAction<Entry>> = [];

  constructor(private readonly config: ReceiverConfig) {
    this.cache = new ExternalCache(config.cacheMaxEntries);
  }

  handle(event: ReceiverEvent<Entry>): Array<ReceiverAction<Entry>> {
    this.actions = [];
    const { now } = event;
    switch (event.type) {
      case 'data': {
        const stream = this.follow(event.stream, event.body.epoch, now);
        if (stream) this.receive(stream, event.body, now);
        break;
      }
      case 'alive': {
        const stream = this.follow(event.stream, event.epoch, now);
        if (stream) {
          stream.highest = Math.max(stream.highest, event.lastSeq);
          // An Alive also repairs lost acknowledgements.
          this.acknowledge(stream);
        }
        break;
      }
      case 'tick':
        break;
    }
    const expired = this.cache.expire(now);
    if (expired > 0) this.count('expired', expired);
    if (this.stream) this.maintain(this.stream, now);
    return this.actions;
  }

  nextWakeAt(now: number): number {
    const deadlines = [this.cache.nextExpiry() ?? Infinity];
    const stream = this.stream;
    if (stream) {
      if (stream.unackedSince !== undefined) deadlines.push(stream.unackedSince + this.config.ackDelayMs);
      if (stream.highest >= stream.expected) deadlines.push(stream.lastNackAt + this.config.nackRetryMs);
      if (this.lastHeardAt !== undefined && this.synced(now)) deadlines.push(this.lastHeardAt + this.config.staleAfterMs + 1);
    }
    return Math.max(now, Math.min(...deadlines));
  }

  synced(now: number): boolean {
    const stream = this.stream;
    return (
      stream !== undefined &&
      stream.resyncDone &&
      stream.highest - (stream.expected - 1) <= this.config.syncedLag &&
      this.lastHeardAt !== undefined &&
      now - this.lastHeardAt <= this.config.staleAfterMs
    );
  }

  status(now: number): ReceiverStatus {
    const stream = this.stream;
    return {
      ...(stream && { stream: { boot: stream.boot, epoch: stream.epoch } }),
      synced: this.synced(now),
      resyncDone: stream?.resyncDone ?? false,
      entries: this.cache.size,
      lag: stream ? Math.max(0, stream.highest - (stream.expected - 1)) : 0,
      ...(this.lastHeardAt !== undefined && { lastHeardAt: this.lastHeardAt }),
    };
  }

  /** Entries cached, expired ones included: none, and a commit has nothing to write. */
  get held(): number {
    return this.cache.size;
  }

  /** The cached entries not expired at `now`. */
  entries(now: number): Array<CachedEntry<Entry>> {
    return this.cache.entries(now);
  }

  /**
   * Takes the cache out for a commit into the local kernel (this node became
   * active): the entries not expired, in batches. The kind is no longer synced: the
   * peer that becomes backup gets its own stream.
   */
  takeForCommit(now: number, batchSize: number): Entry[][] {
    this.cache.expire(now);
    const batches = commitBatches(
      this.cache.entries(now).map(({ entry }) => entry),
      batchSize,
    );
    this.cache.clear();
    this.stream = undefined;
    return batches;
  }

  /** Adopts a new stream; undefined for a message of a stream older than the one followed. */
  private follow(boot: string, epoch: number, now: number): Stream<Entry> | undefined {
    const current = this.stream;
    this.lastHeardAt = now;
    if (current && current.boot === boot && epoch <= current.epoch) return epoch === current.epoch ? current : undefined;
    this.stream = {
      boot,
      epoch,
      expected: 1,
      highest: 0,
      early: new Map(),
      resyncDone: false,
      ackedUpTo: 0,
      lastNackAt: -Infinity,
      lastNackedTo: 0,
      lastResyncRequestAt: -Infinity,
    };
    this.log('info', 'sync.stream', `following the peer's stream ${epoch} (boot ${boot.slice(0, 8)}…)`, { boot, epoch });
    return this.stream;
  }

  private receive(stream: Stream<Entry>, body: ReceivedData<Entry>, now: number): void {
    stream.highest = Math.max(stream.highest, body.seq);
    if (body.seq < stream.expected || stream.early.has(body.seq)) {
      this.count('duplicates', 1);
      // Our acknowledgement may be what was lost.
      stream.unackedSince ??= now;
      return;
    }
    if (body.seq > stream.expected) {
      if (stream.early.size >= this.config.reorderMax) {
        this.requestResync(stream, now, 'warn', `too many messages of stream ${stream.epoch} are missing: asking the peer for a resync`);
        return;
      }
      stream.early.set(body.seq, body);
      return;
    }
    this.apply(body, now);
    stream.expected += 1;
    for (let next = stream.early.get(stream.expected); next; next = stream.early.get(stream.expected)) {
      stream.early.delete(stream.expected);
      this.apply(next, now);
      stream.expected += 1;
    }
    stream.unackedSince ??= now;
    if (stream.expected - 1 - stream.ackedUpTo >= this.config.ackEvery) this.acknowledge(stream);
  }

  private apply(body: ReceivedData<Entry>, now: number): void {
    const stream = this.stream;
    if (!stream) return;
    if (body.resyncBegin) {
      this.cache.markStale();
      stream.resyncDone = false;
    }
    const written: Entry[] = [];
    for (const record of body.records) {
      if (record.remove) {
        this.cache.delete(record.key);
      } else if (this.cache.put(record.key, record.entry, now + record.timeoutMs) === 'full') {
        this.count('cache-dropped', 1);
        this.cacheFull();
      } else if (this.config.commitPolicy === 'write-through') {
        written.push(record.entry);
      }
    }
    this.count('received', body.records.length);
    if (written.length > 0) this.actions.push({ type: 'write', entries: written });
    if (body.resyncEnd) {
      const dropped = this.cache.dropStale();
      if (dropped > 0) this.count('stale-dropped', dropped);
      stream.resyncDone = true;
      this.log('info', 'sync.resynced', `bulk resync of stream ${stream.epoch} done: ${this.cache.size} entries`, {
        epoch: stream.epoch,
        entries: this.cache.size,
        staleDropped: dropped,
      });
    }
    if (this.cacheFullLogged && this.cache.size < this.config.cacheMaxEntries * 0.9) this.cacheFullLogged = false;
  }

  private cacheFull(): void {
    if (this.cacheFullLogged) return;
    this.cacheFullLogged = true;
    this.log(
      'warn',
      'sync.cache-full',
      `the sync cache holds ${this.cache.size} entries, its maximum: new entries are dropped until some expire or are removed`,
      { entries: this.cache.size, max: this.config.cacheMaxEntries },
    );
  }

  /**
   * Acknowledgements due, gaps to NACK: a gap at once when it opens, every gap again
   * each `nackRetryMs` while it stays open (a reordered message is NACKed once at most).
   */
  private maintain(stream: Stream<Entry>, now: number): void {
    if (stream.unackedSince !== undefined && now >= stream.unackedSince + this.config.ackDelayMs) this.acknowledge(stream);
    if (stream.highest < stream.expected) return;
    // Joined far past the stream's start (this node restarted while the active streamed to
    // nobody): NACKs would replay every change since, one message each; a resync sends
    // the table as it is now, packed.
    if (stream.expected === 1 && stream.highest > this.config.syncedLag) {
      this.requestResync(stream, now, 'info', `stream ${stream.epoch} began ${stream.highest} messages ago: asking the peer for a resync`);
      return;
    }
    const retry = now >= stream.lastNackAt + this.config.nackRetryMs;
    const known = stream.lastNackedTo;
    const runs = retry
      ? this.gaps(stream)
      : this.gaps(stream).flatMap(([from, to]): Array<[number, number]> => (to > known ? [[Math.max(from, known + 1), to]] : []));
    for (const [from, to] of runs) {
      this.actions.push({ type: 'send', body: { type: 'nack', epoch: stream.epoch, from, to } });
      this.count('nacks', 1);
    }
    if (retry) stream.lastNackAt = now;
    stream.lastNackedTo = Math.max(known, stream.highest);
  }

  /** The missing runs between what was applied and the highest known, at most 16. */
  private gaps(stream: Stream<Entry>): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    const early = [...stream.early.keys()].sort((a, b) => a - b);
    let from = stream.expected;
    for (const seq of early) {
      if (seq > from) runs.push([from, seq - 1]);
      from = seq + 1;
      if (runs.length === 16) return runs;
    }
    if (from <= stream.highest) runs.push([from, stream.highest]);
    return runs;
  }

  private acknowledge(stream: Stream<Entry>): void {
    stream.ackedUpTo = stream.expected - 1;
    stream.unackedSince = undefined;
    if (stream.ackedUpTo > 0) this.actions.push({ type: 'send', body: { type: 'ack', epoch: stream.epoch, upTo: stream.ackedUpTo } });
  }

  private requestResync(stream: Stream<Entry>, now: number, level: 'info' | 'warn', message: string): void {
    if (now < stream.lastResyncRequestAt + this.config.resyncRetryMs) return;
    stream.lastResyncRequestAt = now;
    this.actions.push({ type: 'send', body: { type: 'resync', epoch: stream.epoch } });
    this.log(level, 'sync.resync-request', message, {
      epoch: stream.epoch,
      missingFrom: stream.expected,
    });
  }

  private count(counter: ReceiverCounter, amount: number): void {
    this.actions.push({ type: 'count', counter, amount });
  }

  private log(level: 'info' | 'warn', event: string, message: string, fields?: Record<string, unknown>): void {
    this.actions.push({ type: 'log', level, event, message, ...(fields && { fields }) });
  }
}

/** The commit plan: entries in batches of at most `size`, so no write holds the event loop long. */
export function commitBatches<Entry>(entries: readonly Entry[], size: number): Entry[][] {
  const batches: Entry[][] = [];
  for (let start = 0; start < entries.length; start += size) batches.push(entries.slice(start, start + size));
  return batches;
}
