// Status reads the kernel's IPVS table; scrapes (often two Prometheus servers, every few
// seconds) share one read per interval instead of each paying for it.
export function cachedStatus<Status>(
  read: () => Promise<Status>,
  maxAgeMs: number,
  now = () => performance.now(),
  /** Changes whenever a cached status must not be served any more (the role changed):
   *  a scrape right after a failover shows the new role, as the transition counters do. */
  generation: () => number = () => 0,
): () => Promise<Status> {
  let last: { at: number; generation: number; status: Promise<Status> } | undefined;
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
