import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../../../src/cluster/heartbeat.js';
import { decodeMessage, encodeMessage, loadMessageType } from '../../../src/cluster/proto.js';

const full: Heartbeat = {
  role: 'ACTIVE',
  priority: 150,
  term: 2 ** 40 + 3,
  serialNo: 2024010101,
  health: {
    canServe: false,
    monitorLinks: true,
    links: [
      { name: 'eth0', up: true },
      { name: 'eth1', up: false },
    ],
    fault: 'eth1 down',
  },
  peerView: [
    { path: 0, heard: true, lastSeq: 12345, silentMs: 12 },
    { path: 1, heard: false, lastSeq: 0, silentMs: 0 },
  ],
  request: { kind: 'handover', id: 7, reason: 'operator-failover' },
  timers: { keepaliveMs: 50, deadtimeMs: 200 },
  stateVersion: 9,
  peerStateVersion: 4,
  version: '0.1.0',
  claimedTerm: 2 ** 40 + 2,
};

const HeartbeatType = loadMessageType('heartbeat.proto', 'tandem.heartbeat.v1.Heartbeat');

describe('heartbeat codec', () => {
  it('round-trips every field', () => {
    expect(decodeHeartbeat(encodeHeartbeat(full))).toEqual({ ok: true, value: full });
    const withoutRequest: Heartbeat = { ...full };
    delete withoutRequest.request;
    expect(decodeHeartbeat(encodeHeartbeat(withoutRequest))).toEqual({ ok: true, value: withoutRequest });
  });

  it('decodes the heartbeat of a peer that sends no version (before the field existed) without one', () => {
    const older: Heartbeat = { ...full };
    delete older.version;
    const decoded = decodeHeartbeat(encodeMessage(HeartbeatType, encodable(older)));
    expect(decoded.ok && decoded.value.version).toBeUndefined();
    expect(decodeHeartbeat(encodeHeartbeat(older))).toEqual({ ok: true, value: older });
  });

  it('reads claimed_term as 0 from a peer that does not send it (an older version)', () => {
    const decoded = decodeHeartbeat(encodeMessage(HeartbeatType, encodable(full)));
    expect(decoded.ok && decoded.value.claimedTerm).toBe(0);
  });

  it('covers every field of proto/heartbeat.proto', () => {
    const raw = decodeMessage(HeartbeatType, encodeHeartbeat(full))!;
    const onWire = HeartbeatType.fieldsArray.map((f) => f.name);
    // A field added to the .proto but not to Heartbeat would be missing (default) here.
    expect(onWire.filter((name) => !Object.prototype.hasOwnProperty.call(raw, name) || raw[name] === null)).toEqual([]);
    expect(onWire.sort()).toEqual(Object.keys(full).sort());
  });

  it('rejects unknown roles and request reasons with a message, and ignores request kinds of newer versions', () => {
    const bad = (patch: object) => decodeHeartbeat(encodeMessage(HeartbeatType, { ...encodable(full), ...patch }));
    expect(bad({ role: 42 })).toEqual({ ok: false, error: 'role 42 is unknown' });
    expect(bad({ role: 0 })).toMatchObject({ ok: false });
    const newer = bad({ request: { kind: 9, id: 1, reason: 'preempt' } });
    expect(newer.ok && newer.value.request).toBeUndefined();
    expect(bad({ request: { kind: 1, id: 1, reason: 'because' } })).toEqual({ ok: false, error: 'request.reason "because" is unknown' });
    expect(bad({ health: { links: Array.from({ length: 65 }, () => ({ name: 'x', up: true })) } })).toMatchObject({ ok: false });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const decoded = decodeHeartbeat(bytes);
        expect(typeof decoded.ok).toBe('boolean');
      }),
      { numRuns: 5000 },
    );
  }, 60_000);

  it('never throws on mutated valid heartbeats', () => {
    const valid = encodeHeartbeat(full);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(valid.length),
        (flips, cut) => {
          const bytes = Uint8Array.from(valid);
          for (const [at, value] of flips) bytes[at] = value;
          expect(typeof decodeHeartbeat(bytes.subarray(0, cut)).ok).toBe('boolean');
        },
      ),
      { numRuns: 5000 },
    );
  }, 60_000);
});

function encodable(h: Heartbeat): Record<string, unknown> {
  return {
    role: 3,
    priority: h.priority,
    term: h.term,
    serialNo: h.serialNo,
    health: h.health,
    peerView: h.peerView,
    timers: h.timers,
    stateVersion: 1,
    peerStateVersion: 1,
  };
}
