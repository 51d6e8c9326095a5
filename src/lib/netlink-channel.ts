// One netlink socket with tandem's own framing: many requests are written into one
// datagram, replies are matched to the request they answer by sequence number and read
// in place from one reused buffer. The kernel answers a generic netlink or rtnetlink
// request before sendmsg returns, so the addon sends and reads in one call: nothing waits
// on the event loop, and nothing is allocated per datagram (the netlink package's socket
// spent more in callbacks, timers and garbage than the kernel in its work).
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { NLMSG_HEADER, readHostS32, readHostU16, readHostU32 } from './netlink-attributes.js';
import { netlinkAddon, type NetlinkAddon } from './netlink-addon.js';

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** Replies read per call: one or two datagrams (the addon keeps 64 KiB of room for the
 *  next), about 500 services or destinations decoded between two returns to the event
 *  loop. With 1 MiB, a 10,000-service read held the loop for seconds in the emulated VM. */
const REPLY_BUFFER = 128 << 10;

/** The replies to the requests numbered `first` to `last` (one request, or a batch). */
export interface Exchange {
  first: number;
  last: number;
  /** A message of the family answering request `seq`: what follows the family header
   *  (a generic netlink message's attributes) lies between `start` and `end` of `buffer` (a
   *  buffer reused for the next replies: copy what must outlive the call). */
  reply(buffer: Buffer, start: number, end: number, seq: number): void;
  /** An error (errno > 0) or an acknowledgement (0) of request `seq`. */
  status(seq: number, errno: number): void;
  /** The end of dump `seq`; errno > 0 when the kernel could not finish it. */
  done(errno: number, seq: number): void;
}

export interface NetlinkChannelOptions {
  /** NETLINK_GENERIC (16), NETLINK_ROUTE (0)… */
  protocol: number;
  /** The bytes after struct nlmsghdr that `Exchange.reply` skips: GENL_HEADER for generic netlink, 0 to get the whole payload. */
  familyHeader: number;
  /** How long `run` and `runEach` wait for replies that do not come. */
  timeout: number;
}

export class NetlinkChannel {
  readonly port: number;
  private seq = 1 + Math.floor(Math.random() * 0x3fffffff);
  private readonly addon: NetlinkAddon;
  private readonly fd: number;
  private readonly replies = Buffer.alloc(REPLY_BUFFER);
  private readonly familyHeader: number;
  private readonly timeout: number;

  constructor(options: NetlinkChannelOptions) {
    this.familyHeader = options.familyHeader;
    this.timeout = options.timeout;
    this.addon = netlinkAddon();
    this.fd = this.addon.open(options.protocol);
    this.port = this.addon.port(this.fd);
  }

  /** Sequence numbers for `count` requests about to be framed. */
  reserve(count: number): number {
    if (this.seq + count > 0xffffffff) this.seq = 1; // a range never straddles the wrap
    const first = this.seq;
    this.seq += count;
    return first;
  }

  /** Sends the framed requests and hands every reply to `exchange` until request
   *  `exchange.last` has ended. Returns to the event loop after each buffer of replies. */
  async run(frames: Buffer, exchange: Exchange): Promise<void> {
    await this.drive(exchange, (ended) => ended, this.sending(frames, exchange));
  }

  /** Dump requests framed one after another, numbered `exchange.first` to `.last`: the
   *  kernel runs one dump per socket at a time, so the addon sends each when the one before
   *  has ended, as many in one call as the reply buffer holds the answers of. */
  async runEach(frames: Buffer, exchange: Exchange): Promise<void> {
    const dump = this.dumping(frames);
    await this.drive(exchange, dump.finished, dump.read);
  }

  /** As run, without ever returning to the event loop: for the few requests of a
   *  takeover, whose answers the kernel has queued before sendmsg returns. Throws when one
   *  is not there at once. */
  runNow(frames: Buffer, exchange: Exchange): void {
    this.driveNow(exchange, (ended) => ended, this.sending(frames, exchange));
  }

  /** As runEach, without returning to the event loop: the kernel fills the next part of
   *  a dump as the last one is read, so a small dump (a host's links) takes one call. */
  runEachNow(frames: Buffer, exchange: Exchange): void {
    const dump = this.dumping(frames);
    this.driveNow(exchange, dump.finished, dump.read);
  }

  /** A read that sends the requests first, then reads what has come since. */
  private sending(frames: Buffer, exchange: Exchange): () => number {
    let request: Buffer | null = frames;
    return () => {
      const used = this.addon.exchange(this.fd, request, exchange.last, this.replies);
      request = null;
      return used;
    };
  }

  /** Reads that send the dumps one after another; finished once the last has ended. */
  private dumping(frames: Buffer): { read: () => number; finished: () => boolean } {
    const state = new Uint32Array(2);
    return {
      read: () => this.addon.dumpEach(this.fd, frames, state, this.replies),
      finished: () => (state[0] ?? 0) >= frames.length && state[1] === 0,
    };
  }

  private driveNow(exchange: Exchange, finished: (ended: boolean) => boolean, read: () => number): void {
    for (;;) {
      const used = read();
      if (finished(this.dispatch(used, exchange))) return;
      if (used === 0) throw new Error(`netlink: no answer to request ${exchange.last} at once`);
    }
  }

  /** Calls `read` and dispatches what it read until `finished`; gives up when nothing has
   *  come for `timeout` ms. */
  private async drive(exchange: Exchange, finished: (ended: boolean) => boolean, read: () => number): Promise<void> {
    let deadline = performance.now() + this.timeout;
    for (;;) {
      const used = read();
      if (finished(this.dispatch(used, exchange))) return;
      if (used > 0) deadline = performance.now() + this.timeout;
      else if (performance.now() > deadline) throw new Error('Timeout has been reached');
      // nothing queued yet (the kernel has always answered by now, but never spin), or a full buffer
      if (used === 0) await sleep(1);
      else await yieldToEventLoop();
    }
  }

  close(): void {
    this.addon.close(this.fd);
  }

  /** Hands the messages of the exchange to it; true once request `last` has ended. */
  private dispatch(used: number, exchange: Exchange): boolean {
    const buffer = this.replies;
    let ended = false;
    let offset = 0;
    while (offset + NLMSG_HEADER <= used) {
      const length = readHostU32(buffer, offset);
      if (length < NLMSG_HEADER) {
        offset += 4; // the padding after a datagram
        continue;
      }
      const type = readHostU16(buffer, offset + 4);
      const seq = readHostU32(buffer, offset + 8);
      // replies to an abandoned (timed-out) exchange have other numbers
      if (seq >= exchange.first && seq <= exchange.last) {
        if (type === NLMSG_ERROR) {
          exchange.status(seq, -readHostS32(buffer, offset + NLMSG_HEADER));
          ended ||= seq === exchange.last;
        } else if (type === NLMSG_DONE) {
          exchange.done(length >= NLMSG_HEADER + 4 ? -readHostS32(buffer, offset + NLMSG_HEADER) : 0, seq);
          ended ||= seq === exchange.last;
        } else if (length >= NLMSG_HEADER + this.familyHeader) {
          exchange.reply(buffer, offset + NLMSG_HEADER + this.familyHeader, offset + length, seq);
        }
      }
      offset += (length + 3) & ~3;
    }
    return ended;
  }
}
