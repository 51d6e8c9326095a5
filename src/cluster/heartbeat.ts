// The heartbeat message: strict domain types and a total decoder that turns an
// authenticated payload into a Heartbeat or says what is wrong with it. The bytes
// are those of proto/heartbeat.proto, read and written by hand (protowire.ts).
import { safeInteger, type Decoded } from './proto.js';
import { ProtoReader, ProtoWriter, readFields, type FieldReader, type RawMessage as Raw } from './protowire.js';

/** Wire order: ROLE_INIT = 1 … ROLE_STOPPED = 6. */
export const roles = ['INIT', 'BACKUP', 'ACTIVE', 'FAULT', 'STANDBY', 'STOPPED'] as const;
export type Role = (typeof roles)[number];

/** Why a node hands the active role over; the peer claims with the same reason. */
export const handoverReasons = ['operator-failover', 'operator-takeover', 'operator-standby', 'preempt'] as const;
export type HandoverReason = (typeof handoverReasons)[number];

export interface LinkState {
  name: string;
  up: boolean;
}

export interface HealthSummary {
  /** false: this node must not be (or stay) active. */
  canServe: boolean;
  monitorLinks: boolean;
  links: LinkState[];
  /** Why it cannot serve; empty when it can. */
  fault: string;
}

export interface PathView {
  path: number;
  heard: boolean;
  lastSeq: number;
  silentMs: number;
}

export interface PeerRequest {
  /** handover: "I released, claim now"; takeover: "hand the role over to me". */
  kind: 'handover' | 'takeover';
  id: number;
  reason: HandoverReason;
}

export interface Heartbeat {
  role: Role;
  priority: number;
  term: number;
  serialNo: number;
  health: HealthSummary;
  peerView: PathView[];
  request?: PeerRequest;
  timers: { keepaliveMs: number; deadtimeMs: number };
  stateVersion: number;
  peerStateVersion: number;
  /** The sender's software version; absent from a peer that does not send it. */
  version?: string;
  /** The term whose claim the sender completed (addresses announced, tables in); 0 if none or an older peer. */
  claimedTerm: number;
}

const requestKinds = [undefined, 'handover', 'takeover'] as const;

const writer = new ProtoWriter();

/** Field by field as protobufjs encodes proto/heartbeat.proto (each field present is written, zero or not). */
export function encodeHeartbeat(heartbeat: Heartbeat): Buffer {
  const { health, request, timers } = heartbeat;
  writer
    .tag(1, 0)
    .int32(roles.indexOf(heartbeat.role) + 1)
    .tag(2, 0)
    .uint32(heartbeat.priority)
    .tag(3, 0)
    .uint64(heartbeat.term)
    .tag(4, 0)
    .uint64(heartbeat.serialNo);
  writer.message(5, () => {
    writer.tag(1, 0).bool(health.canServe).tag(2, 0).bool(health.monitorLinks);
    for (const link of health.links) writer.message(3, () => writer.tag(1, 2).string(link.name).tag(2, 0).bool(link.up));
    writer.tag(4, 2).string(health.fault);
  });
  for (const view of heartbeat.peerView) {
    writer.message(6, () =>
      writer.tag(1, 0).uint32(view.path).tag(2, 0).bool(view.heard).tag(3, 0).uint64(view.lastSeq).tag(4, 0).uint32(view.silentMs),
    );
  }
  if (request) {
    writer.message(7, () =>
      writer.tag(1, 0).int32(requestKinds.indexOf(request.kind)).tag(2, 0).uint64(request.id).tag(3, 2).string(request.reason),
    );
  }
  writer.message(8, () => writer.tag(1, 0).uint32(timers.keepaliveMs).tag(2, 0).uint32(timers.deadtimeMs));
  writer
    .tag(9, 0)
    .uint64(heartbeat.stateVersion)
    .tag(10, 0)
    .uint64(heartbeat.peerStateVersion)
    .tag(11, 2)
    .string(heartbeat.version ?? '')
    .tag(12, 0)
    .uint64(heartbeat.claimedTerm);
  return writer.finish();
}

