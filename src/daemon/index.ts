// The daemon's public surface: the daemon itself, the controller it drives (and
// the host's implementation of it), the balancer.
export { Daemon, heartbeatPaths, type ConfigLoader, type DaemonOptions } from './daemon.js';
export type { Controller } from './controller.js';
export type { Balancer, BalancerStatus, DestinationStatus, IpvsAvailability, RealServerHealth, ServiceStatus } from './balancer.js';
export { IpvsBalancer, DEFAULT_REPAIR_INTERVAL, type IpvsBalancerOptions, type IpvsKernel } from './ipvs-balancer.js';
export { healthLabel, serviceStatuses } from './balancer-status.js';
export { HostController, type HostControllerOptions } from './host-controller.js';
export { defaultRealtimePriority, enableRealtime, singleThreadedGc } from './realtime.js';
