import { describe, expect, it } from 'vitest';
import { AttributeWriter } from '../../../src/lib/netlink-attributes.js';
import {
  NLM_F_CREATE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_OVERRUN,
  forEachMessage,
  readAcknowledgements,
  readDumpReplies,
  readEvents,
} from '../../../src/sync/conntrack/frames.js';
import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';
import { appendCtNew } from '../../../src/sync/conntrack/message.js';
import { MessageType } from '../../../src/sync/conntrack/uapi.js';
import { ping6, udp } from './conntrack-fixtures.js';

// What the addon leaves in its buffer: datagrams, each from a 4-byte boundary, headers in
// host order (little-endian here).
function header(type: number, seq: number, payload: Buffer = Buffer.alloc(0), flags = 0): Buffer {
  const out = Buffer.alloc(16);
  out.writeUInt32LE(16 + payload.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  return Buffer.concat([out, payload]);
}
const errno = (value: number) => {
  const payload = Buffer.alloc(20); // the error, then the request's header (NETLINK_CAP_ACK)
  payload.writeInt32LE(-value, 0);
  return payload;
};
/** A CT_NEW message for the entry as the kernel sends it in a dump or an event. */
function ctMessage(entry: ConntrackEntry, seq: number, flags: number, type: number = MessageType.new): Buffer {
  const out = new AttributeWriter();
  appendCtNew(out, 'create', entry, seq, 0, flags);
  const message = Buffer.from(out.toBuffer());
  message.writeUInt16LE(type, 4);
  return message;
}
const buffer = (...datagrams: Buffer[]) => Buffer.concat([...datagrams, Buffer.alloc(8)]); // and zeroed room after

describe('ctnetlink frames read in place', () => {
  it('walks the messages of several datagrams, skipping the padding after each', () => {
    const seen: number[][] = [];
    const bytes = buffer(header(NLMSG_DONE, 7, Buffer.alloc(4)), Buffer.alloc(4), header(NLMSG_ERROR, 8, errno(0)));
    forEachMessage(bytes, bytes.length - 8, (type, _flags, seq, start, end) => seen.push([type, seq, end - start]));
    expect(seen).toEqual([
      [NLMSG_DONE, 7, 4],
      [NLMSG_ERROR, 8, 20],
    ]);
  });

  it("maps a batch's errors back to its requests, and ends at the last one's acknowledgement", () => {
    const errnos = new Int32Array(4);
    const first = 100;
    const failures = buffer(header(NLMSG_ERROR, 101, errno(17)), header(NLMSG_ERROR, 99, errno(1)));
    expect(readAcknowledgements(failures, failures.length, first, errnos)).toBe(false);
    const rest = buffer(header(NLMSG_ERROR, 102, errno(22)), header(NLMSG_ERROR, 103, errno(0)));
    expect(readAcknowledgements(rest, rest.length, first, errnos)).toBe(true);
    expect([...errnos]).toEqual([0, 17, 22, 0]);
  });

  it("reads a dump's entries until its end, or the errno that ended it", () => {
    const entries: number[] = [];
    const parts = buffer(ctMessage(udp, 5, 0x2), ctMessage(ping6, 6, 0x2), ctMessage(ping6, 5, 0x2));
    expect(readDumpReplies(parts, parts.length, 5, (start) => entries.push(start))).toBeUndefined();
    expect(entries).toHaveLength(2);
    const done = buffer(header(NLMSG_DONE, 5, Buffer.alloc(4)), ctMessage(udp, 5, 0x2));
    expect(readDumpReplies(done, done.length, 5, (start) => entries.push(start))).toBe(0);
    expect(entries).toHaveLength(2);
    const failed = buffer(header(NLMSG_ERROR, 5, errno(16)));
    expect(readDumpReplies(failed, failed.length, 5, () => undefined)).toBe(16);
  });

  it('reads events by type, counts the overruns among them and skips what does not decode', () => {
    const undecodable: Error[] = [];
    const broken = ctMessage(udp, 0, 0);
    broken.writeUInt8(7, 16); // address family 7
    const bytes = buffer(
      ctMessage(udp, 0, NLM_F_CREATE),
      header(NLMSG_OVERRUN, 0),
      ctMessage(ping6, 0, 0),
      broken,
      ctMessage(udp, 0, 0, MessageType.delete),
      header(NLMSG_OVERRUN, 0),
    );
    const { events, overruns } = readEvents(bytes, bytes.length, (error) => undecodable.push(error));
    expect(events).toEqual([
      { type: 'new', entry: udp },
      { type: 'update', entry: ping6 },
      { type: 'destroy', entry: udp },
    ]);
    expect(overruns).toBe(2);
    expect(undecodable.map((error) => error.message)).toEqual([expect.stringMatching(/address family 7/)]);
  });
});