// Bounds on what a sane peer sends; the datagram size limits them anyway, these
// keep a valid-MAC but buggy peer from feeding us absurd values.
const maxLinks = 64;
const maxPaths = 8;
const maxNameLength = 64;

class Invalid extends Error {}

function field<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Invalid(what);
  return value;
}

function integer(value: unknown, what: string): number {
  return field(safeInteger(value), `${what} is not an unsigned integer`);
}

function text(value: unknown, what: string, maxLength = maxNameLength): string {
  if (typeof value !== 'string' || value.length > maxLength)
    throw new Invalid(`${what} is not a string of at most ${maxLength} characters`);
  return value;
}

function list(value: unknown, what: string, maxLength: number): Record<string, unknown>[] {
  if (!Array.isArray(value) || value.length > maxLength) throw new Invalid(`${what} has more than ${maxLength} entries`);
  return value as Record<string, unknown>[];
}

function message(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

function decodeRequest(value: unknown): PeerRequest | undefined {
  const request = message(value);
  const kind = requestKinds[integer(request.kind ?? 0, 'request.kind')];
  if (kind === undefined) return undefined;
  const reason = handoverReasons.find((r) => r === request.reason);
  return {
    kind,
    id: integer(request.id ?? 0, 'request.id'),
    reason: field(reason, `request.reason ${JSON.stringify(request.reason)} is unknown`),
  };
}

export function decodeHeartbeat(bytes: Uint8Array): Decoded<Heartbeat> {
  const decoded = readHeartbeat(bytes);
  return decoded ? checkHeartbeat(decoded) : { ok: false, error: 'not a Heartbeat message' };
}

/** The checks on a decoded message (exported for the tests, which feed them protobufjs's decoding too). */
export function checkHeartbeat(decoded: Record<string, unknown>): Decoded<Heartbeat> {
  try {
    const role = roles[integer(decoded.role, 'role') - 1];
    const health = message(decoded.health);
    const timers = message(decoded.timers);
    const request = decodeRequest(decoded.request);
    const version = text(decoded.version ?? '', 'version');
    const value: Heartbeat = {
      role: field(role, `role ${String(decoded.role)} is unknown`),
      priority: integer(decoded.priority, 'priority'),
      term: integer(decoded.term, 'term'),
      serialNo: integer(decoded.serialNo, 'serial_no'),
      health: {
        canServe: health.canServe === true,
        monitorLinks: health.monitorLinks === true,
        links: list(health.links ?? [], 'health.links', maxLinks).map((link) => ({
          name: text(link.name, 'link name'),
          up: link.up === true,
        })),
        fault: text(health.fault ?? '', 'health.fault', 200),
      },
      peerView: list(decoded.peerView, 'peer_view', maxPaths).map((view) => ({
        path: integer(view.path, 'peer_view.path'),
        heard: view.heard === true,
        lastSeq: integer(view.lastSeq, 'peer_view.last_seq'),
        silentMs: integer(view.silentMs, 'peer_view.silent_ms'),
      })),
      timers: {
        keepaliveMs: integer(timers.keepaliveMs ?? 0, 'timers.keepalive_ms'),
        deadtimeMs: integer(timers.deadtimeMs ?? 0, 'timers.deadtime_ms'),
      },
      stateVersion: integer(decoded.stateVersion, 'state_version'),
      peerStateVersion: integer(decoded.peerStateVersion, 'peer_state_version'),
      claimedTerm: integer(decoded.claimedTerm, 'claimed_term'),
    };
    // set afterwards, not spread in: a spread object literal took V8's slow path for every heartbeat
    if (request) value.request = request;
    if (version) value.version = version;
    return { ok: true, value };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: error.message };
    throw error;
  }
}

// What protobufjs's decoder makes of the bytes (unset fields at their defaults, a
// missing message null), for the checks above; undefined where it would throw.

