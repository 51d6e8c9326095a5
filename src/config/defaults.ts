// Defaults the running daemon needs without the parsers: the configuration's parsers and
// schema (typebox, yaml, the front ends) cost a daemon's event loop about 14 MB of memory
// it never uses, as its loader thread parses (README: the idle figures).
import type { IpvsKernelSyncSpec } from './model.js';

export function defaultPriority(index: number): number {
  return index === 0 ? 200 : 100;
}

/** `address:port` (`[v6]:port`; the address alone for port 0), as real servers are named. */
export function defaultRealServerName(address: string, port: number): string {
  if (port === 0) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** `sync.ipvs.kernel` as it is when the file leaves it out: the schema's defaults
 *  (IpvsKernelSyncSchema; a test holds the two together). */
export function ipvsKernelSyncDefaults(): IpvsKernelSyncSpec {
  return { group: '239.255.84.78', port: 8850, threshold: 3, period: 0, refreshPeriod: 10, retries: 0, persistMode: false, ports: 1 };
}
