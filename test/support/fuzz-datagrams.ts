// Hostile datagrams for the heartbeat channel, from a seeded generator: random bytes,
// genuine datagrams mutated, truncated or replayed, forgeries under a wrong key, and
// oversized ones. Used by the unit test (the endpoint's decode path), the lab test and
// `npm run bench -- fuzz` (a running daemon).
import { randomBytes } from 'node:crypto';
import { maxDatagramLength, sealDatagram } from '../../src/cluster/envelope.js';
import { Keyring } from '../../src/cluster/keys.js';
import { createBootId } from '../../src/cluster/replay.js';
import { seededRandom } from './random.js';

export const fuzzKinds = ['random', 'mutated', 'truncated', 'replayed', 'wrong-key', 'oversized'] as const;
export type FuzzKind = (typeof fuzzKinds)[number];

export class DatagramFuzzer {
  private readonly random: () => number;
  /** Signs forgeries: the right key id, another key. */
  private readonly wrongKey: Keyring;

  /**
   * `genuine`: authentic datagrams of the peer (the receiver may have accepted them: a
   * replay of one is a kind). `cluster` and `sender`: what the forgeries claim to be.
   */
  constructor(
    private readonly genuine: Buffer[],
    private readonly identity: { cluster: string; sender: string; keyId: number },
    seed: number,
  ) {
    if (genuine.length === 0) throw new Error('the fuzzer needs at least one genuine datagram');
    this.random = seededRandom(seed);
    this.wrongKey = new Keyring(new Map([[identity.keyId, randomBytes(32)]]), identity.keyId);
  }

  next(): { kind: FuzzKind; datagram: Buffer } {
    const kind = fuzzKinds[this.int(fuzzKinds.length)]!;
    return { kind, datagram: this.make(kind) };
  }

  private int(below: number): number {
    return Math.floor(this.random() * below);
  }

  private bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  private pick(): Buffer {
    return this.genuine[this.int(this.genuine.length)]!;
  }

  make(kind: FuzzKind): Buffer {
    switch (kind) {
      case 'random':
        return this.bytes(1 + this.int(maxDatagramLength));
      case 'mutated': {
        const datagram = Buffer.from(this.pick());
        for (let flips = 1 + this.int(4); flips > 0; flips--) {
          const at = this.int(datagram.length);
          datagram[at] = datagram[at]! ^ (1 + this.int(255));
        }
        return datagram;
      }
      case 'truncated': {
        const datagram = this.pick();
        return Buffer.from(datagram.subarray(0, this.int(datagram.length)));
      }
      case 'replayed':
        return this.pick();
      case 'wrong-key':
        return sealDatagram(this.wrongKey, {
          kind: 1,
          cluster: this.identity.cluster,
          sender: this.identity.sender,
          bootId: createBootId(),
          seq: 1 + this.int(1 << 30),
          echoBootId: Buffer.alloc(0),
          echoSeq: 0,
          payload: this.bytes(this.int(200)),
        });
      case 'oversized':
        return Buffer.concat([this.pick(), this.bytes(maxDatagramLength + 1 - this.pick().length + this.int(8000))]);
    }
  }
}
