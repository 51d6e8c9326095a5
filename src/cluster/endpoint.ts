// One message kind's end of the secure channel, without sockets: seals payloads
// into authenticated datagrams and opens received ones through every check
// (envelope, identity, kind, replay). The socket driver (channel.ts) and the
// simulated network of the tests both use it.
import { openDatagram, sealDatagram, type Freshness, type MessageKind, type Rejection } from './envelope.js';
import type { Keyring } from './keys.js';
import type { BootChange, ChannelSessions } from './replay.js';

export interface ChannelIdentity {
  cluster: string;
  /** Our node name. */
  self: string;
  /** The one node we accept datagrams from. */
  peer: string;
}

export interface Accepted {
  ok: true;
  payload: Uint8Array;
  seq: number;
  /** Hex boot id of the sender. */
  bootId: string;
  keyId: number;
  /** The sender had heard this boot of ours when it sent this (it echoes our boot id). */
  echoesUs: boolean;
  /**
   * Made since we started, so no recording made before: it echoes our boot id, or
   * its boot started after one that did. What an unproven datagram says may hold
   * us back but must not make us act.
   */
  proven: boolean;
  /** Set when this datagram made us trust a new boot of the peer. */
  bootChange?: BootChange;
}

export type Rejected = Rejection;

export class ChannelEndpoint {
  constructor(
    private readonly identity: ChannelIdentity,
    readonly kind: MessageKind,
    private keyring: Keyring,
    readonly sessions: ChannelSessions,
  ) {}

  /** Keys read again (a reload for key rotation): used from the next datagram on. */
  setKeyring(keyring: Keyring): void {
    this.keyring = keyring;
  }

  /**
   * Drops before the MAC what is not fresh as claimed: a copy of a datagram we
   * accepted, or one of a boot we no longer accept. The judgement rests only on the
   * datagram's own bytes and on what authentic datagrams recorded, so a genuine
   * datagram it drops would be dropped after the MAC as well; a forgery recorded
   * nothing that could make it drop one.
   */
  private readonly screen = (claimed: Freshness): Rejected | undefined => {
    if (claimed.kind !== this.kind) return { ok: false, reason: 'wrong-kind', detail: `kind ${claimed.kind}` };
    const verdict = this.sessions.judge(claimed);
    return verdict.ok ? undefined : freshnessRejection(verdict.reason, claimed);
  };

  /** `path`: the index of the heartbeat path the datagram goes out on. */
  seal(payload: Uint8Array, path = 0): { datagram: Buffer; seq: number } {
    const seq = this.sessions.nextSeq(this.kind);
    const echo = this.sessions.echo(this.kind);
    const datagram = sealDatagram(this.keyring, {
      kind: this.kind,
      cluster: this.identity.cluster,
      sender: this.identity.self,
      bootId: this.sessions.bootId,
      seq,
      echoBootId: echo.bootId,
      echoSeq: echo.seq,
      path: path + 1,
      payload,
    });
    return { datagram, seq };
  }

  /** `path`: the index of the heartbeat path the datagram arrived on. */
  open(datagram: Buffer, path = 0): Accepted | Rejected {
    const opened = openDatagram(this.keyring, datagram, this.screen);
    if (!opened.ok) return opened;
    const { envelope } = opened;
    if (envelope.cluster !== this.identity.cluster) return { ok: false, reason: 'wrong-cluster', detail: envelope.cluster };
    if (envelope.sender !== this.identity.peer) return { ok: false, reason: 'unknown-sender', detail: envelope.sender };
    if (envelope.kind !== this.kind) return { ok: false, reason: 'wrong-kind', detail: `kind ${envelope.kind}` };
    // before admission: a copy moved here from another path must not use up the genuine one's sequence number
    const sentOn = envelope.path ?? 0;
    if (sentOn !== 0 && sentOn !== path + 1)
      return { ok: false, reason: 'wrong-path', detail: `sent on path ${sentOn - 1}, arrived on path ${path}` };
    const admission = this.sessions.admit(envelope);
    if (!admission.ok) return freshnessRejection(admission.reason, envelope);
    return {
      ok: true,
      payload: envelope.payload,
      seq: envelope.seq,
      bootId: envelope.bootId.toString('hex'),
      keyId: opened.keyId,
      echoesUs: envelope.echoBootId.equals(this.sessions.bootId),
      proven: admission.proven,
      ...(admission.bootChange && { bootChange: admission.bootChange }),
    };
  }
}

function freshnessRejection(reason: 'replay' | 'stale-boot', envelope: Freshness): Rejected {
  return { ok: false, reason, detail: `boot ${envelope.bootId.toString('hex')} seq ${envelope.seq}` };
}
