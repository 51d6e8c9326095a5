// The kernel's IPVS sync protocol, version 1 (net/netfilter/ipvs/ip_vs_sync.c): an
// 8-byte message header, then up to 255 connection records, each 4-byte aligned:
//   type u8 (bit 0: IPv6) | protocol u8 | version(4 bits, 0) size(12 bits) be16
//   flags be32 | state be16 | cport vport dport be16 | fwmark be32 | timeout be32 (s)
//   caddr vaddr daddr (4 or 16 bytes each) | options: type u8, length u8, data
// tandem reads the master daemon's messages, carries single records over its own
// channel, and writes messages to the local backup daemon. Decoding is strict: a record
// the kernel would drop, or one that is not exactly one record, throws.
import { formatIp, ipBytes, type IpFamily } from '../../lib/address.js';
import { backupFlagMask, ConnFlag, Protocol, stateNames, type IpvsConnection } from './connection.js';

export const messageHeaderLength = 8;
const recordHeaderLength = 24;
const maxConnectionsPerMessage = 255;
const protocolVersion = 1;
const typeIpv6 = 1;
const Option = { sequence: 1, persistenceData: 2, persistenceName: 3, optionalBit: 64 } as const;
const sequenceLength = 24;
const maxEngineName = 16;
const maxEngineData = 255;

const addressLength = (family: IpFamily) => (family === 4 ? 4 : 16);

export class SyncMessageError extends Error {
  override readonly name = 'SyncMessageError';
}

function fail(message: string): never {
  throw new SyncMessageError(message);
}

/** The record's length on the wire, before alignment padding. */
export function recordLength(connection: IpvsConnection): number {
  let length = recordHeaderLength + 3 * addressLength(connection.family);
  if (connection.sequence) length += 2 + sequenceLength;
  if (connection.persistence) length += 4 + connection.persistence.data.length + Buffer.byteLength(connection.persistence.engine);
  return length;
}

/** One connection as a version-1 sync record (no message header, no padding). */
export function encodeRecord(connection: IpvsConnection): Buffer {
  const out = Buffer.alloc(recordLength(connection));
  writeRecord(connection, out, 0);
  return out;
}

function writeRecord(connection: IpvsConnection, out: Buffer, at: number): number {
  const length = recordLength(connection);
  if (length > 0x0fff) fail(`a sync record of ${length} bytes does not fit its 12-bit size`);
  out.writeUInt8(connection.family === 6 ? typeIpv6 : 0, at);
  out.writeUInt8(connection.protocol, at + 1);
  out.writeUInt16BE(length, at + 2);
  out.writeUInt32BE(connection.flags >>> 0, at + 4);
  out.writeUInt16BE(connection.state, at + 8);
  out.writeUInt16BE(connection.client.port, at + 10);
  out.writeUInt16BE(connection.virtual.port, at + 12);
  out.writeUInt16BE(connection.destination.port, at + 14);
  out.writeUInt32BE(connection.fwmark >>> 0, at + 16);
  out.writeUInt32BE(connection.timeoutSeconds >>> 0, at + 20);
  let offset = at + recordHeaderLength;
  for (const endpoint of [connection.client, connection.virtual, connection.destination]) {
    const bytes = ipBytes(endpoint.address);
    if (bytes.length !== addressLength(connection.family)) fail(`${endpoint.address} is not an IPv${connection.family} address`);
    offset += bytes.copy(out, offset);
  }
  if (connection.sequence) {
    offset = out.writeUInt8(Option.sequence, offset);
    offset = out.writeUInt8(sequenceLength, offset);
    offset += Buffer.from(connection.sequence).copy(out, offset);
  }
  if (connection.persistence) {
    const name = Buffer.from(connection.persistence.engine);
    offset = out.writeUInt8(Option.persistenceData, offset);
    offset = out.writeUInt8(connection.persistence.data.length, offset);
    offset += Buffer.from(connection.persistence.data).copy(out, offset);
    offset = out.writeUInt8(Option.persistenceName, offset);
    offset = out.writeUInt8(name.length, offset);
    offset += name.copy(out, offset);
  }
  return offset;
}

/** Exactly one version-1 sync record; throws SyncMessageError on anything the kernel's
 *  backup would refuse or misread. */
export function decodeRecord(bytes: Uint8Array): IpvsConnection {
  const record = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoded = readRecord(record, 0, record.length, true);
  if (decoded.end !== record.length) fail(`${record.length - decoded.end} byte(s) after the sync record`);
  return decoded.connection;
}

