// The daemon's public surface: the daemon itself, the controller it drives, and
// the control socket (server, client, protocol, status formatting).
export { Daemon, heartbeatPaths, type DaemonOptions } from './daemon.js';
export { LoggingController, type Controller } from './controller.js';
export {
  controlCommands,
  ControlServer,
  defaultSocketPath,
  sendControlRequest,
  type ControlCommand,
  type ControlHandler,
  type ControlRequest,
  type ControlResponse,
  type OperatorOutcome,
} from './control.js';
export { formatDuration, formatOutcome, formatStatus, transitionRecord, type DaemonStatus, type PathStatus, type TransitionRecord } from './status.js';
export { defaultRealtimePriority, enableRealtime, singleThreadedGc } from './realtime.js';
