// The heartbeat message: strict domain types and a total decoder that turns an
// authenticated payload into a Heartbeat or says what is wrong with it.
import { decodeMessage, encodeMessage, loadMessageType, safeInteger, type Decoded } from './proto.js';

const HeartbeatType = loadMessageType('heartbeat.proto', 'tandem.heartbeat.v1.Heartbeat');

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

export function encodeHeartbeat(heartbeat: Heartbeat): Uint8Array {
  const { request } = heartbeat;
  return encodeMessage(HeartbeatType, {
    role: roles.indexOf(heartbeat.role) + 1,
    priority: heartbeat.priority,
    term: heartbeat.term,
    serialNo: heartbeat.serialNo,
    health: heartbeat.health,
    peerView: heartbeat.peerView,
    request: request && { kind: requestKinds.indexOf(request.kind), id: request.id, reason: request.reason },
    timers: heartbeat.timers,
    stateVersion: heartbeat.stateVersion,
    peerStateVersion: heartbeat.peerStateVersion,
    version: heartbeat.version ?? '',
    claimedTerm: heartbeat.claimedTerm,
  });
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
  const decoded = decodeMessage(HeartbeatType, bytes);
  if (!decoded) return { ok: false, error: 'not a Heartbeat message' };
  try {
    const role = roles[integer(decoded.role, 'role') - 1];
    const health = message(decoded.health);
    const timers = message(decoded.timers);
    const request = decodeRequest(decoded.request);
    const version = text(decoded.version ?? '', 'version');
    return {
      ok: true,
      value: {
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
        ...(request && { request }),
        timers: {
          keepaliveMs: integer(timers.keepaliveMs ?? 0, 'timers.keepalive_ms'),
          deadtimeMs: integer(timers.deadtimeMs ?? 0, 'timers.deadtime_ms'),
        },
        stateVersion: integer(decoded.stateVersion, 'state_version'),
        peerStateVersion: integer(decoded.peerStateVersion, 'peer_state_version'),
        ...(version && { version }),
        claimedTerm: integer(decoded.claimedTerm, 'claimed_term'),
      },
    };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: error.message };
    throw error;
  }
}