function readRecord(buffer: Buffer, at: number, limit: number, strictFlags: boolean): { connection: IpvsConnection; end: number } {
  if (at + recordHeaderLength > limit) fail(`a sync record needs ${recordHeaderLength} bytes, ${limit - at} left`);
  const type = buffer.readUInt8(at);
  if (type !== 0 && type !== typeIpv6) fail(`unknown sync record type ${type}`);
  const family: IpFamily = type === typeIpv6 ? 6 : 4;
  const versionSize = buffer.readUInt16BE(at + 2);
  if (versionSize >> 12 !== 0) fail(`unknown sync record version ${versionSize >> 12}`);
  const size = versionSize & 0x0fff;
  const end = at + size;
  const addresses = recordHeaderLength + 3 * addressLength(family);
  if (size < addresses) fail(`a sync record of ${size} bytes is shorter than its IPv${family} addresses`);
  if (end > limit) fail(`a sync record of ${size} bytes runs past the end (${limit - at} left)`);
  const protocol = buffer.readUInt8(at + 1);
  const sentFlags = buffer.readUInt32BE(at + 4);
  // The master sends all of its flags; a backup keeps only these (tandem sends no others).
  const flags = sentFlags & backupFlagMask;
  if (strictFlags && flags !== sentFlags) fail(`connection flags 0x${sentFlags.toString(16)} beyond a backup's`);
  const state = buffer.readUInt16BE(at + 8);
  const template = (flags & ConnFlag.template) !== 0;
  if (!template) {
    const names = stateNames[protocol];
    if (!names) fail(`unsupported protocol ${protocol}`);
    if (state >= names.length) fail(`state ${state} is out of range for protocol ${protocol}`);
  } else if (protocol !== Protocol.ip && !stateNames[protocol]) fail(`unsupported template protocol ${protocol}`);
  const length = addressLength(family);
  const address = (index: number) =>
    formatIp(buffer.subarray(at + recordHeaderLength + index * length, at + recordHeaderLength + (index + 1) * length), family);
  let sequence: Uint8Array | undefined;
  let engineData: Uint8Array | undefined;
  let engine: string | undefined;
  for (let offset = at + addresses; offset < end;) {
    if (offset + 2 > end) fail('a truncated sync record option');
    const optionType = buffer.readUInt8(offset);
    const optionLength = buffer.readUInt8(offset + 1);
    const data = buffer.subarray(offset + 2, offset + 2 + optionLength);
    if (optionLength === 0 || offset + 2 + optionLength > end) fail(`sync record option ${optionType} has a bad length ${optionLength}`);
    switch (optionType & ~Option.optionalBit) {
      case Option.sequence:
        if (optionLength !== sequenceLength || sequence) fail('a bad or repeated sequence option');
        sequence = Uint8Array.from(data);
        break;
      case Option.persistenceData:
        if (optionLength > maxEngineData || engineData) fail('a bad or repeated persistence data option');
        engineData = Uint8Array.from(data);
        break;
      case Option.persistenceName:
        if (optionLength > maxEngineName || engine !== undefined) fail('a bad or repeated persistence engine option');
        engine = data.toString('latin1');
        if (!/^[a-z0-9_]+$/.test(engine)) fail(`a bad persistence engine name ${JSON.stringify(engine)}`);
        break;
      default:
        if (!(optionType & Option.optionalBit)) fail(`unknown mandatory sync record option ${optionType}`);
    }
    offset += 2 + optionLength;
  }
  if ((engineData === undefined) !== (engine === undefined)) fail('persistence data without its engine name, or the reverse');
  const connection: IpvsConnection = {
    family,
    protocol,
    flags,
    state,
    client: { address: address(0), port: buffer.readUInt16BE(at + 10) },
    virtual: { address: address(1), port: buffer.readUInt16BE(at + 12) },
    destination: { address: address(2), port: buffer.readUInt16BE(at + 14) },
    fwmark: buffer.readUInt32BE(at + 16),
    timeoutSeconds: buffer.readUInt32BE(at + 20),
    ...(sequence && { sequence }),
    ...(engine !== undefined && engineData && { persistence: { engine, data: engineData } }),
  };
  return { connection, end };
}

/** Version-1 messages of at most `maxLength` bytes and 255 records each, for a backup
 *  daemon started with that sync id and at least that maximum length. */
export function packMessages(connections: readonly IpvsConnection[], syncId: number, maxLength: number): Buffer[] {
  const messages: Buffer[] = [];
  let buffer = Buffer.alloc(maxLength);
  let used = messageHeaderLength;
  let count = 0;
  const flush = () => {
    if (count === 0) return;
    buffer.writeUInt8(0, 0);
    buffer.writeUInt8(syncId, 1);
    buffer.writeUInt16BE(used, 2);
    buffer.writeUInt8(count, 4);
    buffer.writeInt8(protocolVersion, 5);
    buffer.writeUInt16BE(0, 6);
    messages.push(buffer.subarray(0, used));
    buffer = Buffer.alloc(maxLength);
    used = messageHeaderLength;
    count = 0;
  };
  for (const connection of connections) {
    const length = recordLength(connection);
    if (messageHeaderLength + length > maxLength) fail(`a sync record of ${length} bytes does not fit messages of ${maxLength}`);
    let padding = (4 - (used % 4)) % 4;
    if (count === maxConnectionsPerMessage || used + padding + length > maxLength) {
      flush();
      padding = 0;
    }
    used = writeRecord(connection, buffer, used + padding);
    count += 1;
  }
  flush();
  return messages;
}

/** The records of one version-1 message as the master daemon sends it; throws
 *  SyncMessageError on a malformed message (version 0 included: tandem starts the
 *  daemons and never asks for it). */
export function parseMessage(datagram: Uint8Array): { syncId: number; connections: IpvsConnection[] } {
  const buffer = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (buffer.length < messageHeaderLength) fail(`a sync message of ${buffer.length} bytes is shorter than its header`);
  if (buffer.readUInt16BE(2) !== buffer.length) fail(`a sync message says ${buffer.readUInt16BE(2)} bytes and has ${buffer.length}`);
  if (buffer.readUInt8(0) !== 0 || buffer.readInt8(5) !== protocolVersion || buffer.readUInt16BE(6) !== 0)
    fail('not a version 1 sync message');
  const count = buffer.readUInt8(4);
  const connections: IpvsConnection[] = [];
  let at = messageHeaderLength;
  for (let index = 0; index < count; index++) {
    const { connection, end } = readRecord(buffer, at, buffer.length, false);
    connections.push(connection);
    at = at + ((end - at + 3) & ~3);
  }
  return { syncId: buffer.readUInt8(1), connections };
}
