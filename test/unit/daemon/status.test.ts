// The daemon's status, put together from the election's view and the counters.
import { describe, expect, it } from 'vitest';
import { emptyRejectCounters, type ElectionStatus } from '../../../src/cluster/index.js';
import type { ControllerStatus } from '../../../src/control/index.js';
import { daemonStatus, wallClock } from '../../../src/daemon/status.js';
import { createStats } from '../../../src/lib/stats.js';

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
    const stats = createStats();
    const { sent, sendErrors, receiveErrors, accepted, rejected } = stats.heartbeat;
    sent.add(10, { path: 0 });
    accepted.add(9, { path: 0 });
    rejected.add(2, { path: 0, reason: 'replay' });
    sent.add(10, { path: 1 });
    sendErrors.add(10, { path: 1 });
    receiveErrors.add(2, { path: 1 });
    rejected.inc({ path: 1, reason: 'bad-mac' });
    const status = daemonStatus({
      ...fixed,
      node: 'ifw01',
      version: '0.1.0',
      model: { cluster: 'lab', serialNo: 8, heartbeat },
      election,
      paths: [
        { local: '192.0.2.1', remote: '192.0.2.2' },
        { local: '198.51.100.1', remote: '198.51.100.2' },
      ],
      stats,
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
          { index: 1, up: false, sent: 10, sendErrors: 10, receiveErrors: 2, accepted: 0, rejected: { 'bad-mac': 1 } },
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
      stats: createStats(),
      transitions: [transition],
    });
    expect(status.peer).toBeUndefined();
    expect(status.lastTransition).toEqual(transition);
    expect(status.config).toEqual({ serialNo: 1, serialMismatch: false });
    expect(status.packets).toEqual({ sent: 0, accepted: 0, rejected: emptyRejectCounters() });
  });
});
