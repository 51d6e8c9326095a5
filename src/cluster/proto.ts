// The .proto files in proto/ are the single source of the wire format. They are
// loaded at start (reflection) rather than compiled to static code: pbjs's static
// output is JavaScript whose types are loose anyway (every field optional and
// nullable, uint64 as number|Long), so strictness comes from the validating
// decoders next to each message type, which turn untrusted bytes into the strict
// domain types or a rejection. protobufjs compiles encoders and decoders for a
// reflected type on first use, so this costs nothing per packet.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// Two levels below the package root both as src/cluster/*.ts and dist/cluster/*.js.
const protoDir = fileURLToPath(new URL('../../proto/', import.meta.url));

export type MessageType = protobuf.Type;

/** What a validating decoder makes of untrusted bytes. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function loadMessageType(file: string, name: string): MessageType {
  return protobuf.loadSync(join(protoDir, file)).lookupType(name);
}

/** A uint64/uint32 field as a safe integer; undefined when it does not fit. */
export function safeInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (value !== null && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    const high32 = high >>> 0;
    // 2^53 = 2^21 * 2^32: larger values lose precision as a JavaScript number.
    return high32 < 0x200000 ? high32 * 0x1_0000_0000 + (low >>> 0) : undefined;
  }
  return undefined;
}

/** Decodes bytes with a reflected type; a malformed message yields undefined, never a throw. */
export function decodeMessage(type: MessageType, bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    return type.decode(bytes) as unknown as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function encodeMessage(type: MessageType, message: object): Uint8Array {
  return type.encode(message).finish();
}
