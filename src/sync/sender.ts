// The active side of one table kind's stream, as a pure state machine (like the
// election): it is fed events (this node became active or stopped being so, table
// changes, chunks of the table's dump, the backup's acknowledgements, NACKs and resync
// requests, the clock) and answers with messages to send and the dump to start.
//
// Reliable delivery in the style of conntrackd's FTFW. Changes wait in a backlog
// keyed by entry (a newer change of an entry replaces the waiting one, so the backlog
// never holds more than the table); they leave packed into Data messages, at most
// `window` of them unacknowledged. The unacknowledged ones are the resend queue: a
// NACK is answered from it, and a NACK of something no longer in it, a resync request,
// lost kernel events or an overflowing backlog start a new stream, which is a bulk
// resync: the whole table again, then resync_end. When nothing is sent for
// `aliveIntervalMs`, an Alive tells the backup the last sequence number, so it sees
// a lost tail. A dump asked for soon after this node became active waits until
// `takeoverDumpDelayMs` after it: the stream (and the changes) begin at once.
import { recordWireLength, type DataBody, type FeedbackBody, type StreamBody } from './wire.js';

export interface OutgoingRecord {
  key: string;
  remove: boolean;
  entry: Uint8Array;
}

export interface SenderConfig {
  /** Bytes of records one Data message may carry (recordBudget of the payload limit). */
  recordBudget: number;
  /** Data messages sent and not acknowledged at most: the bound of the resend queue. */
  window: number;
  aliveIntervalMs: number;
  /** Changes waiting to be sent at most; more start a resync (the backup is too far behind). */
  backlogMax: number;
  /** The dump's next chunk is wanted while fewer records than this wait. */
  dumpLowWater: number;
  /**
   * No dump starts sooner than this after becoming active. The kernel makes a small
   * table's first part by walking its whole conntrack hash (shared by every namespace)
   * with softirqs off: 11–15 ms at 262,144 buckets, a CPU nothing else gets meanwhile.
   * At the claim that CPU held the client's first packets to the new active and the
   * daemon's own heartbeats; the changes made since stream at once, so the dump, which
   * covers whatever they missed, loses nothing by waiting until the takeover is over.
   */
  takeoverDumpDelayMs: number;
}

export const defaultSenderConfig: Omit<SenderConfig, 'recordBudget'> = {
  window: 512,
  aliveIntervalMs: 500,
  backlogMax: 262_144,
  dumpLowWater: 2048,
  takeoverDumpDelayMs: 1000,
};

export type ResyncReason = 'became-active' | 'peer-request' | 'nack-unavailable' | 'events-lost' | 'backlog-full';

export type SenderEvent =
  | { type: 'start'; now: number }
  | { type: 'stop'; now: number }
  | { type: 'changes'; now: number; records: readonly OutgoingRecord[] }
  | { type: 'dumpChunk'; now: number; epoch: number; records: readonly OutgoingRecord[] }
  | { type: 'dumpDone'; now: number; epoch: number }
  /** The kernel dropped events (watch's onLost): only a resync restores the backup. */
  | { type: 'lost'; now: number }
  | { type: 'feedback'; now: number; body: FeedbackBody }
  | { type: 'tick'; now: number };

export type SenderAction =
  | { type: 'send'; body: StreamBody; resend: boolean }
  /** Dump the table for this epoch (abandoning a dump of an earlier one). */
  | { type: 'dump'; epoch: number }
  | { type: 'resync'; reason: ResyncReason; epoch: number }
  /** A record larger than a datagram can carry: dropped. */
  | { type: 'oversize'; key: string; bytes: number };

export interface SenderStatus {
  streaming: boolean;
  epoch: number;
  lastSeq: number;
  unacknowledged: number;
  backlog: number;
  dumping: boolean;
  /** The backup acknowledged this stream's resync_end. */
  peerSynced: boolean;
  lastFeedbackAt?: number;
}

export class SyncSender {
  private streaming = false;
  private epoch = 0;
  private nextSeq = 1;
  private readonly unacknowledged = new Map<number, DataBody>();
  private readonly backlog = new Map<string, OutgoingRecord>();
  private beginPending = false;
  private dumpDone = false;
  /** The current stream's dump is yet to be asked for, at `dumpNotBefore`. */
  private dumpDue = false;
  private dumpNotBefore = -Infinity;
  private endSeq: number | undefined;
  private peerSynced = false;
  private lastSentAt = -Infinity;
  private lastFeedbackAt: number | undefined;
  private actions: SenderAction[] = [];

  /**
   * `firstEpoch`: random per boot in the daemon, so that feedback about a stream of
   * this node's previous boot, still on its way, never matches a stream of this one.
   */
  constructor(
    private readonly config: SenderConfig,
    firstEpoch = 1,
  ) {
    this.epoch = firstEpoch - 1;
  }

