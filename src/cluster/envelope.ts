// The datagram format of the secure channel (see proto/channel.proto): a fixed
// preamble with the key id, the Envelope, and an HMAC-SHA256 over both. Opening
// checks length, magic, version and MAC before any protobuf is parsed, and never
// throws: every failure is a reject reason.
import { macLength, type Keyring } from './keys.js';
import { decodeMessage, encodeMessage, loadMessageType, safeInteger } from './proto.js';
import type { RejectReason } from './rejections.js';

const EnvelopeType = loadMessageType('channel.proto', 'tandem.channel.v1.Envelope');

export const channelFormatVersion = 1;
const magic = [0x54, 0x44, 0x4d]; // "TDM"
const preambleLength = 8;
export const bootIdLength = 16;

/** Message kinds (proto enum tandem.channel.v1.Kind). */
export const messageKinds = { heartbeat: 1 } as const;
export type MessageKind = (typeof messageKinds)[keyof typeof messageKinds];

/** One IPv4 UDP datagram on an Ethernet link without fragmentation. */
export const maxDatagramLength = 1472;
const minDatagramLength = preambleLength + macLength;

export interface Envelope {
  kind: number;
  cluster: string;
  sender: string;
  bootId: Buffer;
  seq: number;
  /** Empty when the sender has not heard us yet. */
  echoBootId: Buffer;
  echoSeq: number;
  payload: Uint8Array;
}

export type Opened = { ok: true; keyId: number; envelope: Envelope } | { ok: false; reason: RejectReason; detail: string };

export function sealDatagram(keyring: Keyring, envelope: Envelope): Buffer {
  const body = encodeMessage(EnvelopeType, envelope);
  const signed = Buffer.alloc(preambleLength + body.length);
  signed.set(magic, 0);
  signed[3] = channelFormatVersion;
  signed.writeUInt32BE(keyring.signingKeyId, 4);
  signed.set(body, preambleLength);
  const datagram = Buffer.concat([signed, keyring.sign(signed)]);
  if (datagram.length > maxDatagramLength) throw new Error(`datagram of ${datagram.length} bytes exceeds ${maxDatagramLength}`);
  return datagram;
}

export function openDatagram(keyring: Keyring, datagram: Buffer): Opened {
  if (datagram.length < minDatagramLength || datagram.length > maxDatagramLength) {
    return { ok: false, reason: 'bad-length', detail: `${datagram.length} bytes` };
  }
  if (magic.some((byte, i) => datagram[i] !== byte))
    return { ok: false, reason: 'bad-magic', detail: datagram.subarray(0, 3).toString('hex') };
  const version = datagram[3]!;
  if (version !== channelFormatVersion) return { ok: false, reason: 'unsupported-version', detail: `version ${version}` };
  const keyId = datagram.readUInt32BE(4);
  const signedEnd = datagram.length - macLength;
  const verdict = keyring.verify(keyId, datagram.subarray(0, signedEnd), datagram.subarray(signedEnd));
  if (verdict !== 'ok') return { ok: false, reason: verdict, detail: `key id ${keyId}` };
  const decoded = decodeMessage(EnvelopeType, datagram.subarray(preambleLength, signedEnd));
  const seq = safeInteger(decoded?.seq);
  const echoSeq = safeInteger(decoded?.echoSeq);
  const kind = safeInteger(decoded?.kind);
  if (!decoded || seq === undefined || echoSeq === undefined || kind === undefined) {
    return { ok: false, reason: 'malformed', detail: 'envelope does not decode' };
  }
  const { cluster, sender, bootId, echoBootId, payload } = decoded;
  if (typeof cluster !== 'string' || typeof sender !== 'string' || !(payload instanceof Uint8Array)) {
    return { ok: false, reason: 'malformed', detail: 'envelope fields missing' };
  }
  if (!(bootId instanceof Uint8Array) || bootId.length !== bootIdLength || seq === 0) {
    return { ok: false, reason: 'malformed', detail: 'bad boot id or sequence number' };
  }
  if (!(echoBootId instanceof Uint8Array) || (echoBootId.length !== 0 && echoBootId.length !== bootIdLength)) {
    return { ok: false, reason: 'malformed', detail: 'bad echo boot id' };
  }
  return {
    ok: true,
    keyId,
    envelope: { kind, cluster, sender, bootId: Buffer.from(bootId), seq, echoBootId: Buffer.from(echoBootId), echoSeq, payload },
  };
}
