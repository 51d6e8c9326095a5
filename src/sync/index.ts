// Connection-state sync: the engine (pure sender, receiver and cache), its driver
// over the authenticated channel, the conntrack filter, and the contract the kernel
// tables implement.
export { conntrackFilter, type FlowAddresses } from './filter.js';
export { removeHookAnchors } from './ipvs/index.js';
export { kernelSyncTables } from './kernel-tables.js';
export { SyncService, syncEnabled, type SyncServiceOptions, type SyncTableFactories, type SyncTableFactory } from './service.js';
export type { ConnsListing, SyncKindStatus, SyncStatus } from './status.js';
export type { CommitResult, SyncKind, SyncedTable, TableChange } from './table.js';
