// The protobuf wire format by hand, for the messages sent and received 200 times
// a second per path pair: the heartbeat and its envelope. protobufjs's reflected codec cost
// about a tenth of an idle node's CPU (a writer operation object per field, a Long
// per uint64, a message object with prototype defaults). These read and write
// exactly what protobufjs 7 does, quirks included, so that a heartbeat's bytes and
// the verdict on hostile ones stay the same (test/unit/cluster/protowire.test.ts
// holds them to protobufjs): the last value of a field wins, a field is read as its
// declared type whatever its wire type, unknown fields are skipped, a string
// running past its message is cut short, everything else running past it throws.

/**
 * The byte at `index`. Where protobufjs reads past the end (it does near the end of
 * a message) it gets undefined, which counts as 0 bits with the continuation bit
 * set; so does this.
 */
const at = (buf: Buffer, index: number): number => buf[index] as number;

/** A uint64 that does not fit a safe integer: safeInteger() turns it away. */
export const unsafeInteger = -1;

const recursionLimit = 100;

class OutOfRange extends RangeError {
  constructor() {
    super('index out of range');
  }
}

/** protobufjs's Reader over a Buffer, for the types the heartbeat uses. Throws on malformed input. */
export class ProtoReader {
  pos = 0;
  /** The end of the message being read (nested messages narrow it). */
  len: number;

  constructor(private readonly buf: Buffer) {
    this.len = buf.length;
  }

