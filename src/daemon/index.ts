// The daemon's public surface: the daemon itself, the controller it drives (and
// the host's implementation of it), and the control socket (server, client,
// protocol, status formatting).
export { Daemon, heartbeatPaths, type ConfigLoader, type DaemonOptions } from './daemon.js';
export type { Controller } from './controller.js';
export type { Balancer, BalancerStatus, DestinationStatus, IpvsAvailability, RealServerHealth, ServiceStatus } from './balancer.js';
export { IpvsBalancer, DEFAULT_REPAIR_INTERVAL, type IpvsBalancerOptions, type IpvsKernel } from './ipvs-balancer.js';
export { formatBalancerStatus, healthLabel, serviceStatuses } from './balancer-status.js';
export { HostController, type HostControllerOptions } from './host-controller.js';
export { managedAddresses } from './host-plan.js';
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
  type ReloadOutcome,
} from './control.js';
export {
  formatDuration,
  formatOutcome,
  formatReload,
  formatStatus,
  transitionRecord,
  type ControllerStatus,
  type DaemonStatus,
  type PathStatus,
  type TransitionRecord,
} from './status.js';
export { defaultRealtimePriority, enableRealtime, singleThreadedGc } from './realtime.js';
