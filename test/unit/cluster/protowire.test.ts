// The hand-written heartbeat and envelope codecs against protobufjs, the reference
// for proto/heartbeat.proto and proto/channel.proto: the same bytes for every
// message, and the same verdict (the same Heartbeat or fields, or a rejection) on
// genuine, mutated and random bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkHeartbeat,
  decodeHeartbeat,
  encodeHeartbeat,
  handoverReasons,
  roles,
  type Heartbeat,
} from '../../../src/cluster/heartbeat.js';
import { encodeEnvelope, readEnvelope, type Envelope } from '../../../src/cluster/envelope.js';
import { decodeMessage, encodeMessage, loadMessageType, safeInteger } from '../../../src/cluster/proto.js';
import { ProtoWriter } from '../../../src/cluster/protowire.js';

const HeartbeatType = loadMessageType('heartbeat.proto', 'tandem.heartbeat.v1.Heartbeat');
const EnvelopeType = loadMessageType('channel.proto', 'tandem.channel.v1.Envelope');

/** How the heartbeat was encoded with protobufjs. */
function protobufjsEncode(heartbeat: Heartbeat): Buffer {
  const { request } = heartbeat;
  const requestKinds = [undefined, 'handover', 'takeover'];
  return Buffer.from(
    encodeMessage(HeartbeatType, {
      role: roles.indexOf(heartbeat.role) + 1,
      priority: heartbeat.priority,
      term: heartbeat.term,
      serialNo: heartbeat.serialNo,
      health: heartbeat.health,
      peerView: heartbeat.peerView,
      request: request && { kind: requestKinds.indexOf(request.kind), id: request.id, reason: request.reason },
      timers: heartbeat.timers,
      stateVersion: heartbeat.stateVersion,
      peerStateVersion: heartbeat.peerStateVersion,
      version: heartbeat.version ?? '',
      claimedTerm: heartbeat.claimedTerm,
    }),
  );
}

/** As a payload arrives, a Buffer: protobufjs reads a plain Uint8Array with another reader (strings that overrun throw). */
function protobufjsDecode(bytes: Uint8Array): ReturnType<typeof decodeHeartbeat> {
  const decoded = decodeMessage(HeartbeatType, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return decoded ? checkHeartbeat(decoded) : { ok: false, error: 'not a Heartbeat message' };
}

// Well-formed strings (a lone surrogate is written as U+FFFD here, as its own bytes by protobufjs).
const text = fc.string({ unit: 'grapheme', maxLength: 70 });
const uint32 = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffff_ffff }));
const uint64 = fc.oneof(fc.nat({ max: 300 }), fc.maxSafeNat());

const heartbeat: fc.Arbitrary<Heartbeat> = fc.record(
  {
    role: fc.constantFrom(...roles),
    priority: uint32,
    term: uint64,
    serialNo: uint64,
    health: fc.record({
      canServe: fc.boolean(),
      monitorLinks: fc.boolean(),
      links: fc.array(fc.record({ name: text, up: fc.boolean() }), { maxLength: 4 }),
      fault: fc.string({ unit: 'grapheme', maxLength: 220 }),
    }),
    peerView: fc.array(
      fc.record({
        path: uint32,
        heard: fc.boolean(),
        lastSeq: uint64,
        silentMs: fc.oneof(uint32, fc.double({ min: 0, max: 1e6, noNaN: true })),
      }),
      { maxLength: 3 },
    ),
    request: fc.record({
      kind: fc.constantFrom('handover' as const, 'takeover' as const),
      id: uint64,
      reason: fc.constantFrom(...handoverReasons),
    }),
    timers: fc.record({ keepaliveMs: uint32, deadtimeMs: uint32 }),
    stateVersion: uint64,
    peerStateVersion: uint64,
    version: text,
    claimedTerm: uint64,
  },
  {
    requiredKeys: [
      'role',
      'priority',
      'term',
      'serialNo',
      'health',
      'peerView',
      'timers',
      'stateVersion',
      'peerStateVersion',
      'claimedTerm',
    ],
  },
);

/** Tag and value soup: every field number of the schema and some beyond, with any wire type. */
const field = fc.tuple(fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 12 }), fc.maxSafeNat());
function soup(fields: Array<[number, number, Uint8Array, number]>): Buffer {
  const writer = new ProtoWriter();
  for (const [number, wireType, bytes, value] of fields) {
    writer.uint32((number << 3) | wireType);
    if (wireType === 0) writer.uint64(value);
    else if (wireType === 2) writer.uint32(bytes.length).string(Buffer.from(bytes).toString('latin1'));
    else writer.uint64(value % 256);
  }
  return writer.finish();
}

