// Replay protection for the secure channel. Each process start has a boot id;
// within a boot every datagram of a kind has a new sequence number. A receiver
// accepts a sequence number once, from the peer boot it currently trusts, within a
// sliding window (datagrams of two paths interleave and may reorder, so "greater
// than the last one" would drop genuine ones). A different boot id is accepted
// only from an authentic datagram and only if it is newer than the one we know —
// by its start time, or, should the peer's clock have gone backwards, by echoing
// our own recent sequence number — so a recording of an older boot cannot be
// replayed after the peer restarts.
import { randomBytes } from 'node:crypto';
import { bootIdLength, type Envelope } from './envelope.js';

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
}

export type BootChange = 'first-contact' | 'restarted' | 'restarted-clock-back';

export type Admission = { ok: true; bootChange?: BootChange } | { ok: false; reason: 'replay' | 'stale-boot' };

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
  admit(envelope: Envelope): Admission {
    let bootChange: BootChange | undefined;
    if (!this.peer || !this.peer.bootId.equals(envelope.bootId)) {
      bootChange = this.judgeNewBoot(envelope);
      if (!bootChange) return { ok: false, reason: 'stale-boot' };
      if (this.peer) this.remember(this.peer.bootId);
      this.peer = { bootId: envelope.bootId, startedAt: bootStartedAt(envelope.bootId), windows: new Map() };
    }
    let window = this.peer.windows.get(envelope.kind);
    if (!window) this.peer.windows.set(envelope.kind, (window = new ReplayWindow()));
    if (!window.isNew(envelope.seq)) return { ok: false, reason: 'replay' };
    window.accept(envelope.seq);
    return bootChange ? { ok: true, bootChange } : { ok: true };
  }

  private judgeNewBoot(envelope: Envelope): BootChange | undefined {
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
