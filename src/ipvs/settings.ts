// IPVS settings outside the service table: connection timeouts and the kernel's
// connection sync daemons. Reconciled like the table: read, compare, change what differs.
import { wireSyncDaemons } from '../config/index.js';
import type { IpvsTimeouts as ModelTimeouts, SyncSpec } from '../config/model.js';
import type { Logger } from '../log.js';
import type { IpvsTimeouts, SyncDaemon, SyncDaemonState } from './genl/codec.js';

export interface TimeoutsDriver {
  getTimeouts(): Promise<IpvsTimeouts>;
  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void>;
}

export interface SyncDaemonDriver {
  listDaemons(): Promise<SyncDaemon[]>;
  startDaemon(daemon: SyncDaemon): Promise<void>;
  stopDaemon(state: SyncDaemonState): Promise<void>;
}

/** Sets the timeouts the model gives (others stay as they are); returns what changed. */
export async function reconcileTimeouts(driver: TimeoutsDriver, wanted: ModelTimeouts, logger: Logger): Promise<Partial<IpvsTimeouts>> {
  const current = await driver.getTimeouts();
  const changes: Partial<IpvsTimeouts> = {};
  for (const name of ['tcp', 'tcpFin', 'udp'] as const) {
    const value = wanted[name];
    if (value !== undefined && value !== current[name]) changes[name] = value;
  }
  if (Object.keys(changes).length > 0) {
    await driver.setTimeouts(changes);
    logger.info({ event: 'ipvs.timeouts', from: current, set: changes }, 'IPVS timeouts set');
  }
  return changes;
}

/** The sync daemon this node should run: master while active, backup otherwise. */
export function desiredSyncDaemons(sync: SyncSpec, state: SyncDaemonState | 'none', networkInterface: string): SyncDaemon[] {
  if (!wireSyncDaemons(sync) || state === 'none') return [];
  const { syncId, port, group, ttl, maxLength } = sync;
  return [
    {
      state,
      interface: networkInterface,
      syncId,
      port,
      ...(group !== undefined ? { group } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      ...(maxLength !== undefined ? { maxLength } : {}),
    },
  ];
}

/** Makes the kernel's sync daemons exactly `wanted`: a daemon running with other
 *  settings is restarted, one in a state not wanted is stopped. */
export async function reconcileSyncDaemons(driver: SyncDaemonDriver, wanted: SyncDaemon[], logger: Logger): Promise<void> {
  const running = await driver.listDaemons();
  for (const daemon of running) {
    const target = wanted.find((candidate) => candidate.state === daemon.state);
    if (target && sameDaemon(daemon, target)) continue;
    await driver.stopDaemon(daemon.state);
    logger.info({ event: 'ipvs.sync-daemon-stopped', daemon }, `IPVS ${daemon.state} sync daemon stopped`);
  }
  for (const target of wanted) {
    const current = running.find((daemon) => daemon.state === target.state);
    if (current && sameDaemon(current, target)) continue;
    await driver.startDaemon(target);
    logger.info({ event: 'ipvs.sync-daemon-started', daemon: target }, `IPVS ${target.state} sync daemon started on ${target.interface}`);
  }
}

/** The kernel fits the message length to the interface's MTU (and a backup's to at least
 *  1024): what it runs with is not what it was asked for, and is not compared. */
function sameDaemon(running: SyncDaemon, wanted: SyncDaemon): boolean {
  return (
    running.interface === wanted.interface &&
    running.syncId === wanted.syncId &&
    (wanted.port === undefined || running.port === wanted.port) &&
    (wanted.group === undefined || running.group === wanted.group) &&
    (wanted.ttl === undefined || running.ttl === wanted.ttl)
  );
}
