// Netlink attributes (type-length-value, 4-byte aligned, host byte order unless an
// attribute says otherwise), written into one buffer and read in place. Tables of
// tens of thousands of destinations mean as many requests and replies: one allocation
// per message instead of one per attribute keeps the garbage collector out of the way.
import { endianness } from 'node:os';

const littleEndian = endianness() === 'LE';
const HEADER = 4;
const align = (n: number) => (n + 3) & ~3;

/** struct nlmsghdr, then struct genlmsghdr: what precedes a generic netlink message's attributes. */
export const NLMSG_HEADER = 16;
export const GENL_HEADER = 4;

export function readHostU16(buffer: Buffer, at: number): number {
  return littleEndian ? buffer.readUInt16LE(at) : buffer.readUInt16BE(at);
}

export function readHostU32(buffer: Buffer, at: number): number {
  return littleEndian ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
}

export function readHostS32(buffer: Buffer, at: number): number {
  return littleEndian ? buffer.readInt32LE(at) : buffer.readInt32BE(at);
}

export class AttributeWriter {
  private buffer: Buffer;
  private length = 0;

  /** `capacity`: the bytes expected (a batch of messages), so the buffer need not grow.
   *  Unzeroed memory from Node's pool (every byte is written before it is sent): a
   *  buffer of its own per request kept the garbage collector busy on large tables. */
  constructor(capacity = 128) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  /** A whole generic netlink message (headers, then the attributes `build` writes): many
   *  of them in one writer are sent in one datagram. */
  message(type: number, flags: number, seq: number, port: number, command: number, version: number, build?: (out: this) => void): void {
    const start = this.begin(type, flags, seq, port, GENL_HEADER);
    this.buffer.writeUInt8(command, start + NLMSG_HEADER);
    this.buffer.writeUInt8(version, start + NLMSG_HEADER + 1);
    build?.(this);
    this.writeU32(this.length - start, start);
  }

  /** A whole netlink message whose family header (rtnetlink's ifinfomsg, ifaddrmsg) is `familyHeader`. */
  messageWithHeader(type: number, flags: number, seq: number, port: number, familyHeader: Uint8Array, build?: (out: this) => void): void {
    const start = this.begin(type, flags, seq, port, familyHeader.length);
    this.buffer.set(familyHeader, start + NLMSG_HEADER);
    build?.(this);
    this.writeU32(this.length - start, start);
  }

  // Each writer asks put() for room before it touches this.buffer: put() may replace the buffer.
  u8(type: number, value: number): void {
    const at = this.put(type, 1);
    this.buffer.writeUInt8(value, at);
  }

  u16(type: number, value: number): void {
    this.writeU16(value, this.put(type, 2));
  }

  /** Network byte order (ports). */
  be16(type: number, value: number): void {
    const at = this.put(type, 2);
    this.buffer.writeUInt16BE(value, at);
  }

  u32(type: number, value: number): void {
    this.writeU32(value, this.put(type, 4));
  }

  /** Network byte order (ctnetlink's integers). */
  be32(type: number, value: number): void {
    const at = this.put(type, 4);
    this.buffer.writeUInt32BE(value >>> 0, at);
  }

  bytes(type: number, value: Uint8Array, size = value.length): void {
    const at = this.put(type, size);
    this.buffer.set(value, at);
  }

  /** A NUL-terminated string. */
  string(type: number, value: string): void {
    const size = Buffer.byteLength(value) + 1;
    const at = this.put(type, size);
    this.buffer.write(value, at);
  }

  /** An attribute holding the attributes `build` writes. */
  nest(type: number, build: () => void): void {
    const start = this.length;
    this.put(type, 0);
    build();
    this.header(start, type, this.length - start);
  }

  get size(): number {
    return this.length;
  }

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Appends an attribute header and zeroed, padded room for `size` bytes of value;
   *  returns where the value goes. The room is zero already: the buffer is allocated
   *  zeroed and written once, front to back. */
  private put(type: number, size: number): number {
    const start = this.length;
    const end = start + HEADER + align(size);
    this.reserve(end - start);
    this.buffer.fill(0, start, end);
    this.header(start, type, HEADER + size);
    this.length = end;
    return start + HEADER;
  }

