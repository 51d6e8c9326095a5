// The kernel's conntrack table over ctnetlink (NETLINK_NETFILTER), through tandem's netlink
// addon (native/netlink.c). Commits are driven synchronously, as the IPVS driver's
// requests are: the kernel handles a datagram of CT_NEW requests inside sendmsg, so a
// batch of a thousand entries is one call with no callback, timer or Buffer per message.
// Dumps run on a libuv worker thread: the kernel makes each part inside sendmsg or
// recvmsg by walking its hash table, all of it for the first part of a small table
// (about 30 ms at 262,144 buckets), which would stall heartbeats and a claim. Events are read when libuv finds
// their socket readable, in bursts of a few milliseconds. The kernel's report of lost
// events (ENOBUFS) stays on, as conntrackd keeps it: it becomes onLost (a resync),
// never an exception. Each dump and each watch has a socket of its own, so a dump's
// parts, events and acknowledgements never interleave; commits share one.
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { getSystemErrorName } from 'node:util';
import type { CommitResult } from '../table.js';
import { exchangeOffThread, netlinkAddon, type NetlinkAddon } from '../../lib/netlink-addon.js';
import { AttributeWriter, NLMSG_HEADER } from '../../lib/netlink-attributes.js';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { ConntrackEntry } from './entry.js';
import { describeConntrack } from './entry.js';
import {
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  readAcknowledgements,
  readDumpReplies,
  readEvents,
  type ConntrackEvent,
} from './frames.js';
import { appendCtNew, decodeConntrackMessage, type CtNewKind } from './message.js';
import { Group, MessageType, NETLINK_NETFILTER, NFGENMSG_LENGTH, NFNETLINK_V0 } from './uapi.js';

export type { ConntrackEvent } from './frames.js';

export interface CtnetlinkOptions {
  /** SO_RCVBUF of the event socket: a burst of events beyond it is lost (ENOBUFS), and
   *  the peer resyncs. Set with SO_RCVBUFFORCE, beyond net.core.rmem_max. */
  eventBufferBytes?: number;
  /** CT_NEW messages per datagram when committing: the kernel answers only failures,
   *  and a batch of them must fit the command socket's receive buffer (4 MiB). */
  batchSize?: number;
  /** Give up on a dump or a batch the kernel stopped answering after this long (ms). */
  requestTimeoutMs?: number;
  /** A message the kernel sent that could not be decoded (skipped). */
  onUndecodable?: (error: Error) => void;
}

/** Read per call: the addon keeps 64 KiB of room for the next datagram, so 64 to 128 KiB
 *  of dump parts or events (some hundreds of entries) are decoded between two returns
 *  to the event loop. */
const READ_BUFFER = 128 << 10;
/** How long one readable event socket may hold the event loop before libuv's next turn
 *  (its poll is level-triggered: the rest is read then). */
const EVENT_BURST_MS = 4;
const EEXIST = 17;
const ETIMEDOUT = 110;

