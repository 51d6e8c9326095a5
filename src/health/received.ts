// What a real server sent, kept up to MAX_RECEIVED_BYTES and searched piece by piece as
// it arrives: each chunk is copied and matched once, so a server that trickles its
// answer a byte at a time costs no more than one that sends it at once.
import type { ChunkMatcher, Expectation } from '../lib/expectation.js';
import { MAX_RECEIVED_BYTES } from './check.js';

export class ReceivedBytes {
  private readonly chunks: Buffer[] = [];
  private matcher: ChunkMatcher | undefined;
  length = 0;
  /** Whether what was received so far matches the expectation (false without one). */
  matched = false;

  constructor(expect?: Expectation) {
    this.matcher = expect?.matcher();
    // an empty answer matches a pattern such as ^$
    this.add(Buffer.alloc(0));
  }

  /** Keeps what fits of the chunk; true once the expectation matches. */
  add(chunk: Buffer): boolean {
    const kept = chunk.subarray(0, MAX_RECEIVED_BYTES - this.length);
    if (kept.length > 0) this.chunks.push(kept);
    this.length += kept.length;
    if (this.matcher?.feed(kept)) {
      this.matched = true;
      this.matcher = undefined;
    }
    return this.matched;
  }

  get full(): boolean {
    return this.length >= MAX_RECEIVED_BYTES;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}