  uint32(): number {
    const { buf } = this;
    if (this.len - this.pos < 5) {
      if (this.pos >= this.len) throw new OutOfRange();
      if (at(buf, this.pos) >= 128) return this.varint32NearEnd();
    }
    let value = at(buf, this.pos) & 127;
    if (at(buf, this.pos++) < 128) return value;
    value = (value | ((at(buf, this.pos) & 127) << 7)) >>> 0;
    if (at(buf, this.pos++) < 128) return value;
    value = (value | ((at(buf, this.pos) & 127) << 14)) >>> 0;
    if (at(buf, this.pos++) < 128) return value;
    value = (value | ((at(buf, this.pos) & 127) << 21)) >>> 0;
    if (at(buf, this.pos++) < 128) return value;
    value = (value | ((at(buf, this.pos) & 15) << 28)) >>> 0;
    if (at(buf, this.pos++) < 128) return value;
    // the five upper bytes of a 64-bit varint, skipped unread as protobufjs does
    if ((this.pos += 5) > this.len) {
      this.pos = this.len;
      throw new OutOfRange();
    }
    return value;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  /** A uint64 as a safe integer, or unsafeInteger. */
  uint64(): number {
    const [lo, hi] = this.longVarint();
    return hi < 0x200000 ? hi * 0x1_0000_0000 + lo : unsafeInteger;
  }

  string(): string {
    const length = this.uint32();
    const start = this.pos;
    this.pos = Math.min(start + length, this.len);
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A view of the bytes, not a copy; an empty field is a new empty Buffer, as protobufjs gives it. */
  bytes(): Buffer {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw new OutOfRange();
    this.pos = end;
    return length === 0 ? Buffer.alloc(0) : this.buf.subarray(start, end);
  }

  /** Reads a nested message's length and narrows the reader to it; pass the result to leave(). */
  enter(depth: number): { end: number; outer: number } {
    if (depth > recursionLimit) throw new Error('maximum nesting depth exceeded');
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.len) throw new OutOfRange();
    const outer = this.len;
    this.len = end;
    return { end, outer };
  }

  leave({ end, outer }: { end: number; outer: number }): void {
    if (this.pos !== end) throw new OutOfRange();
    this.len = outer;
  }

  skipType(wireType: number, depth: number): void {
    if (depth > recursionLimit) throw new Error('maximum nesting depth exceeded');
    switch (wireType) {
      case 0:
        do {
          if (this.pos >= this.len) throw new OutOfRange();
        } while (at(this.buf, this.pos++) & 128);
        break;
      case 1:
        this.skip(8);
        break;
      case 2:
        this.skip(this.uint32());
        break;
      case 3:
        while ((wireType = this.uint32() & 7) !== 4) this.skipType(wireType, depth + 1);
        break;
      case 5:
        this.skip(4);
        break;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private skip(length: number): void {
    if (this.pos + length > this.len) throw new OutOfRange();
    this.pos += length;
  }

  private varint32NearEnd(): number {
    let value = 0;
    for (let i = 0; i < 4; ++i) {
      if (this.pos >= this.len) throw new OutOfRange();
      const byte = at(this.buf, this.pos++);
      value = (value | ((byte & 127) << (i * 7))) >>> 0;
      if (byte < 128) return value;
    }
    throw new OutOfRange();
  }

  /** [low, high] 32 bits, as protobufjs's readLongVarint reads them. */
  private longVarint(): [number, number] {
    const { buf } = this;
    let lo = 0;
    let hi = 0;
    let i = 0;
    if (this.len - this.pos > 4) {
      for (; i < 4; ++i) {
        lo = (lo | ((at(buf, this.pos) & 127) << (i * 7))) >>> 0;
        if (at(buf, this.pos++) < 128) return [lo, hi];
      }
      lo = (lo | ((at(buf, this.pos) & 127) << 28)) >>> 0;
      hi = (hi | ((at(buf, this.pos) & 127) >> 4)) >>> 0;
      if (at(buf, this.pos++) < 128) return [lo, hi];
      i = 0;
    } else {
      for (; i < 3; ++i) {
        if (this.pos >= this.len) throw new OutOfRange();
        lo = (lo | ((at(buf, this.pos) & 127) << (i * 7))) >>> 0;
        if (at(buf, this.pos++) < 128) return [lo, hi];
      }
      // protobufjs takes a fourth byte near the end without looking at its continuation bit
      lo = (lo | ((at(buf, this.pos++) & 127) << (i * 7))) >>> 0;
      return [lo, hi];
    }
    const nearEnd = this.len - this.pos <= 4;
    for (; i < 5; ++i) {
      if (nearEnd && this.pos >= this.len) throw new OutOfRange();
      hi = (hi | ((at(buf, this.pos) & 127) << (i * 7 + 3))) >>> 0;
      if (at(buf, this.pos++) < 128) return [lo, hi];
    }
    throw new Error('invalid varint encoding');
  }
}

/** protobufjs's Writer for the heartbeat's types, into one reused buffer. */
export class ProtoWriter {
  private buf = Buffer.alloc(256);
  private pos = 0;

  /** A copy of what was written; the writer starts over. */
  finish(): Buffer {
    const bytes = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return bytes;
  }

  tag(field: number, wireType: 0 | 2): this {
    return this.uint32(((field << 3) | wireType) >>> 0);
  }

  uint32(value: number): this {
    this.reserve(5);
    this.pos = writeVarint32(this.buf, this.pos, value >>> 0);
    return this;
  }

  /** A negative value takes ten bytes, as a negative int64 would. */
  int32(value: number): this {
    return value < 0 ? this.uint64(value) : this.uint32(value);
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  /** As protobufjs's LongBits.fromNumber: fractions cut, negatives in two's complement. */
  uint64(value: number): this {
    if (value === 0) return this.uint32(0);
    const negative = value < 0;
    if (negative) value = -value;
    let lo = value >>> 0;
    let hi = ((value - lo) / 0x1_0000_0000) >>> 0;
    if (negative) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
      if (++lo > 0xffff_ffff) {
        lo = 0;
        if (++hi > 0xffff_ffff) hi = 0;
      }
    }
    return this.varint64(lo, hi);
  }

  string(value: string): this {
    const length = Buffer.byteLength(value);
    this.uint32(length);
    this.reserve(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.reserve(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** Writes a nested message: its tag, then its length before what `write` writes. */
  message(field: number, write: () => void): this {
    this.tag(field, 2);
    this.reserve(1);
    const start = ++this.pos;
    write();
    const length = this.pos - start;
    if (length < 128) {
      this.buf[start - 1] = length;
      return this;
    }
    // a longer length takes more bytes: move the content up behind them
    const lengthBytes = varintLength(length);
    this.reserve(lengthBytes - 1);
    this.buf.copyWithin(start - 1 + lengthBytes, start, this.pos);
    this.pos = writeVarint32(this.buf, start - 1, length) + length;
    return this;
  }

  private varint64(lo: number, hi: number): this {
    this.reserve(10);
    while (hi !== 0) {
      this.buf[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.pos = writeVarint32(this.buf, this.pos, lo);
    return this;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

/** A message as protobufjs's decoders build it: unset fields at their defaults. */
export type RawMessage = Record<string, unknown>;

/** Reads one field of a message into it; false for a field it does not know (skipped). */
export type FieldReader = (reader: ProtoReader, message: RawMessage, field: number, depth: number) => boolean;

/**
 * Reads fields until the end of the message into `message`, as protobufjs's generated
 * decoders do. `read` is best a function made once, not a closure per message.
 */
export function readFields(reader: ProtoReader, depth: number, message: RawMessage, read: FieldReader): RawMessage {
  const end = reader.len;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (!read(reader, message, tag >>> 3, depth)) reader.skipType(tag & 7, depth);
  }
  return message;
}

/** Writes an unsigned 32-bit value at `pos`; returns the position after it. */
function writeVarint32(buf: Buffer, pos: number, value: number): number {
  while (value > 127) {
    buf[pos++] = (value & 127) | 128;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

function varintLength(value: number): number {
  let bytes = 1;
  while (value > 127) {
    value >>>= 7;
    bytes++;
  }
  return bytes;
}
