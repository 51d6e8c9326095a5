// IPVS connections as a table the sync engine keeps warm on the peer (src/sync/table.ts).
import type { IpvsConnection } from './connection.js';
import { IpvsSyncTable, type IpvsTableOptions } from './kernel-table.js';
import type { SyncedTable } from '../table.js';

export { connectionKey, describeConnection, type IpvsConnection } from './connection.js';
export { SyncMessageError } from './sync-message.js';
export { removeHookAnchors, type IpvsTableOptions } from './kernel-table.js';

/** The IPVS table of this network namespace: dump and watch on the active, commit
 *  (write-through into the kernel) on the backup. */
export function createIpvsTable(options: IpvsTableOptions): SyncedTable<IpvsConnection> {
  return new IpvsSyncTable(options);
}
