// The cluster's public surface: the election, the heartbeat, and the secure
// datagram channel (which the connection-state sync channel reuses with its own
// message kind).
export {
  Election,
  type Action,
  type ElectionConfig,
  type ElectionEvent,
  type ElectionStatus,
  type LogLevel,
  type OperatorCommand,
  type RefusalCode,
  type SyncRole,
  type Transition,
  type TransitionReason,
} from './election.js';
export { decodeHeartbeat, encodeHeartbeat, roles, type HealthSummary, type Heartbeat, type LinkState, type Role } from './heartbeat.js';
export { SecureChannel, type ChannelMessage, type ChannelPath, type SecureChannelOptions } from './channel.js';
export { heartbeatPaths, syncPath, type PathEnd } from './paths.js';
export { ChannelEndpoint, type Accepted, type ChannelIdentity, type Rejected } from './endpoint.js';
export { maxDatagramLength, maxPayloadLength, messageKinds, type MessageKind } from './envelope.js';
export { generateKey, KeyFileError, Keyring, loadKeyring, parseKeyFile, readKeyFile } from './keys.js';
export { decodeMessage, encodeMessage, loadMessageType, safeInteger, type Decoded, type MessageType } from './proto.js';
export { ChannelSessions, createBootId, type BootChange } from './replay.js';
export { emptyRejectCounters, LogRateLimiter, rejectReasons, type RejectCounters, type RejectReason } from './rejections.js';
