// The secure channel without sockets: envelope, authentication, identity and
// replay checks, each reject reason, key rotation, and fuzzing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChannelEndpoint, type Accepted, type Rejected } from '../../../src/cluster/endpoint.js';
import {
  maxDatagramLength,
  messageKinds,
  openDatagram,
  peekFreshness,
  sealDatagram,
  type Envelope,
} from '../../../src/cluster/envelope.js';
import { Keyring } from '../../../src/cluster/keys.js';
import { ChannelSessions, createBootId, ReplayWindow } from '../../../src/cluster/replay.js';
import { LogRateLimiter } from '../../../src/cluster/rejections.js';

const key1 = Buffer.alloc(32, 1);
const key2 = Buffer.alloc(32, 2);
const keyring = (signing = 1, keys: [number, Buffer][] = [[1, key1]]) => new Keyring(new Map(keys), signing);
const payload = Buffer.from('heartbeat payload');

function pair(options: { aKeys?: Keyring; bKeys?: Keyring; aBoot?: Buffer; cluster?: string } = {}) {
  const a = new ChannelEndpoint(
    { cluster: options.cluster ?? 'lab', self: 'ifw01', peer: 'ifw02' },
    messageKinds.heartbeat,
    options.aKeys ?? keyring(),
    new ChannelSessions(options.aBoot),
  );
  const b = new ChannelEndpoint(
    { cluster: 'lab', self: 'ifw02', peer: 'ifw01' },
    messageKinds.heartbeat,
    options.bKeys ?? keyring(),
    new ChannelSessions(),
  );
  return { a, b };
}

function rejected(result: Accepted | Rejected): string | undefined {
  return result.ok ? undefined : result.reason;
}