export class Ctnetlink {
  private readonly addon: NetlinkAddon;
  private readonly commits = new SerialQueue();
  private readonly commandSocket: number;
  private readonly commandPort: number;
  private readonly replies = Buffer.alloc(READ_BUFFER);
  private readonly watches = new Set<() => void>();
  private seq = 1 + Math.floor(Math.random() * 0x3fffffff);
  private readonly batchSize: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: CtnetlinkOptions = {}) {
    this.batchSize = options.batchSize ?? 1000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.addon = netlinkAddon();
    this.commandSocket = this.addon.open(NETLINK_NETFILTER);
    this.commandPort = this.addon.port(this.commandSocket);
  }

  close(): void {
    for (const stop of this.watches) stop();
    this.addon.close(this.commandSocket);
  }

  /** nf_conntrack_count of this process's namespace: its entries, confirmed or not; undefined when unreadable. */
  entryCount(): number | undefined {
    try {
      const count = Number.parseInt(readFileSync('/proc/sys/net/netfilter/nf_conntrack_count', 'latin1'), 10);
      return Number.isInteger(count) && count >= 0 ? count : undefined;
    } catch {
      return undefined;
    }
  }

  /** The whole table (every family), decoded a buffer of dump parts at a time. */
  async *dump(): AsyncGenerator<ConntrackEntry[]> {
    const socket = this.addon.open(NETLINK_NETFILTER);
    try {
      const seq = this.reserve(1);
      const out = new AttributeWriter(NLMSG_HEADER + NFGENMSG_LENGTH);
      out.message(MessageType.get, NLM_F_REQUEST | NLM_F_DUMP, seq, this.addon.port(socket), 0, NFNETLINK_V0);
      const buffer = Buffer.alloc(READ_BUFFER);
      let request: Buffer | null = out.toBuffer();
      let deadline = performance.now() + this.requestTimeoutMs;
      for (;;) {
        const used = await exchangeOffThread(this.addon, socket, request, seq, buffer);
        request = null;
        const entries: ConntrackEntry[] = [];
        const ended = readDumpReplies(buffer, used, seq, (start, end) => this.decodeInto(entries, buffer, start, end));
        if (ended !== undefined && ended !== 0) throw kernelError('conntrack dump', ended);
        if (entries.length > 0) yield entries;
        if (ended === 0) return;
        if (used > 0) deadline = performance.now() + this.requestTimeoutMs;
        else if (performance.now() > deadline) {
          throw new Error(`conntrack dump: no reply from the kernel within ${this.requestTimeoutMs} ms`);
        } else await sleep(1); // the kernel has always answered by now, but never spin
      }
    } finally {
      this.addon.close(socket);
    }
  }

  /** Kernel events as they come, a burst per call; `onLost` when the kernel dropped
   *  events for the socket (it overflowed) or the socket failed. Returns the function
   *  that stops watching. */
  watch(onEvents: (events: ConntrackEvent[]) => void, onLost: (error: Error) => void): () => void {
    const socket = this.addon.open(NETLINK_NETFILTER);
    let granted: number;
    try {
      granted = this.addon.setReceiveBuffer(socket, this.options.eventBufferBytes ?? 16 << 20);
      for (const group of [Group.new, Group.update, Group.destroy]) this.addon.subscribe(socket, group);
    } catch (error) {
      this.addon.close(socket);
      throw error;
    }
    const buffer = Buffer.alloc(READ_BUFFER);
    const undecodable = (error: Error) => this.options.onUndecodable?.(error);
    const lost = (why: string) => onLost(new Error(`conntrack events lost: ${why} on the event socket (receive buffer ${granted} bytes)`));
    const drain = (errno: number, stopped: boolean) => {
      if (stopped) {
        stop();
        onLost(new Error(`conntrack events: the event socket failed (${errnoName(errno)}); no longer watching`));
        return;
      }
      if (errno !== 0) lost(errnoName(errno)); // the overflow was fetched with the error: no marker follows
      const deadline = performance.now() + EVENT_BURST_MS;
      do {
        let used: number;
        try {
          used = this.addon.receive(socket, buffer);
        } catch (error) {
          onLost(new Error(`conntrack events: ${(error as Error).message}`));
          return;
        }
        if (used === 0) return;
        const { events, overruns } = readEvents(buffer, used, undecodable);
        if (events.length > 0) onEvents(events);
        if (overruns > 0) lost('ENOBUFS');
      } while (performance.now() < deadline);
    };
    const poll = this.addon.poll(socket, drain);
    const stop = () => {
      if (!this.watches.delete(stop)) return;
      this.addon.unpoll(poll);
      this.addon.close(socket);
    };
    this.watches.add(stop);
    return stop;
  }

  /** Creates each entry, or refreshes it where the kernel has one already: a batch of
   *  CT_NEW messages per datagram, one acknowledgement per batch. */
  commit(entries: readonly ConntrackEntry[]): Promise<CommitResult & { created: number; updated: number }> {
    return this.commits.run(async () => {
      let created = 0;
      let updated = 0;
      let failed = 0;
      let firstError: string | undefined;
      const fail = (entry: ConntrackEntry, why: string) => {
        failed++;
        firstError ??= `${describeConntrack(entry)}: ${why}`;
      };
      for (let start = 0; start < entries.length; start += this.batchSize) {
        const batch = entries.slice(start, start + this.batchSize);
        const existing: ConntrackEntry[] = [];
        await this.send('create', batch, (entry, errno) => {
          if (errno === 0) created++;
          else if (errno === EEXIST) existing.push(entry);
          else fail(entry, errnoName(errno));
        }).catch((error: unknown) => batch.forEach((entry) => fail(entry, (error as Error).message)));
        if (existing.length > 0) {
          await this.send('update', existing, (entry, errno) => {
            if (errno === 0) updated++;
            else fail(entry, errnoName(errno));
          }).catch((error: unknown) => existing.forEach((entry) => fail(entry, (error as Error).message)));
        }
        if (start + this.batchSize < entries.length) await yieldToEventLoop();
      }
      return { written: created + updated, created, updated, failed, ...(firstError !== undefined && { firstError }) };
    });
  }

  /** Sends one CT_NEW per entry in one datagram, only the last asking for an
   *  acknowledgement, and hands each entry its errno (0: done). Throws when the kernel
   *  refused the datagram. */
  private async send(
    kind: CtNewKind,
    entries: readonly ConntrackEntry[],
    outcome: (entry: ConntrackEntry, errno: number) => void,
  ): Promise<void> {
    const first = this.reserve(entries.length);
    const last = first + entries.length - 1;
    const base = NLM_F_REQUEST | (kind === 'create' ? NLM_F_CREATE | NLM_F_EXCL : 0);
    const out = new AttributeWriter(entries.length * 256);
    entries.forEach((entry, index) =>
      appendCtNew(out, kind, entry, first + index, this.commandPort, first + index === last ? base | NLM_F_ACK : base),
    );
    const errnos = new Int32Array(entries.length);
    const deadline = performance.now() + this.requestTimeoutMs;
    let request: Buffer | null = out.toBuffer();
    for (;;) {
      const used = this.addon.exchange(this.commandSocket, request, last, this.replies);
      request = null;
      if (readAcknowledgements(this.replies, used, first, errnos)) break;
      if (used > 0) continue;
      if (performance.now() > deadline) {
        // unanswered by now, an outcome is unknown: counted as failed
        errnos.forEach((errno, index) => (errnos[index] = errno === 0 ? ETIMEDOUT : errno));
        break;
      }
      await sleep(1);
    }
    entries.forEach((entry, index) => outcome(entry, errnos[index] ?? 0));
  }

  private decodeInto(entries: ConntrackEntry[], buffer: Buffer, start: number, end: number): void {
    try {
      entries.push(decodeConntrackMessage(buffer, start, end));
    } catch (error) {
      this.options.onUndecodable?.(error as Error);
    }
  }

  /** Sequence numbers for `count` requests; a range never straddles the wrap. */
  private reserve(count: number): number {
    if (this.seq + count > 0xffffffff) this.seq = 1;
    const first = this.seq;
    this.seq += count;
    return first;
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

function kernelError(operation: string, errno: number): Error {
  return new Error(`${operation}: the kernel answered ${errnoName(errno)}`);
}
