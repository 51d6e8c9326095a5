// The receive path of the heartbeat channel (envelope, MAC, replay checks, heartbeat
// decoding) under hostile datagrams: nothing throws, nothing is accepted, every drop has
// a reason, and nothing unauthenticated changes what the endpoint knows.
import { describe, expect, it } from 'vitest';
import { ChannelEndpoint } from '../../../src/cluster/endpoint.js';
import { messageKinds } from '../../../src/cluster/envelope.js';
import { decodeHeartbeat } from '../../../src/cluster/heartbeat.js';
import { Keyring } from '../../../src/cluster/keys.js';
import { rejectReasons } from '../../../src/cluster/rejections.js';
import { ChannelSessions } from '../../../src/cluster/replay.js';
import { DatagramFuzzer, fuzzKinds } from '../../support/fuzz-datagrams.js';

const keyring = new Keyring(new Map([[1, Buffer.alloc(32, 7)]]), 1);
const endpoint = (self: string, peer: string) =>
  new ChannelEndpoint({ cluster: 'lab', self, peer }, messageKinds.heartbeat, keyring, new ChannelSessions());

/** CI-sized; `npm run bench -- fuzz` sends 10^6 at a running daemon. */
const count = Number(process.env.FUZZ_DATAGRAMS ?? 30_000);

describe('heartbeat channel fuzzing', () => {
  it(`drops ${count} hostile datagrams, each with a reason, and learns nothing from them`, () => {
    const a = endpoint('ifw01', 'ifw02');
    const b = endpoint('ifw02', 'ifw01');
    const genuine = Array.from({ length: 32 }, () => a.seal(Buffer.from('heartbeat'), 0).datagram);
    genuine.slice(0, 16).forEach((datagram) => expect(b.open(datagram, 0).ok).toBe(true));
    const known = JSON.stringify(b.sessions.echo(messageKinds.heartbeat));
    const fuzzer = new DatagramFuzzer(genuine.slice(0, 16), { cluster: 'lab', sender: 'ifw01', keyId: 1 }, 12);
    const byKind = new Map<string, Map<string, number>>();
    for (let i = 0; i < count; i++) {
      const { kind, datagram } = fuzzer.next();
      const opened = b.open(datagram, i % 2);
      if (opened.ok) decodeHeartbeat(opened.payload);
      const reason = opened.ok ? 'ACCEPTED' : opened.reason;
      const reasons = byKind.get(kind) ?? new Map<string, number>();
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      byKind.set(kind, reasons);
    }
    const accepted = [...byKind.values()].reduce((sum, reasons) => sum + (reasons.get('ACCEPTED') ?? 0), 0);
    expect(accepted).toBe(0);
    expect([...byKind.keys()].sort()).toEqual([...fuzzKinds].sort());
    for (const reasons of byKind.values()) for (const reason of reasons.keys()) expect(rejectReasons).toContain(reason);
    expect(JSON.stringify(b.sessions.echo(messageKinds.heartbeat))).toBe(known);
    // what was genuine and not yet seen still gets through
    expect(b.open(genuine[16]!, 0).ok).toBe(true);
    console.log(
      `fuzzed ${count} datagrams: ${[...byKind].map(([kind, reasons]) => `${kind} {${[...reasons].map(([r, n]) => `${r}: ${n}`).join(', ')}}`).join('; ')}`,
    );
  });
});