describe('secure channel envelope', () => {
  it('delivers what was sealed, with sequence number, boot id and key id', () => {
    const { a, b } = pair();
    const { datagram, seq } = a.seal(payload);
    const opened = b.open(datagram);
    expect(opened).toMatchObject({
      ok: true,
      seq,
      bootId: a.sessions.bootId.toString('hex'),
      keyId: 1,
      bootChange: 'first-contact',
      echoesUs: false,
    });
    expect(Buffer.from((opened as Accepted).payload)).toEqual(payload);
    // Once B has answered, A's datagrams echo B's boot.
    a.open(b.seal(payload).datagram);
    expect(b.open(a.seal(payload).datagram)).toMatchObject({ ok: true, echoesUs: true });
  });

  it('rejects by length, magic, version, key id and MAC before parsing', () => {
    const { a, b } = pair();
    const good = a.seal(payload).datagram;
    expect(rejected(b.open(good.subarray(0, 39)))).toBe('bad-length');
    expect(rejected(b.open(Buffer.alloc(maxDatagramLength + 1)))).toBe('bad-length');
    expect(rejected(b.open(Buffer.concat([Buffer.from('XDM'), good.subarray(3)])))).toBe('bad-magic');
    const v2 = Buffer.from(good);
    v2[3] = 2;
    expect(rejected(b.open(v2))).toBe('unsupported-version');
    const otherKeyId = Buffer.from(good);
    otherKeyId.writeUInt32BE(9, 4);
    expect(rejected(b.open(otherKeyId))).toBe('unknown-key');
    const flipped = Buffer.from(good);
    flipped[20] = flipped[20]! ^ 1;
    expect(rejected(b.open(flipped))).toBe('bad-mac');
    const badMac = Buffer.from(good);
    badMac[badMac.length - 1] = badMac[badMac.length - 1]! ^ 0x80;
    expect(rejected(b.open(badMac))).toBe('bad-mac');
  });

  it('rejects a packet signed with a different key under the same id (wrong key)', () => {
    const { a, b } = pair({ aKeys: keyring(1, [[1, key2]]) });
    expect(rejected(b.open(a.seal(payload).datagram))).toBe('bad-mac');
  });

  it('accepts either key of a rotation and signs with the configured one', () => {
    const both: [number, Buffer][] = [
      [1, key1],
      [2, key2],
    ];
    const { a, b } = pair({ aKeys: keyring(2, both), bKeys: keyring(1, both) });
    expect(b.open(a.seal(payload).datagram)).toMatchObject({ ok: true, keyId: 2 });
    expect(a.open(b.seal(payload).datagram)).toMatchObject({ ok: true, keyId: 1 });
    const onlyOld = pair({ aKeys: keyring(2, both), bKeys: keyring(1, [[1, key1]]) });
    expect(rejected(onlyOld.b.open(onlyOld.a.seal(payload).datagram))).toBe('unknown-key');
  });

  it('rejects an authentic envelope that does not parse', () => {
    const ring = keyring();
    const body = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const signed = Buffer.concat([Buffer.from('TDM'), Buffer.from([1, 0, 0, 0, 1]), body]);
    const datagram = Buffer.concat([signed, ring.sign(signed)]);
    expect(openDatagram(ring, datagram)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('rejects the wrong cluster, an unknown sender, its own reflected datagram and another kind', () => {
    const { a, b } = pair({ cluster: 'other' });
    expect(rejected(b.open(a.seal(payload).datagram))).toBe('wrong-cluster');
    const stranger = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw03', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(),
    );
    const { b: b2 } = pair();
    expect(rejected(b2.open(stranger.seal(payload).datagram))).toBe('unknown-sender');
    expect(rejected(b2.open(b2.seal(payload).datagram))).toBe('unknown-sender');
    const envelope: Envelope = {
      kind: 7,
      cluster: 'lab',
      sender: 'ifw01',
      bootId: createBootId(),
      seq: 1,
      echoBootId: Buffer.alloc(0),
      echoSeq: 0,
      payload,
    };
    expect(rejected(b2.open(sealDatagram(keyring(), envelope)))).toBe('wrong-kind');
  });
});

describe('heartbeat paths', () => {
  it('refuses a copy moved to another path, without using up the genuine copy', () => {
    const { a, b } = pair();
    const onPrivate = a.seal(payload, 1).datagram;
    // an attacker on the public link injects what it took from the private one, ahead of it
    expect(b.open(onPrivate, 0)).toMatchObject({ ok: false, reason: 'wrong-path', detail: 'sent on path 1, arrived on path 0' });
    expect(b.open(onPrivate, 1)).toMatchObject({ ok: true });
  });

  it('accepts a datagram that does not say its path on any path (an older sender)', () => {
    const { b } = pair();
    const envelope: Envelope = {
      kind: messageKinds.heartbeat,
      cluster: 'lab',
      sender: 'ifw01',
      bootId: createBootId(),
      seq: 1,
      echoBootId: Buffer.alloc(0),
      echoSeq: 0,
      payload,
    };
    expect(b.open(sealDatagram(keyring(), envelope), 1).ok).toBe(true);
  });
});

describe('replay protection', () => {
  it('accepts each sequence number once, also out of order within the window', () => {
    const { a, b } = pair();
    const datagrams = Array.from({ length: 10 }, () => a.seal(payload).datagram);
    expect(b.open(datagrams[4]!).ok).toBe(true);
    expect(rejected(b.open(datagrams[4]!))).toBe('replay');
    expect(b.open(datagrams[6]!).ok).toBe(true);
    expect(b.open(datagrams[5]!).ok).toBe(true);
    expect(rejected(b.open(datagrams[5]!))).toBe('replay');
    // Older than the first one this boot of B accepted: could be a recording.
    expect(rejected(b.open(datagrams[3]!))).toBe('replay');
  });

  it('rejects numbers that fell out of the window', () => {
    const { a, b } = pair();
    const first = a.seal(payload).datagram;
    const second = a.seal(payload).datagram;
    expect(b.open(first).ok).toBe(true);
    for (let i = 0; i < 200; i++) expect(b.open(a.seal(payload).datagram).ok).toBe(true);
    expect(rejected(b.open(second))).toBe('replay');
  });

  it('accepts a restarted peer (newer boot) and then rejects the old boot as stale', () => {
    const { a, b } = pair({ aBoot: createBootId(1000) });
    const old = [a.seal(payload).datagram, a.seal(payload).datagram];
    expect(b.open(old[0]!).ok).toBe(true);
    const restarted = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(2000)),
    );
    expect(b.open(restarted.seal(payload).datagram)).toMatchObject({ ok: true, bootChange: 'restarted' });
    expect(rejected(b.open(old[1]!))).toBe('stale-boot');
    expect(rejected(b.open(old[0]!))).toBe('stale-boot');
  });

  it('accepts a restarted peer whose clock went back only when it echoes our recent sequence number', () => {
    const { a, b } = pair({ aBoot: createBootId(5000) });
    expect(b.open(a.seal(payload).datagram).ok).toBe(true);
    const earlier = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(4000)),
    );
    expect(rejected(b.open(earlier.seal(payload).datagram))).toBe('stale-boot');
    // It hears B, so its next datagram proves it was made after B's last one.
    earlier.open(b.seal(payload).datagram);
    expect(b.open(earlier.seal(payload).datagram)).toMatchObject({ ok: true, bootChange: 'restarted-clock-back' });
  });

  it('after our restart, takes a datagram for proven only if it echoes our boot: a recording never is', () => {
    const { a } = pair({ aBoot: createBootId(1000) });
    const recorded = Array.from({ length: 3 }, () => a.seal(payload).datagram);
    // B restarts: the recording is all it hears first, and it cannot tell.
    const restartedB = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw02', peer: 'ifw01' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(),
    );
    expect(restartedB.open(recorded[0]!)).toMatchObject({ ok: true, bootChange: 'first-contact', proven: false });
    expect(restartedB.open(recorded[1]!)).toMatchObject({ ok: true, proven: false });
    // The live peer (the same boot) hears B and echoes it: proven from then on.
    a.open(restartedB.seal(payload).datagram);
    expect(restartedB.open(a.seal(payload).datagram)).toMatchObject({ ok: true, echoesUs: true, proven: true });
    // A recorded datagram B never saw is still within the window, but it does not echo B.
    expect(restartedB.open(recorded[2]!)).toMatchObject({ ok: true, proven: false });
    // A later boot of a proven peer is running since B started: proven before it echoes.
    const next = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(2000)),
    );
    expect(restartedB.open(next.seal(payload).datagram)).toMatchObject({
      ok: true,
      bootChange: 'restarted',
      proven: true,
      echoesUs: false,
    });
  });

  it('a boot that succeeds an unproven one stays unproven until it echoes us', () => {
    const old = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(1000)),
    );
    const live = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(2000)),
    );
    const { b } = pair();
    expect(b.open(old.seal(payload).datagram)).toMatchObject({ ok: true, proven: false });
    expect(b.open(live.seal(payload).datagram)).toMatchObject({ ok: true, bootChange: 'restarted', proven: false });
    live.open(b.seal(payload).datagram);
    expect(b.open(live.seal(payload).datagram)).toMatchObject({ ok: true, proven: true });
    expect(rejected(b.open(old.seal(payload).datagram))).toBe('stale-boot');
  });

  it('window arithmetic', () => {
    const w = new ReplayWindow();
    expect(w.isNew(10)).toBe(true);
    w.accept(10);
    expect([w.isNew(10), w.isNew(9), w.isNew(11)]).toEqual([false, false, true]);
    w.accept(300);
    expect([w.isNew(150), w.isNew(172), w.isNew(173), w.isNew(299), w.isNew(300)]).toEqual([false, false, true, true, false]);
  });
});

