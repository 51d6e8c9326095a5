// The kernel's conntrack table over ctnetlink (NETLINK_NETFILTER), with the `netlink`
// package's raw sockets: each dump and each watch has a socket of its own, so a dump's
// parts, events and acknowledgements never interleave; commits share one.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { getSystemErrorName } from 'node:util';
import {
  Flags,
  FlagsGet,
  FlagsNew,
  formatMessage,
  MessageType as NetlinkMessageType,
  parseMessages,
  RawNetlinkSocket,
  readS32,
  type NetlinkMessage,
} from 'netlink';
import type { CommitResult } from '../table.js';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { ConntrackEntry } from './entry.js';
import { describeConntrack } from './entry.js';
import { buildCreate, buildUpdate, decodeConntrackMessage, nfgenmsg } from './message.js';
import { Group, MessageType, NETLINK_NETFILTER } from './uapi.js';

export type ConntrackEvent = { type: 'new' | 'update' | 'destroy'; entry: ConntrackEntry };

export interface CtnetlinkOptions {
  /** SO_RCVBUF of the event socket: a burst of events beyond it is lost (ENOBUFS). The
   *  kernel caps it at net.core.rmem_max. */
  eventBufferBytes?: number;
  /** CT_NEW messages per datagram when committing (the kernel answers only failures; a
   *  batch of failures, each echoing its request, must fit the receive buffer even at
   *  the default net.core.rmem_max). */
  batchSize?: number;
  /** Give up on a batch's acknowledgements after this long (ms). */
  requestTimeoutMs?: number;
  /** A message the kernel sent that could not be decoded (skipped). */
  onUndecodable?: (error: Error) => void;
}

/** Entries decoded between two returns to the event loop. */
const DECODE_CHUNK = 256;
const NLMSG_ERROR: number = NetlinkMessageType.ERROR;
const NLMSG_DONE: number = NetlinkMessageType.DONE;

