// Replay protection for the secure channel. Each process start has a boot id;
// within a boot every datagram of a kind has a new sequence number. A receiver
// accepts a sequence number once, from the peer boot it currently trusts, within a
// sliding window (datagrams of two paths interleave and may reorder, so "greater
// than the last one" would drop genuine ones). A different boot id is accepted
// only from an authentic datagram and only if it is newer than the one we know —
// by its start time, or, should the peer's clock have gone backwards, by echoing
// our own recent sequence number — so a recording of an older boot cannot be
// replayed after the peer restarts.
//
// After our own restart nothing tells a recording from the peer: the first boot
// we hear is accepted. A datagram is *proven* (made since we started, so not a
// recording) when it echoes our boot id, or when its boot started after a boot
// that had echoed it (start times only grow). What an unproven datagram says may
// hold a node back, never make it act (see election.ts).
import { randomBytes } from 'node:crypto';
import { bootIdLength, type Freshness } from './envelope.js';

const windowSize = 128;
/** How recent (in our datagrams) an echoed sequence number must be to prove freshness. */
const echoFreshness = 128;
const rememberedBoots = 16;

export function createBootId(nowMs = Date.now()): Buffer {
  const id = Buffer.alloc(bootIdLength);
  id.writeBigUInt64BE(BigInt(Math.floor(nowMs)), 0);
  randomBytes(8).copy(id, 8);
  return id;
}

export function bootStartedAt(bootId: Buffer): number {
  return Number(bootId.readBigUInt64BE(0));
}

export class ReplayWindow {
  private highest = 0;
  /** The first number accepted: anything below it predates this window (and may be a recording). */
  private floor = 0;
  // Slot s % size holds the last sequence number s accepted there; a number in the
  // window was seen iff its slot holds exactly it.
  private readonly slots = new Float64Array(windowSize);

  get highestSeq(): number {
    return this.highest;
  }

  isNew(seq: number): boolean {
    if (seq > this.highest) return true;
    if (seq < this.floor) return false;
    if (this.highest - seq >= windowSize) return false;
    return this.slots[seq % windowSize] !== seq;
  }

  accept(seq: number): void {
    if (this.floor === 0) this.floor = seq;
    this.slots[seq % windowSize] = seq;
    if (seq > this.highest) this.highest = seq;
  }
}

interface PeerBoot {
  bootId: Buffer;
  startedAt: number;
  windows: Map<number, ReplayWindow>;
  /** Started after a boot that was running since our start: all of it is too. */
  succeedsLive: boolean;
  /** Running since our start: it echoed our boot id, or it succeeds such a boot. */
  live: boolean;
}

export type BootChange = 'first-contact' | 'restarted' | 'restarted-clock-back';

type Verdict = { ok: true; bootChange?: BootChange } | { ok: false; reason: 'replay' | 'stale-boot' };

export type Admission = { ok: true; proven: boolean; bootChange?: BootChange } | { ok: false; reason: 'replay' | 'stale-boot' };

/**
 * Our boot id and sequence numbers, and the peer boot we trust with its replay
 * windows. One instance per process, shared by every message kind's channel, so a
 * boot verified on one kind (heartbeats, which flow both ways) is the one all kinds
 * accept.
 */
export class ChannelSessions {
  private peer: PeerBoot | undefined;
  private readonly pastBoots: string[] = [];
  private readonly sent = new Map<number, number>();

  constructor(readonly bootId: Buffer = createBootId()) {}

  nextSeq(kind: number): number {
    const seq = (this.sent.get(kind) ?? 0) + 1;
    this.sent.set(kind, seq);
    return seq;
  }

  /** What we tell the peer we heard last from it on this kind (empty before first contact). */
  echo(kind: number): { bootId: Buffer; seq: number } {
    const peer = this.peer;
    return peer ? { bootId: peer.bootId, seq: peer.windows.get(kind)?.highestSeq ?? 0 } : { bootId: Buffer.alloc(0), seq: 0 };
  }

  get peerBootId(): Buffer | undefined {
    return this.peer?.bootId;
  }

  /** Decides whether an authentic envelope is fresh, and records it if so. */
  admit(envelope: Freshness): Admission {
    const verdict = this.judge(envelope);
    if (!verdict.ok) return verdict;
    let peer = this.peer;
    if (!peer || verdict.bootChange) {
      const succeedsLive = verdict.bootChange === 'restarted' && peer?.live === true;
      if (peer) this.remember(peer.bootId);
      peer = this.peer = {
        bootId: Buffer.from(envelope.bootId),
        startedAt: bootStartedAt(envelope.bootId),
        windows: new Map(),
        succeedsLive,
        live: succeedsLive,
      };
    }
    // Per datagram: a live boot's datagrams from before it heard us may be recordings.
    const proven = peer.succeedsLive || envelope.echoBootId.equals(this.bootId);
    peer.live ||= proven;
    let window = peer.windows.get(envelope.kind);
    if (!window) peer.windows.set(envelope.kind, (window = new ReplayWindow()));
    window.accept(envelope.seq);
    return { ok: true, proven, ...(verdict.bootChange && { bootChange: verdict.bootChange }) };
  }

  /**
   * What admit() would answer, recording nothing. Asked before the MAC is checked,
   * it lets a receiver drop a copy of a datagram it accepted already (or one of a
   * boot it no longer accepts) without computing an HMAC: since only authentic
   * datagrams change what it consults, a forgery cannot make it refuse a genuine
   * datagram that admit() would accept.
   */
  judge(envelope: Freshness): Verdict {
    const peer = this.peer;
    if (peer?.bootId.equals(envelope.bootId)) {
      const window = peer.windows.get(envelope.kind);
      return !window || window.isNew(envelope.seq) ? { ok: true } : { ok: false, reason: 'replay' };
    }
    const bootChange = this.judgeNewBoot(envelope);
    return bootChange ? { ok: true, bootChange } : { ok: false, reason: 'stale-boot' };
  }

  private judgeNewBoot(envelope: Freshness): BootChange | undefined {
    if (this.pastBoots.includes(envelope.bootId.toString('hex'))) return undefined;
    if (!this.peer) return 'first-contact';
    if (bootStartedAt(envelope.bootId) > this.peer.startedAt) return 'restarted';
    const ourSeq = this.sent.get(envelope.kind) ?? 0;
    const echoesUs = envelope.echoBootId.equals(this.bootId) && envelope.echoSeq > 0 && envelope.echoSeq <= ourSeq;
    return echoesUs && ourSeq - envelope.echoSeq < echoFreshness ? 'restarted-clock-back' : undefined;
  }

  private remember(bootId: Buffer): void {
    this.pastBoots.push(bootId.toString('hex'));
    if (this.pastBoots.length > rememberedBoots) this.pastBoots.shift();
  }
}
