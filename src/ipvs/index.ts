// IPVS: the kernel's virtual service table, programmed over generic netlink from the
// model, this node's role and the real servers' health.
export {
  describeService,
  destinationKey,
  serviceKey,
  type IpvsDestination,
  type IpvsForwarding,
  type IpvsPersistence,
  type IpvsService,
  type ServiceIdentity,
} from './table.js';
export {
  desiredTable,
  desiredTableInChunks,
  configuredDestinationKey,
  destinationPort,
  identityOfVirtualService,
  type DesiredOptions,
  type DesiredTable,
  type IpvsRole,
} from './desired.js';
export { diffService, diffTables } from './diff.js';
export { describeOperation, readTable, type IpvsDriver, type IpvsOperation, type OperationFailure } from './operations.js';
export { IpvsReconciler, type ReconcileResult, type ReconcilerOptions } from './reconcile.js';
export { formatList, formatSave, healthLabels, type HealthLabel, type ListOptions } from './format.js';
export { desiredSyncDaemons, reconcileSyncDaemons, reconcileTimeouts, type SyncDaemonDriver, type TimeoutsDriver } from './settings.js';
export { changedServices, servicesByKey } from './model-services.js';
export { IpvsError, IpvsNetlink, type IpvsNetlinkOptions } from './genl/driver.js';
export type { IpvsInfo, IpvsTimeouts, SyncDaemon, SyncDaemonState } from './genl/codec.js';
export type {
  Balancer,
  BalancerStatus,
  DestinationStatus,
  IpvsAvailability,
  RealServerHealth,
  ReconcileRecord,
  ServiceList,
  ServiceStatus,
} from './balancer.js';
export { serviceStatuses } from './balancer-status.js';
export { DEFAULT_REPAIR_INTERVAL } from './balancer-planner.js';
export { BALANCER_THREAD_SERVICES, BalancerThread, startBalancerWorker, type BalancerThreadOptions } from './balancer-thread.js';
export { IpvsBalancer, TABLE_THREAD_SERVICES, type IpvsBalancerOptions, type IpvsKernel } from './ipvs-balancer.js';