describe('dropping before the MAC', () => {
  const envelopeArb = fc.record({
    kind: fc.integer({ min: 0, max: 3 }),
    cluster: fc.string({ maxLength: 20 }),
    sender: fc.string({ maxLength: 20 }),
    bootId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    echoBootId: fc.oneof(
      fc.constant(Buffer.alloc(0)),
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
    ),
    echoSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    payload: fc.uint8Array({ maxLength: 300 }),
  });

  it('reads the same kind, boot ids and sequence numbers as the decoder after the MAC', () => {
    const ring = keyring();
    fc.assert(
      fc.property(envelopeArb, (envelope) => {
        const datagram = sealDatagram(ring, envelope);
        const opened = openDatagram(ring, datagram);
        if (!opened.ok) throw new Error(opened.detail);
        const { kind, bootId, seq, echoBootId, echoSeq } = opened.envelope;
        expect(peekFreshness(datagram.subarray(8, datagram.length - 32))).toEqual({ kind, bootId, seq, echoBootId, echoSeq });
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        peekFreshness(Buffer.from(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it('lets no forgery, sent ahead of the genuine datagram it copies, make it drop that datagram', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 20 }), fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 40 }), (forgeries) => {
        const { a, b } = pair();
        const genuine = Array.from({ length: 20 }, () => a.seal(payload).datagram);
        // Each forgery is a copy of a genuine datagram, sent before it, with one byte changed.
        const sent = genuine.flatMap((datagram, i) => [
          ...forgeries
            .filter(([target]) => target === i)
            .map(([, at, xor]) => {
              const forged = Buffer.from(datagram);
              forged[at % forged.length] = forged[at % forged.length]! ^ xor;
              return forged;
            }),
          datagram,
        ]);
        const accepted = sent.filter((datagram) => b.open(datagram).ok);
        expect(accepted).toEqual(genuine);
      }),
      { numRuns: 500 },
    );
  });

  it('costs no HMAC for a copy of an accepted datagram or one of a superseded boot', () => {
    let macs = 0;
    const counting = new (class extends Keyring {
      override verify(keyId: number, data: Uint8Array, mac: Uint8Array) {
        macs += 1;
        return super.verify(keyId, data, mac);
      }
    })(new Map([[1, key1]]), 1);
    const { a, b } = pair({ bKeys: counting, aBoot: createBootId(1000) });
    const first = a.seal(payload).datagram;
    expect(b.open(first).ok).toBe(true);
    const copy = Buffer.from(first);
    copy[copy.length - 1] = copy[copy.length - 1]! ^ 1;
    const restarted = new ChannelEndpoint(
      { cluster: 'lab', self: 'ifw01', peer: 'ifw02' },
      messageKinds.heartbeat,
      keyring(),
      new ChannelSessions(createBootId(2000)),
    );
    expect(b.open(restarted.seal(payload).datagram).ok).toBe(true);
    macs = 0;
    expect([rejected(b.open(first)), rejected(b.open(copy)), rejected(b.open(a.seal(payload).datagram))]).toEqual([
      'stale-boot',
      'stale-boot',
      'stale-boot',
    ]);
    const again = restarted.seal(payload).datagram;
    expect(b.open(again).ok).toBe(true);
    expect(rejected(b.open(again))).toBe('replay');
    expect(macs).toBe(1);
  });
});