export class Ctnetlink {
  private readonly commits = new SerialQueue();
  private readonly commandSocket: RawNetlinkSocket;
  private readonly acknowledgements = new Map<number, (errno: number) => void>();
  // held here: the netlink package's native socket calls back through weak references,
  // so a socket only its listeners reach could be collected while the kernel still sends
  private readonly watchSockets = new Set<RawNetlinkSocket>();
  private seq = 1;
  private readonly batchSize: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: CtnetlinkOptions = {}) {
    this.batchSize = options.batchSize ?? 256;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    // a failure echoes its request: room for a whole batch of them
    this.commandSocket = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.commandSocket.unref();
    this.commandSocket.on('message', (datagram) => {
      for (const message of parseMessagesSafely(datagram)) {
        if (message.type !== NLMSG_ERROR) continue;
        this.acknowledgements.get(message.seq)?.(readS32.call(message.data, 0));
      }
    });
    // a lost acknowledgement fails its batch at the timeout; the error itself is not fatal
    this.commandSocket.on('error', () => undefined);
  }

  close(): void {
    this.commandSocket.close();
    for (const socket of this.watchSockets) socket.close();
    this.watchSockets.clear();
  }

  /** The whole table (every family), decoded a datagram at a time as the kernel sends it. */
  async *dump(): AsyncGenerator<ConntrackEntry[]> {
    const socket = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 1 << 20, sendBufferSize: 0 });
    const datagrams: Buffer[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const arrived = () => {
      wake?.();
      wake = undefined;
    };
    socket.on('message', (datagram) => {
      datagrams.push(datagram);
      arrived();
    });
    socket.on('error', (error) => {
      failure = new Error(`conntrack dump: ${error.message}`);
      arrived();
    });
    const seq = this.nextSeq();
    socket.send(formatMessage({ type: MessageType.get, flags: Flags.REQUEST | FlagsGet.DUMP, seq, port: 0, data: nfgenmsg(0) }));
    try {
      let decodedSinceYield = 0;
      for (;;) {
        const datagram = datagrams.shift();
        if (datagram === undefined) {
          if (failure) throw failure;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const entries: ConntrackEntry[] = [];
        let done = false;
        for (const message of parseMessagesSafely(datagram)) {
          if (message.seq !== seq) continue;
          if (message.type === NLMSG_DONE) done = true;
          else if (message.type === NLMSG_ERROR) throw kernelError('conntrack dump', readS32.call(message.data, 0));
          else if (message.type === MessageType.new) this.decodeInto(entries, message);
        }
        if (entries.length > 0) yield entries;
        decodedSinceYield += entries.length;
        if (done) return;
        if (decodedSinceYield >= DECODE_CHUNK) {
          decodedSinceYield = 0;
          await yieldToEventLoop();
        }
      }
    } finally {
      socket.close();
    }
  }

  /** Kernel events as they come, one call per datagram read; `onLost` when the socket
   *  overflowed and events were dropped. Returns the function that stops watching. */
  watch(onEvents: (events: ConntrackEvent[]) => void, onLost: (error: Error) => void): () => void {
    const socket = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: this.options.eventBufferBytes ?? 16 << 20,
      sendBufferSize: 0,
    });
    for (const group of [Group.new, Group.update, Group.destroy]) socket.addMembership(group);
    socket.on('message', (datagram) => {
      const events: ConntrackEvent[] = [];
      for (const message of parseMessagesSafely(datagram)) {
        const type = eventType(message);
        if (type === undefined) continue;
        const entries: ConntrackEntry[] = [];
        this.decodeInto(entries, message);
        for (const entry of entries) events.push({ type, entry });
      }
      if (events.length > 0) onEvents(events);
    });
    socket.on('error', (error) =>
      onLost(new Error(`conntrack events lost: ${error.code} on the event socket (receive buffer ${socket.getRecvBufferSize()} bytes)`)),
    );
    this.watchSockets.add(socket);
    return () => {
      if (this.watchSockets.delete(socket)) socket.close();
    };
  }

  /** Creates each entry, or refreshes it where the kernel has one already; a batch of
   *  messages per datagram, each acknowledged on its own. */
  commit(entries: readonly ConntrackEntry[]): Promise<CommitResult & { created: number; updated: number }> {
    return this.commits.run(async () => {
      let created = 0;
      let updated = 0;
      let failed = 0;
      let firstError: string | undefined;
      const fail = (entry: ConntrackEntry, errno: number) => {
        failed++;
        firstError ??= `${describeConntrack(entry)}: ${errnoName(errno)}`;
      };
      for (let start = 0; start < entries.length; start += this.batchSize) {
        const batch = entries.slice(start, start + this.batchSize);
        const results = await this.send(batch.map((entry) => ({ flags: FlagsNew.CREATE | FlagsNew.EXCL, data: buildCreate(entry) })));
        const existing = batch.filter((entry, index) => results[index] === -EEXIST);
        batch.forEach((entry, index) => {
          const errno = results[index] ?? 0;
          if (errno === 0) created++;
          else if (errno !== -EEXIST) fail(entry, errno);
        });
        if (existing.length === 0) continue;
        const updates = await this.send(existing.map((entry) => ({ flags: 0, data: buildUpdate(entry) })));
        existing.forEach((entry, index) => {
          const errno = updates[index] ?? 0;
          if (errno === 0) updated++;
          else fail(entry, errno);
        });
        if (start + this.batchSize < entries.length) await yieldToEventLoop();
      }
      return { written: created + updated, created, updated, failed, ...(firstError !== undefined && { firstError }) };
    });
  }

  /** Sends the messages in one datagram; resolves with each one's errno (0, or negative).
   *  Only the last asks for an acknowledgement: the kernel handles a datagram's messages
   *  in order and reports each failure, so once the last is answered all have been. */
  private async send(messages: Array<{ flags: number; data: Buffer[] }>): Promise<number[]> {
    const port = this.commandSocket.address().port;
    const seqs = messages.map(() => this.nextSeq());
    const lastSeq = seqs[seqs.length - 1];
    const errnos = messages.map(() => 0);
    const answered = new Promise<void>((resolve) =>
      seqs.forEach((seq, index) =>
        this.acknowledgements.set(seq, (errno) => {
          errnos[index] = errno;
          this.acknowledgements.delete(seq);
          if (seq === lastSeq) resolve();
        }),
      ),
    );
    // unanswered by then, an outcome is unknown: counted as failed
    const unanswered = (errno: number) => {
      for (const seq of seqs) this.acknowledgements.get(seq)?.(errno);
    };
    const timer = setTimeout(() => unanswered(-ETIMEDOUT), this.requestTimeoutMs);
    const datagram = messages.flatMap((message, index) => {
      const seq = seqs[index] ?? 0;
      const flags = Flags.REQUEST | message.flags | (seq === lastSeq ? Flags.ACK : 0);
      return formatMessage({ type: MessageType.new, flags, seq, port, data: message.data });
    });
    this.commandSocket.send(datagram, {}, (error) => {
      if (error) unanswered(-Math.abs(error.errno));
    });
    try {
      await answered;
      return errnos;
    } finally {
      clearTimeout(timer);
      for (const seq of seqs) this.acknowledgements.delete(seq);
    }
  }

  private decodeInto(entries: ConntrackEntry[], message: NetlinkMessage): void {
    try {
      entries.push(decodeConntrackMessage(message.data));
    } catch (error) {
      this.options.onUndecodable?.(error as Error);
    }
  }

  private nextSeq(): number {
    const seq = this.seq;
    this.seq = (this.seq % 0x7fffffff) + 1;
    return seq;
  }
}

const EEXIST = 17;
const ETIMEDOUT = 110;

function eventType(message: NetlinkMessage): ConntrackEvent['type'] | undefined {
  if (message.type === MessageType.delete) return 'destroy';
  if (message.type !== MessageType.new) return undefined;
  return message.flags & FlagsNew.CREATE ? 'new' : 'update';
}

/** A datagram the netlink package cannot split into messages yields none. */
function parseMessagesSafely(datagram: Buffer): NetlinkMessage[] {
  try {
    return parseMessages(datagram);
  } catch {
    return [];
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `errno ${-errno}`;
  }
}

function kernelError(operation: string, errno: number): Error {
  return new Error(`${operation}: the kernel answered ${errnoName(errno)}`);
}
