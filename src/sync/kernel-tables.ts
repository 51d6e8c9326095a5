// The kernel tables this build keeps warm on the peer, by kind: the one place the
// daemon gets them from. The conntrack table (ctnetlink, src/sync/conntrack/) and the
// IPVS connection table (src/sync/ipvs/) plug in here; a kind enabled in the
// configuration without a table is logged (sync.no-table) and not synced.
import type { SyncTableFactories } from './service.js';

export function kernelSyncTables(): SyncTableFactories {
  return {};
}