describe('hand-written heartbeat codec', () => {
  it('writes the bytes protobufjs writes', () => {
    fc.assert(
      fc.property(heartbeat, (h) => {
        expect(encodeHeartbeat(h).toString('hex')).toBe(protobufjsEncode(h).toString('hex'));
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('reads what protobufjs wrote as protobufjs does', () => {
    fc.assert(
      fc.property(heartbeat, (h) => {
        const bytes = protobufjsEncode(h);
        expect(decodeHeartbeat(bytes)).toEqual(protobufjsDecode(bytes));
        expect(decodeHeartbeat(bytes).ok).toBe(true);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('gives the verdict protobufjs gives on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(decodeHeartbeat(bytes)).toEqual(protobufjsDecode(bytes));
      }),
      { numRuns: 10_000 },
    );
  }, 60_000);

  it('gives the verdict protobufjs gives on mutated and truncated heartbeats', () => {
    fc.assert(
      fc.property(
        heartbeat,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (h, flips, cut) => {
          const bytes = protobufjsEncode(h);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          expect(decodeHeartbeat(bytes)).toEqual(protobufjsDecode(bytes));
          const truncated = bytes.subarray(0, cut % (bytes.length + 1));
          expect(decodeHeartbeat(truncated)).toEqual(protobufjsDecode(truncated));
        },
      ),
      { numRuns: 4000 },
    );
  }, 60_000);

  it('gives the verdict protobufjs gives on fields of any number and wire type', () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 12 }), (fields) => {
        const bytes = soup(fields);
        expect(decodeHeartbeat(bytes)).toEqual(protobufjsDecode(bytes));
      }),
      { numRuns: 10_000 },
    );
  }, 60_000);

  it('reads varints at the end of a message as protobufjs does', () => {
    const cases = [
      '08ff',
      '08ffffffff',
      '08ffffffff0f',
      '08ffffffffff',
      '08ffffffffffffffffff01',
      '18ffffffff',
      '18ffffffffffffffffff01',
      '1880808080808080808001',
      '5aff',
      '2a03080110',
    ];
    for (const hex of cases) expect(decodeHeartbeat(Buffer.from(hex, 'hex')), hex).toEqual(protobufjsDecode(Buffer.from(hex, 'hex')));
  });
});

/** An envelope's fields as openDatagram reads them (integers through safeInteger), from either decoder. */
function envelopeFields(decoded: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!decoded) return undefined;
  const bytes = (value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value);
  return {
    kind: safeInteger(decoded.kind) ?? decoded.kind,
    cluster: decoded.cluster,
    sender: decoded.sender,
    bootId: bytes(decoded.bootId),
    seq: safeInteger(decoded.seq),
    echoBootId: bytes(decoded.echoBootId),
    echoSeq: safeInteger(decoded.echoSeq),
    path: safeInteger(decoded.path),
    payload: bytes(decoded.payload),
  };
}

const protobufjsEnvelope = (bytes: Buffer) => envelopeFields(decodeMessage(EnvelopeType, bytes));
const handEnvelope = (bytes: Buffer) => envelopeFields(readEnvelope(bytes));

const envelope: fc.Arbitrary<Envelope> = fc.record(
  {
    kind: fc.constantFrom(1, 2),
    cluster: text,
    sender: text,
    bootId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
    seq: uint64,
    echoBootId: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
    ),
    echoSeq: uint64,
    path: fc.integer({ min: 0, max: 8 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  },
  { requiredKeys: ['kind', 'cluster', 'sender', 'bootId', 'seq', 'echoBootId', 'echoSeq', 'payload'] },
);

describe('hand-written envelope codec', () => {
  it('writes the bytes protobufjs writes', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        expect(encodeEnvelope(e).toString('hex')).toBe(Buffer.from(encodeMessage(EnvelopeType, e)).toString('hex'));
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  it('reads what protobufjs wrote as protobufjs does', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        const bytes = Buffer.from(encodeMessage(EnvelopeType, e));
        expect(handEnvelope(bytes)).toEqual(protobufjsEnvelope(bytes));
        expect(handEnvelope(bytes)?.seq).toBe(e.seq);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('gives the verdict protobufjs gives on random, mutated and truncated bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(handEnvelope(Buffer.from(bytes))).toEqual(protobufjsEnvelope(Buffer.from(bytes)));
      }),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(
        envelope,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (e, flips, cut) => {
          const bytes = encodeEnvelope(e);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          expect(handEnvelope(bytes)).toEqual(protobufjsEnvelope(bytes));
          const truncated = bytes.subarray(0, cut % (bytes.length + 1));
          expect(handEnvelope(truncated)).toEqual(protobufjsEnvelope(truncated));
        },
      ),
      { numRuns: 4000 },
    );
  }, 60_000);

  it('gives the verdict protobufjs gives on fields of any number and wire type', () => {
    const anyField = fc.tuple(
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 0, max: 7 }),
      fc.uint8Array({ maxLength: 20 }),
      fc.maxSafeNat(),
    );
    fc.assert(
      fc.property(fc.array(anyField, { maxLength: 12 }), (fields) => {
        const bytes = soup(fields);
        expect(handEnvelope(bytes)).toEqual(protobufjsEnvelope(bytes));
      }),
      { numRuns: 10_000 },
    );
  }, 60_000);
});
