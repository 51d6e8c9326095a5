// What carries IPVS connection sync. `sync.enabled` says whether connections are synced
// (the front ends' lvs_sync_daemon, syncdaemon and --start-daemon set it); `sync.ipvs.enabled`
// says how: over tandem's authenticated channel (the kernel's daemons then run on lo, fed
// by tandem), or by the kernel's own daemons on the sync link. The kernel runs one master
// and one backup daemon per namespace, so a node never runs both carriers.
import type { SyncSpec } from './model.js';

/** IPVS connections travel over tandem's channel (a model without `ipvs` predates it: off). */
export function ipvsSyncOverChannel(sync: SyncSpec): boolean {
  return sync.enabled && sync.ipvs?.enabled === true;
}

/** The kernel's daemons run on the sync link (unauthenticated), master or backup with the role. */
export function wireSyncDaemons(sync: SyncSpec): boolean {
  return sync.enabled && sync.ipvs?.enabled !== true;
}