  handle(event: SenderEvent): SenderAction[] {
    this.actions = [];
    switch (event.type) {
      case 'start':
        this.streaming = true;
        this.dumpNotBefore = event.now + this.config.takeoverDumpDelayMs;
        this.newStream('became-active');
        break;
      case 'stop':
        this.streaming = false;
        this.unacknowledged.clear();
        this.backlog.clear();
        break;
      case 'changes':
        if (this.streaming) this.enqueue(event.records, true);
        break;
      case 'dumpChunk':
        if (this.streaming && event.epoch === this.epoch) this.enqueue(event.records, false);
        break;
      case 'dumpDone':
        if (event.epoch === this.epoch) this.dumpDone = true;
        break;
      case 'lost':
        if (this.streaming) this.newStream('events-lost');
        break;
      case 'feedback':
        if (this.streaming) this.feedback(event.body, event.now);
        break;
      case 'tick':
        break;
    }
    if (this.streaming && this.dumpDue && event.now >= this.dumpNotBefore) {
      this.dumpDue = false;
      this.actions.push({ type: 'dump', epoch: this.epoch });
    }
    if (this.streaming) this.flush(event.now);
    return this.actions;
  }

  nextWakeAt(): number {
    if (!this.streaming) return Infinity;
    const alive = this.lastSentAt + this.config.aliveIntervalMs;
    return this.dumpDue ? Math.min(alive, this.dumpNotBefore) : alive;
  }

  /** The driver feeds the dump of `epoch` while this holds. */
  wantsDump(epoch: number): boolean {
    return this.streaming && epoch === this.epoch && !this.dumpDone && this.backlog.size < this.config.dumpLowWater;
  }

  status(): SenderStatus {
    return {
      streaming: this.streaming,
      epoch: this.epoch,
      lastSeq: this.nextSeq - 1,
      unacknowledged: this.unacknowledged.size,
      backlog: this.backlog.size,
      dumping: this.streaming && !this.dumpDone,
      peerSynced: this.peerSynced,
      ...(this.lastFeedbackAt !== undefined && { lastFeedbackAt: this.lastFeedbackAt }),
    };
  }

  private newStream(reason: ResyncReason): void {
    this.epoch += 1;
    this.nextSeq = 1;
    this.unacknowledged.clear();
    this.backlog.clear();
    this.beginPending = true;
    this.dumpDone = false;
    this.dumpDue = true;
    this.endSeq = undefined;
    this.peerSynced = false;
    this.actions.push({ type: 'resync', reason, epoch: this.epoch });
  }

  /** A change replaces the one waiting for its entry; a dumped entry never replaces a newer change. */
  private enqueue(records: readonly OutgoingRecord[], changes: boolean): void {
    for (const record of records) {
      if (changes) this.backlog.delete(record.key);
      else if (this.backlog.has(record.key)) continue;
      this.backlog.set(record.key, record);
    }
    if (this.backlog.size > this.config.backlogMax) this.newStream('backlog-full');
  }

  private feedback(body: FeedbackBody, now: number): void {
    // Feedback about an earlier stream is late; the backup adopts the current one from its messages.
    if (body.epoch !== this.epoch && !(body.type === 'resync' && body.epoch === 0)) return;
    this.lastFeedbackAt = now;
    switch (body.type) {
      case 'ack':
        for (const seq of this.unacknowledged.keys()) {
          if (seq > body.upTo) break;
          this.unacknowledged.delete(seq);
        }
        if (this.endSeq !== undefined && body.upTo >= this.endSeq) this.peerSynced = true;
        break;
      case 'nack':
        this.resend(body.from, Math.min(body.to, this.nextSeq - 1), now);
        break;
      case 'resync':
        this.newStream('peer-request');
        break;
    }
  }

  private resend(from: number, to: number, now: number): void {
    const wanted: DataBody[] = [];
    for (let seq = from; seq <= to; seq++) {
      const body = this.unacknowledged.get(seq);
      if (!body) {
        this.newStream('nack-unavailable');
        return;
      }
      wanted.push(body);
    }
    for (const body of wanted) this.actions.push({ type: 'send', body, resend: true });
    if (wanted.length > 0) this.lastSentAt = now;
  }

  /** Packs waiting records into Data messages while the window has room. */
  private flush(now: number): void {
    while (this.unacknowledged.size < this.config.window && (this.beginPending || this.backlog.size > 0 || this.endDue())) {
      const records = this.take();
      const body: DataBody = {
        type: 'data',
        epoch: this.epoch,
        seq: this.nextSeq++,
        records,
        resyncBegin: this.beginPending,
        resyncEnd: this.endDue(),
      };
      this.beginPending = false;
      if (body.resyncEnd) this.endSeq = body.seq;
      this.unacknowledged.set(body.seq, body);
      this.actions.push({ type: 'send', body, resend: false });
      this.lastSentAt = now;
    }
    if (now >= this.lastSentAt + this.config.aliveIntervalMs) {
      this.actions.push({ type: 'send', body: { type: 'alive', epoch: this.epoch, lastSeq: this.nextSeq - 1 }, resend: false });
      this.lastSentAt = now;
    }
  }

  private endDue(): boolean {
    return this.dumpDone && this.endSeq === undefined && this.backlog.size === 0;
  }

  /** The waiting records, oldest first, that fit one message. */
  private take(): OutgoingRecord[] {
    const taken: OutgoingRecord[] = [];
    let room = this.config.recordBudget;
    for (const [key, record] of this.backlog) {
      const length = recordWireLength(record);
      if (length > this.config.recordBudget) {
        this.backlog.delete(key);
        this.actions.push({ type: 'oversize', key, bytes: record.entry.length });
        continue;
      }
      if (length > room) break;
      room -= length;
      this.backlog.delete(key);
      taken.push(record);
    }
    return taken;
  }
}
