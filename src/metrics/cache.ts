// Status reads the kernel's IPVS table; scrapes (often two Prometheus servers, every few
// seconds) share one read per interval instead of each paying for it.
import type { DaemonStatus } from '../control/index.js';

export function cachedStatus(
  read: () => Promise<DaemonStatus>,
  maxAgeMs: number,
  now = () => performance.now(),
  /** Changes whenever a cached status must not be served any more (the role changed):
   *  a scrape right after a failover shows the new role, as the transition counters do. */
  generation: () => number = () => 0,
): () => Promise<DaemonStatus> {
  let last: { at: number; generation: number; status: Promise<DaemonStatus> } | undefined;
  return () => {
    const t = now();
    const current = generation();
    if (last === undefined || t - last.at >= maxAgeMs || last.generation !== current) {
      const status = read();
      last = { at: t, generation: current, status };
      // a failed read is not kept: the next scrape tries again
      status.catch(() => {
        if (last?.status === status) last = undefined;
      });
    }
    return last.status;
  };
}
