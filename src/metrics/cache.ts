// Status reads the kernel's IPVS table; scrapes (often two Prometheus servers, every few
// seconds) share one read per interval instead of each paying for it.
import type { DaemonStatus } from '../control/index.js';

export function cachedStatus(
  read: () => Promise<DaemonStatus>,
  maxAgeMs: number,
  now = () => performance.now(),
): () => Promise<DaemonStatus> {
  let last: { at: number; status: Promise<DaemonStatus> } | undefined;
  return () => {
    const t = now();
    if (last === undefined || t - last.at >= maxAgeMs) {
      const status = read();
      last = { at: t, status };
      // a failed read is not kept: the next scrape tries again
      status.catch(() => {
        if (last?.status === status) last = undefined;
      });
    }
    return last.status;
  };
}