  /** struct nlmsghdr (its length written once the message is complete) and a zeroed, padded family header; returns where the message starts. */
  private begin(type: number, flags: number, seq: number, port: number, familyHeaderLength: number): number {
    const start = this.length;
    const size = NLMSG_HEADER + align(familyHeaderLength);
    this.reserve(size);
    this.buffer.fill(0, start, start + size);
    this.writeU16(type, start + 4);
    this.writeU16(flags, start + 6);
    this.writeU32(seq, start + 8);
    this.writeU32(port, start + 12);
    this.length += size;
    return start;
  }

  private reserve(bytes: number): void {
    const end = this.length + bytes;
    if (end <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(end, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  private header(at: number, type: number, length: number): void {
    if (length > 0xffff) throw new Error(`netlink attribute ${type} is too long (${length} bytes)`);
    this.writeU16(length, at);
    this.writeU16(type, at + 2);
  }

  private writeU16(value: number, at: number): void {
    if (littleEndian) this.buffer.writeUInt16LE(value, at);
    else this.buffer.writeUInt16BE(value, at);
  }

  private writeU32(value: number, at: number): void {
    if (littleEndian) this.buffer.writeUInt32LE(value >>> 0, at);
    else this.buffer.writeUInt32BE(value >>> 0, at);
  }
}

/** The attributes of one level, read in place: the last of each type up to `maxType`
 *  counts (unknown newer ones are skipped), values are read from the buffer on demand.
 *  `parse` points a reader at another message, so decoding thousands of replies can
 *  reuse one reader per level instead of allocating. */
export class AttributeReader {
  private readonly bounds: Int32Array;
  private buffer: Buffer;

  constructor(buffer: Buffer, maxType: number, start = 0, end = buffer.length) {
    this.bounds = new Int32Array(2 * (maxType + 1));
    this.buffer = buffer;
    this.parse(buffer, start, end);
  }

  /** Reads the attributes in `buffer` from `start` to `end`, forgetting the previous ones. */
  parse(buffer: Buffer, start = 0, end = buffer.length): this {
    this.buffer = buffer;
    this.bounds.fill(-1);
    const maxType = this.bounds.length / 2 - 1;
    let offset = start;
    while (offset + HEADER <= end) {
      const length = readHostU16(buffer, offset);
      const type = readHostU16(buffer, offset + 2) & 0x3fff;
      if (length < HEADER || offset + length > end) throw new Error(`malformed netlink attribute at byte ${offset - start}`);
      if (type <= maxType) {
        this.bounds[2 * type] = offset + HEADER;
        this.bounds[2 * type + 1] = offset + length;
      }
      offset += align(length);
    }
    return this;
  }

  has(type: number): boolean {
    return (this.bounds[2 * type] ?? -1) >= 0;
  }

  u8(type: number): number {
    return this.buffer.readUInt8(this.start(type, 1));
  }

  u16(type: number): number {
    return readHostU16(this.buffer, this.start(type, 2));
  }

  be16(type: number): number {
    return this.buffer.readUInt16BE(this.start(type, 2));
  }

  u32(type: number): number {
    return readHostU32(this.buffer, this.start(type, 4));
  }

  be32(type: number): number {
    return this.buffer.readUInt32BE(this.start(type, 4));
  }

  bytes(type: number): Buffer {
    const start = this.start(type, 0);
    return this.buffer.subarray(start, this.bounds[2 * type + 1]);
  }

  /** A dotted quad straight from the buffer (no copy of the bytes); see formatIp. */
  ipv4(type: number): string {
    const at = this.start(type, 4);
    const b = this.buffer;
    return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  }

  /** A NUL-terminated string. */
  string(type: number): string {
    const start = this.start(type, 0);
    const limit = this.bounds[2 * type + 1] ?? start;
    const nul = this.buffer.indexOf(0, start);
    return this.buffer.toString('utf8', start, nul < 0 || nul > limit ? limit : nul);
  }

  nested(type: number, maxType: number): AttributeReader {
    const start = this.start(type, 0);
    return new AttributeReader(this.buffer, maxType, start, this.bounds[2 * type + 1]);
  }

  /** Points `into` at the attributes nested in `type` (a reader reused across messages). */
  nestedInto(type: number, into: AttributeReader): AttributeReader {
    const start = this.start(type, 0);
    return into.parse(this.buffer, start, this.bounds[2 * type + 1]);
  }

  private start(type: number, size: number): number {
    const start = this.bounds[2 * type] ?? -1;
    if (start < 0) throw new Error(`netlink attribute ${type} is missing`);
    if ((this.bounds[2 * type + 1] ?? 0) - start < size) throw new Error(`netlink attribute ${type} is shorter than ${size} bytes`);
    return start;
  }
}