function readHeartbeat(bytes: Uint8Array): Raw | undefined {
  const reader = new ProtoReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  try {
    return readFields(
      reader,
      0,
      {
        role: 0,
        priority: 0,
        term: 0,
        serialNo: 0,
        health: null,
        peerView: [],
        request: null,
        timers: null,
        stateVersion: 0,
        peerStateVersion: 0,
        version: '',
        claimedTerm: 0,
      },
      readHeartbeatField,
    );
  } catch {
    return undefined;
  }
}

const readHeartbeatField: FieldReader = (reader, m, field, depth) => {
  switch (field) {
    case 1:
      m.role = reader.int32();
      return true;
    case 2:
      m.priority = reader.uint32();
      return true;
    case 3:
      m.term = reader.uint64();
      return true;
    case 4:
      m.serialNo = reader.uint64();
      return true;
    case 5:
      m.health = readNested(reader, depth, readHealth);
      return true;
    case 6:
      (m.peerView as Raw[]).push(readNested(reader, depth, readPathView));
      return true;
    case 7:
      m.request = readNested(reader, depth, readRequest);
      return true;
    case 8:
      m.timers = readNested(reader, depth, readTimers);
      return true;
    case 9:
      m.stateVersion = reader.uint64();
      return true;
    case 10:
      m.peerStateVersion = reader.uint64();
      return true;
    case 11:
      m.version = reader.string();
      return true;
    case 12:
      m.claimedTerm = reader.uint64();
      return true;
    default:
      return false;
  }
};

function readNested(reader: ProtoReader, depth: number, read: (reader: ProtoReader, depth: number) => Raw): Raw {
  const nested = reader.enter(depth + 1);
  const message = read(reader, depth + 1);
  reader.leave(nested);
  return message;
}

const readHealth = (reader: ProtoReader, depth: number): Raw =>
  readFields(reader, depth, { canServe: false, monitorLinks: false, links: [], fault: '' }, readHealthField);

const readHealthField: FieldReader = (reader, m, field, depth) => {
  switch (field) {
    case 1:
      m.canServe = reader.bool();
      return true;
    case 2:
      m.monitorLinks = reader.bool();
      return true;
    case 3:
      (m.links as Raw[]).push(readNested(reader, depth, readLink));
      return true;
    case 4:
      m.fault = reader.string();
      return true;
    default:
      return false;
  }
};

const readLink = (reader: ProtoReader, depth: number): Raw => readFields(reader, depth, { name: '', up: false }, readLinkField);

const readLinkField: FieldReader = (reader, m, field) => {
  switch (field) {
    case 1:
      m.name = reader.string();
      return true;
    case 2:
      m.up = reader.bool();
      return true;
    default:
      return false;
  }
};

const readPathView = (reader: ProtoReader, depth: number): Raw =>
  readFields(reader, depth, { path: 0, heard: false, lastSeq: 0, silentMs: 0 }, readPathViewField);

const readPathViewField: FieldReader = (reader, m, field) => {
  switch (field) {
    case 1:
      m.path = reader.uint32();
      return true;
    case 2:
      m.heard = reader.bool();
      return true;
    case 3:
      m.lastSeq = reader.uint64();
      return true;
    case 4:
      m.silentMs = reader.uint32();
      return true;
    default:
      return false;
  }
};

const readRequest = (reader: ProtoReader, depth: number): Raw =>
  readFields(reader, depth, { kind: 0, id: 0, reason: '' }, readRequestField);

const readRequestField: FieldReader = (reader, m, field) => {
  switch (field) {
    case 1:
      m.kind = reader.int32();
      return true;
    case 2:
      m.id = reader.uint64();
      return true;
    case 3:
      m.reason = reader.string();
      return true;
    default:
      return false;
  }
};

const readTimers = (reader: ProtoReader, depth: number): Raw =>
  readFields(reader, depth, { keepaliveMs: 0, deadtimeMs: 0 }, readTimersField);

const readTimersField: FieldReader = (reader, m, field) => {
  switch (field) {
    case 1:
      m.keepaliveMs = reader.uint32();
      return true;
    case 2:
      m.deadtimeMs = reader.uint32();
      return true;
    default:
      return false;
  }
};
