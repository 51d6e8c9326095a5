// Netlink attributes (type-length-value, 4-byte aligned, host byte order unless an
// attribute says otherwise), written into one buffer and read in place. Tables of
// tens of thousands of destinations mean as many requests and replies: one allocation
// per message instead of one per attribute keeps the garbage collector out of the way.
import { endianness } from 'node:os';

const littleEndian = endianness() === 'LE';
const HEADER = 4;
const align = (n: number) => (n + 3) & ~3;

export class AttributeWriter {
  private buffer = Buffer.alloc(128);
  private length = 0;

  // Each writer asks put() for room before it touches this.buffer: put() may replace the buffer.
  u8(type: number, value: number): void {
    const at = this.put(type, 1);
    this.buffer.writeUInt8(value, at);
  }

  u16(type: number, value: number): void {
    const at = this.put(type, 2);
    if (littleEndian) this.buffer.writeUInt16LE(value, at);
    else this.buffer.writeUInt16BE(value, at);
  }

  /** Network byte order (ports). */
  be16(type: number, value: number): void {
    const at = this.put(type, 2);
    this.buffer.writeUInt16BE(value, at);
  }

  u32(type: number, value: number): void {
    const at = this.put(type, 4);
    if (littleEndian) this.buffer.writeUInt32LE(value >>> 0, at);
    else this.buffer.writeUInt32BE(value >>> 0, at);
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

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Appends an attribute header and zeroed, padded room for `size` bytes of value;
   *  returns where the value goes. The room is zero already: the buffer is allocated
   *  zeroed and written once, front to back. */
  private put(type: number, size: number): number {
    const start = this.length;
    const end = start + HEADER + align(size);
    if (end > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(end, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.header(start, type, HEADER + size);
    this.length = end;
    return start + HEADER;
  }

  private header(at: number, type: number, length: number): void {
    if (length > 0xffff) throw new Error(`netlink attribute ${type} is too long (${length} bytes)`);
    if (littleEndian) {
      this.buffer.writeUInt16LE(length, at);
      this.buffer.writeUInt16LE(type, at + 2);
    } else {
      this.buffer.writeUInt16BE(length, at);
      this.buffer.writeUInt16BE(type, at + 2);
    }
  }
}

/** The attributes of one level, read in place: the last of each type up to `maxType`
 *  counts (unknown newer ones are skipped), values are read from the buffer on demand. */
export class AttributeReader {
  private readonly bounds: Int32Array;

  constructor(
    private readonly buffer: Buffer,
    maxType: number,
  ) {
    this.bounds = new Int32Array(2 * (maxType + 1)).fill(-1);
    let offset = 0;
    while (offset + HEADER <= buffer.length) {
      const length = littleEndian ? buffer.readUInt16LE(offset) : buffer.readUInt16BE(offset);
      const type = (littleEndian ? buffer.readUInt16LE(offset + 2) : buffer.readUInt16BE(offset + 2)) & 0x3fff;
      if (length < HEADER || offset + length > buffer.length) throw new Error(`malformed netlink attribute at byte ${offset}`);
      if (type <= maxType) {
        this.bounds[2 * type] = offset + HEADER;
        this.bounds[2 * type + 1] = offset + length;
      }
      offset += align(length);
    }
  }

  has(type: number): boolean {
    return (this.bounds[2 * type] ?? -1) >= 0;
  }

  u8(type: number): number {
    return this.buffer.readUInt8(this.start(type, 1));
  }

  u16(type: number): number {
    const at = this.start(type, 2);
    return littleEndian ? this.buffer.readUInt16LE(at) : this.buffer.readUInt16BE(at);
  }

  be16(type: number): number {
    return this.buffer.readUInt16BE(this.start(type, 2));
  }

  u32(type: number): number {
    const at = this.start(type, 4);
    return littleEndian ? this.buffer.readUInt32LE(at) : this.buffer.readUInt32BE(at);
  }

  be32(type: number): number {
    return this.buffer.readUInt32BE(this.start(type, 4));
  }

  bytes(type: number): Buffer {
    const start = this.start(type, 0);
    return this.buffer.subarray(start, this.bounds[2 * type + 1]);
  }

  /** A NUL-terminated string. */
  string(type: number): string {
    const value = this.bytes(type);
    const end = value.indexOf(0);
    return value.toString('utf8', 0, end < 0 ? value.length : end);
  }

  nested(type: number, maxType: number): AttributeReader {
    return new AttributeReader(this.bytes(type), maxType);
  }

  private start(type: number, size: number): number {
    const start = this.bounds[2 * type] ?? -1;
    if (start < 0) throw new Error(`netlink attribute ${type} is missing`);
    if ((this.bounds[2 * type + 1] ?? 0) - start < size) throw new Error(`netlink attribute ${type} is shorter than ${size} bytes`);
    return start;
  }
}
