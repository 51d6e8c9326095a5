// The datagram format of the secure channel (see proto/channel.proto): a fixed
// preamble with the key id, the Envelope, and an HMAC-SHA256 over both. Opening
// checks length, magic, version and MAC before any protobuf is parsed, and never
// throws: every failure is a reject reason. The one exception to "MAC first" is
// a bounds-checked peek at the kind, boot id and sequence number, trusted for
// nothing but dropping what the checks after the MAC would drop anyway (a copy
// of a datagram already accepted), so that a flood of them costs no HMAC. The
// Envelope's bytes are read and written by hand (protowire.ts), as protobufjs
// does (test/unit/cluster/protowire.test.ts holds them to it).
import { macLength, type Keyring } from './keys.js';
import { safeInteger } from './proto.js';
import { ProtoReader, ProtoWriter, readFields, type FieldReader, type RawMessage } from './protowire.js';
import type { RejectReason } from './rejections.js';

export const channelFormatVersion = 1;
const magic = [0x54, 0x44, 0x4d]; // "TDM"
const preambleLength = 8;
export const bootIdLength = 16;

/** Message kinds (proto enum tandem.channel.v1.Kind). */
export const messageKinds = { heartbeat: 1, sync: 2 } as const;
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
  /** The path it was sent on plus one; 0 or absent when the sender does not say (an older version). */
  path?: number;
  payload: Uint8Array;
}

export type Rejection = { ok: false; reason: RejectReason; detail: string };

export type Opened = { ok: true; keyId: number; envelope: Envelope } | Rejection;

/** What the replay checks read of an envelope. */
export type Freshness = Pick<Envelope, 'kind' | 'bootId' | 'seq' | 'echoBootId' | 'echoSeq'>;

/**
 * Decides from the unauthenticated fields whether to drop a datagram before its
 * MAC is checked. It must only drop what would be dropped after the MAC too, and
 * record nothing, or a forgery could make it drop a genuine datagram.
 */
export type Screen = (claimed: Freshness) => Rejection | undefined;

export function sealDatagram(keyring: Keyring, envelope: Envelope): Buffer {
  const body = encodeEnvelope(envelope);
  const signedEnd = preambleLength + body.length;
  const datagram = Buffer.allocUnsafe(signedEnd + macLength);
  datagram.set(magic, 0);
  datagram[3] = channelFormatVersion;
  datagram.writeUInt32BE(keyring.signingKeyId, 4);
  datagram.set(body, preambleLength);
  datagram.set(keyring.sign(datagram.subarray(0, signedEnd)), signedEnd);
  if (datagram.length > maxDatagramLength) throw new Error(`datagram of ${datagram.length} bytes exceeds ${maxDatagramLength}`);
  return datagram;
}

const writer = new ProtoWriter();

/** Field by field as protobufjs encodes proto/channel.proto's Envelope (each field present is written, zero or not). */
export function encodeEnvelope(envelope: Envelope): Buffer {
  writer
    .tag(1, 0)
    .int32(envelope.kind)
    .tag(2, 2)
    .string(envelope.cluster)
    .tag(3, 2)
    .string(envelope.sender)
    .tag(4, 2)
    .bytes(envelope.bootId)
    .tag(5, 0)
    .uint64(envelope.seq)
    .tag(6, 2)
    .bytes(envelope.echoBootId)
    .tag(7, 0)
    .uint64(envelope.echoSeq);
  if (envelope.path !== undefined) writer.tag(8, 0).uint32(envelope.path);
  return writer.tag(15, 2).bytes(envelope.payload).finish();
}

/**
 * What protobufjs's decoder makes of an Envelope's bytes, unset fields at its defaults
 * (an unset bytes field is an empty array, not a Buffer: openDatagram refuses it);
 * undefined where it would throw.
 */
export function readEnvelope(body: Buffer): RawMessage | undefined {
  const reader = new ProtoReader(body);
  try {
    return readFields(
      reader,
      0,
      { kind: 0, cluster: '', sender: '', bootId: [], seq: 0, echoBootId: [], echoSeq: 0, path: 0, payload: [] },
      readEnvelopeField,
    );
  } catch {
    return undefined;
  }
}

const readEnvelopeField: FieldReader = (reader, m, field) => {
  switch (field) {
    case 1:
      m.kind = reader.int32();
      return true;
    case 2:
      m.cluster = reader.string();
      return true;
    case 3:
      m.sender = reader.string();
      return true;
    case 4:
      m.bootId = reader.bytes();
      return true;
    case 5:
      m.seq = reader.uint64();
      return true;
    case 6:
      m.echoBootId = reader.bytes();
      return true;
    case 7:
      m.echoSeq = reader.uint64();
      return true;
    case 8:
      m.path = reader.uint32();
      return true;
    case 15:
      m.payload = reader.bytes();
      return true;
    default:
      return false;
  }
};

/**
 * The largest payload a datagram of this sender can carry within maxDatagramLength:
 * the envelope's other fields at their largest (sequence numbers near 2^53, any path
 * a heartbeat can have), plus the payload's tag and a two-byte length.
 */
