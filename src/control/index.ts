// The control socket: its protocol, the server the daemon runs, the client the CLI
// uses, and the text the CLI prints.
export {
  controlCommands,
  defaultSocketPath,
  type ControlCommand,
  type ControlHandler,
  type ControlRequest,
  type ControlResponse,
  type OperatorOutcome,
  type ReloadOutcome,
} from './protocol.js';
export type { ControllerStatus, DaemonStatus, PathStatus, TransitionRecord } from './status.js';
export { ControlServer } from './server.js';
export { sendControlRequest } from './client.js';
export { formatConns, formatOutcome, formatReload, formatStatus } from './format.js';
export { formatBalancerStatus } from './balancer-format.js';
