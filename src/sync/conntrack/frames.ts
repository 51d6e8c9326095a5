// What the driver reads from its netlink sockets, walked in place: the datagrams the addon
// copied into one buffer (each from a 4-byte boundary) hold dump replies, events, and the
// acknowledgements of a batch of requests. Pure: the driver does the reading.
import { NLMSG_HEADER, readHostS32, readHostU16, readHostU32 } from '../../lib/netlink-attributes.js';
import type { ConntrackEntry } from './entry.js';
import { decodeConntrackMessage } from './message.js';
import { MessageType } from './uapi.js';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** Written by the addon where the kernel reported ENOBUFS: datagrams were dropped there. */
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export type ConntrackEvent = { type: 'new' | 'update' | 'destroy'; entry: ConntrackEntry };

/** Calls `visit` for each netlink message in the first `used` bytes of `buffer`, with
 *  where its payload (after the netlink header) starts and ends. */
export function forEachMessage(
  buffer: Buffer,
  used: number,
  visit: (type: number, flags: number, seq: number, start: number, end: number) => void,
): void {
  let offset = 0;
  while (offset + NLMSG_HEADER <= used) {
    const length = readHostU32(buffer, offset);
    if (length < NLMSG_HEADER || offset + length > used) {
      offset += 4; // the padding after a datagram
      continue;
    }
    visit(
      readHostU16(buffer, offset + 4),
      readHostU16(buffer, offset + 6),
      readHostU32(buffer, offset + 8),
      offset + NLMSG_HEADER,
      offset + length,
    );
    offset += (length + 3) & ~3;
  }
}

/** The errno (positive; 0 for an acknowledgement) an NLMSG_ERROR or NLMSG_DONE carries. */
export function errnoAt(buffer: Buffer, start: number, end: number): number {
  return end - start >= 4 ? Math.abs(readHostS32(buffer, start)) : 0;
}

/** Hands each entry of dump `seq`'s replies in the buffer (where its payload starts and
 *  ends) to `onEntry`. Returns the errno that ended the dump (0: it is complete), or
 *  undefined while more is to come. */
export function readDumpReplies(
  buffer: Buffer,
  used: number,
  seq: number,
  onEntry: (start: number, end: number) => void,
): number | undefined {
  let ended: number | undefined;
  forEachMessage(buffer, used, (type, _flags, messageSeq, start, end) => {
    if (messageSeq !== seq || ended !== undefined) return;
    if (type === NLMSG_DONE || type === NLMSG_ERROR) ended = errnoAt(buffer, start, end);
    else if (type === MessageType.new) onEntry(start, end);
  });
  return ended;
}

/** Records the errno of each request numbered `first` to `first + errnos.length - 1` that
 *  the buffer answers; true once the last one is answered (the kernel handles a
 *  datagram's requests in order, so every failure before it has been reported). */
export function readAcknowledgements(buffer: Buffer, used: number, first: number, errnos: Int32Array): boolean {
  const last = first + errnos.length - 1;
  let ended = false;
  forEachMessage(buffer, used, (type, _flags, seq, start, end) => {
    if (type !== NLMSG_ERROR || seq < first || seq > last) return;
    errnos[seq - first] = errnoAt(buffer, start, end);
    ended ||= seq === last;
  });
  return ended;
}

/** The events in the buffer, and how many overruns (lost events) lie among them. An
 *  event that cannot be decoded goes to `onUndecodable` and is skipped. */
export function readEvents(
  buffer: Buffer,
  used: number,
  onUndecodable: (error: Error) => void,
): { events: ConntrackEvent[]; overruns: number } {
  const events: ConntrackEvent[] = [];
  let overruns = 0;
  forEachMessage(buffer, used, (type, flags, _seq, start, end) => {
    if (type === NLMSG_OVERRUN) {
      overruns++;
      return;
    }
    const eventType =
      type === MessageType.delete ? 'destroy' : type === MessageType.new ? (flags & NLM_F_CREATE ? 'new' : 'update') : undefined;
    if (eventType === undefined) return;
    try {
      events.push({ type: eventType, entry: decodeConntrackMessage(buffer, start, end) });
    } catch (error) {
      onUndecodable(error as Error);
    }
  });
  return { events, overruns };
}