export function maxPayloadLength(cluster: string, sender: string): number {
  const bootId = Buffer.alloc(bootIdLength);
  const seq = Number.MAX_SAFE_INTEGER;
  const largest = { kind: 0x7f, cluster, sender, bootId, seq, echoBootId: bootId, echoSeq: seq, path: 0x7f, payload: new Uint8Array() };
  // the empty payload's length took one byte
  const overhead = encodeEnvelope(largest).length + 1;
  return maxDatagramLength - preambleLength - macLength - overhead;
}

export function openDatagram(keyring: Keyring, datagram: Buffer, screen?: Screen): Opened {
  if (datagram.length < minDatagramLength || datagram.length > maxDatagramLength) {
    return { ok: false, reason: 'bad-length', detail: `${datagram.length} bytes` };
  }
  if (magic.some((byte, i) => datagram[i] !== byte))
    return { ok: false, reason: 'bad-magic', detail: datagram.subarray(0, 3).toString('hex') };
  const version = datagram.readUInt8(3);
  if (version !== channelFormatVersion) return { ok: false, reason: 'unsupported-version', detail: `version ${version}` };
  const keyId = datagram.readUInt32BE(4);
  if (!keyring.has(keyId)) return { ok: false, reason: 'unknown-key', detail: `key id ${keyId}` };
  const signedEnd = datagram.length - macLength;
  const claimed = screen && peekFreshness(datagram.subarray(preambleLength, signedEnd));
  const screened = claimed && screen(claimed);
  if (screened) return screened;
  const verdict = keyring.verify(keyId, datagram.subarray(0, signedEnd), datagram.subarray(signedEnd));
  if (verdict !== 'ok') return { ok: false, reason: verdict, detail: `key id ${keyId}` };
  const decoded = readEnvelope(datagram.subarray(preambleLength, signedEnd));
  const seq = safeInteger(decoded?.seq);
  const echoSeq = safeInteger(decoded?.echoSeq);
  const kind = safeInteger(decoded?.kind);
  const path = safeInteger(decoded?.path);
  if (!decoded || seq === undefined || echoSeq === undefined || kind === undefined || path === undefined) {
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
    envelope: { kind, cluster, sender, bootId: Buffer.from(bootId), seq, echoBootId: Buffer.from(echoBootId), echoSeq, path, payload },
  };
}

/**
 * Reads the kind, boot ids and sequence numbers of an encoded Envelope without
 * allocating or trusting anything; undefined unless it is a plain encoding with
 * valid values (then only the MAC check decides). Like protobuf, the last value
 * of a repeated field wins and unknown fields are skipped.
 */
export function peekFreshness(body: Buffer): Freshness | undefined {
  const reader = new VarintReader(body);
  let kind = 0;
  let seq = 0;
  let echoSeq = 0;
  let bootId: Buffer | undefined;
  let echoBootId = noBootId;
  while (reader.at < body.length) {
    const tag = reader.varint();
    // Field numbers are below 2^29, so a valid tag fits in 32 bits.
    if (tag === undefined || tag > 0xffff_ffff) return undefined;
    const field = tag >>> 3;
    switch (tag & 7) {
      case 0: {
        const value = reader.varint();
        if (value === undefined) return undefined;
        if (field === envelopeFields.kind) kind = value;
        else if (field === envelopeFields.seq) seq = value;
        else if (field === envelopeFields.echoSeq) echoSeq = value;
        else if (field === envelopeFields.bootId || field === envelopeFields.echoBootId) return undefined;
        break;
      }
      case 2: {
        const length = reader.varint();
        const start = reader.at;
        if (length === undefined || start + length > body.length) return undefined;
        reader.at += length;
        if (field === envelopeFields.bootId) bootId = body.subarray(start, reader.at);
        else if (field === envelopeFields.echoBootId) echoBootId = body.subarray(start, reader.at);
        else if (field === envelopeFields.kind || field === envelopeFields.seq || field === envelopeFields.echoSeq) return undefined;
        break;
      }
      case 1:
        reader.at += 8;
        break;
      case 5:
        reader.at += 4;
        break;
      default:
        return undefined;
    }
  }
  if (reader.at !== body.length || bootId?.length !== bootIdLength || seq === 0) return undefined;
  if (echoBootId.length !== 0 && echoBootId.length !== bootIdLength) return undefined;
  return { kind, bootId, seq, echoBootId, echoSeq };
}

const noBootId: Buffer = Buffer.alloc(0);

/** Field numbers of tandem.channel.v1.Envelope (proto/channel.proto). */
const envelopeFields = { kind: 1, bootId: 4, seq: 5, echoBootId: 6, echoSeq: 7 } as const;

class VarintReader {
  at = 0;

  constructor(private readonly bytes: Buffer) {}

  /** An unsigned varint (at most 10 bytes) if it is a safe integer; undefined otherwise. */
  varint(): number | undefined {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.bytes[this.at++];
      if (byte === undefined) return undefined;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value <= Number.MAX_SAFE_INTEGER ? value : undefined;
      scale *= 128;
    }
    return undefined;
  }
}