describe('fuzzing the receive path', () => {
  it('never throws and never accepts random bytes', () => {
    const { b } = pair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), (bytes) => {
        expect(b.open(Buffer.from(bytes)).ok).toBe(false);
      }),
      { numRuns: 5000 },
    );
  }, 60_000);

  it('never throws and never accepts a mutated datagram', () => {
    const { a, b } = pair();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), (flips) => {
        const sealed = a.seal(payload).datagram;
        const datagram = Buffer.from(sealed);
        for (const [at, xor] of flips) datagram[at % datagram.length] = datagram[at % datagram.length]! ^ xor;
        // two flips of the same byte with the same value cancel out: that datagram is not mutated
        fc.pre(!datagram.equals(sealed));
        expect(b.open(datagram).ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  it('never throws on authentic garbage (a peer with the key and a bug)', () => {
    const ring = keyring();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (body) => {
        const signed = Buffer.concat([Buffer.from('TDM'), Buffer.from([1, 0, 0, 0, 1]), body]);
        const result = openDatagram(ring, Buffer.concat([signed, ring.sign(signed)]));
        if (!result.ok) expect(['malformed', 'bad-length']).toContain(result.reason);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);
});

describe('log rate limiting', () => {
  it('logs the first, then one per interval with the number suppressed', () => {
    const limiter = new LogRateLimiter<'bad-mac'>(1000);
    expect(limiter.admit('bad-mac', 0)).toEqual({ suppressed: 0 });
    expect(limiter.admit('bad-mac', 10)).toBeUndefined();
    expect(limiter.admit('bad-mac', 999)).toBeUndefined();
    expect(limiter.admit('bad-mac', 1000)).toEqual({ suppressed: 2 });
  });
});
