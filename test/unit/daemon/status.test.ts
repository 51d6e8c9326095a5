// The daemon's status, put together from the election's view and the channel's counters.
import { describe, expect, it } from 'vitest';
import { emptyRejectCounters, type ElectionStatus, type PathCounters } from '../../../src/cluster/index.js';
import type { ControllerStatus } from '../../../src/control/index.js';
import { daemonStatus, wallClock } from '../../../src/daemon/status.js';

const healthy = { canServe: true, monitorLinks: false, links: [], fault: '' };
const host: ControllerStatus = {
  addresses: [],
  failedAddresses: [],
  announcements: { framesSent: 0, framesFailed: 0 },
  hooks: { pending: 0 },
};
const runtime = {
  timerLateness: { lastMs: 1, maxMs: 2, overWarntime: 0 },
  eventLoopDelay: { p99Ms: 10, maxMs: 11 },
  gcPauses: { count: 1, totalMs: 1, maxMs: 1 },
};
/** What every status here shares: the clock, the process, the host. */
const fixed = { now: 5000, startedAt: 0, pid: 42, runtime, host };
const heartbeat = { port: 539, keepalive: 50, deadtime: 200, warntime: 100, initdead: 400 };

function counters(local: string, remote: string, fields: Partial<PathCounters> = {}): PathCounters {
  return { local, remote, sent: 0, sendErrors: 0, accepted: 0, rejected: emptyRejectCounters(), ...fields };
}

describe('daemon status', () => {
  const election: ElectionStatus = {
    role: 'ACTIVE',
    term: 3,
    since: 1000,
    health: healthy,
    pending: { kind: 'handover', reason: 'operator-failover', since: 4000 },
    peer: {
      name: 'ifw02',
      alive: true,
      role: 'BACKUP',
      term: 3,
      priority: 100,
      serialNo: 7,
      paths: [
        { up: true, lastHeard: 4900, lastSeq: 12, peerHearsUs: { heard: true, silentMs: 20 } },
        { up: false, lastSeq: 0 },
      ],
    },
  };

  it('counts each path and all of them, and times everything from now', () => {
    const status = daemonStatus({
      ...fixed,
      node: 'ifw01',
      version: '0.1.0',
      model: { cluster: 'lab', serialNo: 8, heartbeat },
      election,
      paths: [
        counters('192.0.2.1', '192.0.2.2', { sent: 10, accepted: 9, rejected: { ...emptyRejectCounters(), replay: 2 } }),
        counters('198.51.100.1', '198.51.100.2', { sent: 10, sendErrors: 10, rejected: { ...emptyRejectCounters(), 'bad-mac': 1 } }),
      ],
      transitions: [],
    });
    expect(status).toMatchObject({
      node: 'ifw01',
      version: '0.1.0',
      cluster: 'lab',
      pid: 42,
      startedAt: wallClock(0).toISOString(),
      since: wallClock(1000).toISOString(),
      inRoleMs: 4000,
      pending: { kind: 'handover', reason: 'operator-failover', sinceMs: 1000 },
      peer: {
        name: 'ifw02',
        role: 'BACKUP',
        lastHeardMsAgo: 100,
        paths: [
          {
            index: 0,
            up: true,
            lastHeardMsAgo: 100,
            peerHearsUs: { heard: true, silentMs: 20 },
            sent: 10,
            accepted: 9,
            rejected: { replay: 2 },
          },
          { index: 1, up: false, sent: 10, sendErrors: 10, accepted: 0, rejected: { 'bad-mac': 1 } },
        ],
      },
      config: { serialNo: 8, peerSerialNo: 7, serialMismatch: true },
      packets: { sent: 20, accepted: 9, rejected: { ...emptyRejectCounters(), replay: 2, 'bad-mac': 1 } },
      timerLateness: runtime.timerLateness,
      transitions: [],
    });
    expect(status.lastTransition).toBeUndefined();
    expect(status.ipvs).toBeUndefined();
  });

  it('shows a standalone node without a peer, its last transition and no packets', () => {
    const transition = {
      at: '2025-06-01T10:00:05.000Z',
      from: 'INIT' as const,
      to: 'ACTIVE' as const,
      reason: 'standalone' as const,
      term: 1,
      inPreviousRoleMs: 3,
    };
    const status = daemonStatus({
      ...fixed,
      node: 'lb',
      version: '0.1.0',
      model: { cluster: 'lab', serialNo: 1, heartbeat },
      election: { role: 'ACTIVE', term: 1, since: 10, health: healthy },
      paths: [],
      transitions: [transition],
    });
    expect(status.peer).toBeUndefined();
    expect(status.lastTransition).toEqual(transition);
    expect(status.config).toEqual({ serialNo: 1, serialMismatch: false });
    expect(status.packets).toEqual({ sent: 0, accepted: 0, rejected: emptyRejectCounters() });
  });
});
