// The NAT gateway's conntrack table for the sync engine: dump and events on the active,
// commit on the backup's takeover, through ctnetlink.
import { createStats } from '../../lib/stats.js';
import type { SyncedTable } from '../table.js';
import { Ctnetlink, type CtnetlinkOptions } from './driver.js';
import type { ConntrackEntry } from './entry.js';
import { ConntrackTable, type ConntrackTableOptions } from './table.js';

export type { ConntrackEntry, ConntrackTuple, TcpState } from './entry.js';
export { conntrackKey, describeConntrack } from './entry.js';
export { ConntrackRecordError } from './record.js';
export type { ConntrackFilter } from './table.js';

export type ConntrackTableConfig = ConntrackTableOptions & Pick<CtnetlinkOptions, 'eventBufferBytes' | 'batchSize' | 'requestTimeoutMs'>;

/** Opens ctnetlink in this process's network namespace. Throws when the kernel has no
 *  nfnetlink. The table's sockets stay open until close(). */
export function openConntrackTable(config: ConntrackTableConfig): SyncedTable<ConntrackEntry> {
  const stats = config.stats ?? createStats().conntrack;
  const kernel = new Ctnetlink({
    ...(config.eventBufferBytes !== undefined && { eventBufferBytes: config.eventBufferBytes }),
    ...(config.batchSize !== undefined && { batchSize: config.batchSize }),
    ...(config.requestTimeoutMs !== undefined && { requestTimeoutMs: config.requestTimeoutMs }),
    onUndecodable: (error) => {
      stats.undecodable.inc();
      config.logger?.warn({ event: 'conntrack.undecodable', err: error }, 'a conntrack message from the kernel could not be decoded');
    },
  });
  return new ConntrackTable(kernel, { ...config, stats });
}
