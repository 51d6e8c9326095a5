// What cli/run.ts needs to build the daemon and run it: the daemon, the host's
// controller with its hook runner, its scheduling (the balancer is ipvs/).
export { Daemon } from './daemon.js';
export type { ConfigLoader } from './reload.js';
export { HostController } from './host-controller.js';
export { HookRunner } from './hooks.js';
export { defaultRealtimePriority, enableRealtime, realtimeWorkerRank } from './realtime.js';
export { defaultNice, raisePriority } from './priority.js';
export { managedAddresses } from './host-plan.js';
export type { RuntimeObserver } from './runtime-metrics.js';
