// The kernel's sync knobs (net.ipv4.vs.sync_*, Documentation/networking/ipvs-sysctl.rst)
// that tandem sets from `sync.ipvs.kernel` before it starts a sync daemon: README
// ("Connection sync: the kernel's knobs") says why each value.
import type { IpvsKernelSyncSpec } from '../../config/model.js';

/** The sysctls under net/ipv4/vs/ and their values, in the order they are written
 *  (sync_ports last: the kernel refuses it while a daemon runs, and it is the one a
 *  running daemon makes fail). */
export function kernelSyncSettings(spec: IpvsKernelSyncSpec): Array<[name: string, value: string]> {
  return [
    // The messages tandem reads and writes are version 1 (IPv6, timeouts, firewall marks).
    ['sync_version', '1'],
    ['sync_threshold', `${spec.threshold} ${spec.period}`],
    ['sync_refresh_period', String(spec.refreshPeriod)],
    ['sync_retries', String(spec.retries)],
    ['sync_persist_mode', spec.persistMode ? '1' : '0'],
    ...(spec.queueLimit !== undefined ? [['sync_qlen_max', String(spec.queueLimit)] as [string, string]] : []),
    ...(spec.socketSize !== undefined ? [['sync_sock_size', String(spec.socketSize)] as [string, string]] : []),
    ['sync_ports', String(spec.ports)],
  ];
}
