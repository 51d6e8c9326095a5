// The kernel tables this build keeps warm on the peer, by kind: the one place the
// daemon gets them from. A kind enabled in the configuration without a table (or on a
// kernel without IPVS) is logged (sync.no-table) and not synced.
import { ipvsKernelSyncDefaults } from '../config/index.js';
import { openConntrackTable, type ConntrackEntry } from './conntrack/index.js';
import { conntrackFilter } from './filter.js';
import { IpvsNetlink } from '../ipvs/index.js';
import { createIpvsTable } from './ipvs/index.js';
import type { SyncTableFactories } from './service.js';

export function kernelSyncTables(): SyncTableFactories {
  return {
    conntrack: ({ model, logger, stats }) => {
      const wanted = conntrackFilter(model);
      const filter = (entry: ConntrackEntry) =>
        wanted({
          source: entry.original.source,
          destination: entry.original.destination,
          replySource: entry.reply.source,
          replyDestination: entry.reply.destination,
        });
      return openConntrackTable({ filter, stats: stats.conntrack, logger });
    },
    ipvs: async ({ model, logger }) => {
      // no IPVS, no connections to keep warm: a kind that could never sync would refuse every takeover
      const kernel = await IpvsNetlink.open().catch((error: unknown) => {
        logger.warn({ event: 'sync.ipvs-unavailable', err: error }, `no IPVS connection sync: ${(error as Error).message}`);
        return undefined;
      });
      if (!kernel) return undefined;
      return createIpvsTable({
        settings: model.sync.ipvsKernel ?? ipvsKernelSyncDefaults(),
        syncId: model.sync.syncId,
        logger,
        openKernel: () => Promise.resolve(kernel),
      });
    },
  };
}
