import { describe, expect, it } from 'vitest';
import { emptyRejectCounters } from '../../../src/cluster/rejections.js';
import { formatOutcome, formatReload, formatStatus, type DaemonStatus } from '../../../src/control/index.js';
import { formatDuration } from '../../../src/lib/duration.js';

const status: DaemonStatus = {
  node: 'ifw01',
  cluster: 'lab',
  pid: 42,
  startedAt: '2025-06-01T10:00:00.000Z',
  role: 'ACTIVE',
  term: 4,
  since: '2025-06-01T10:00:05.000Z',
  inRoleMs: 65_000,
  lastTransition: {
    at: '2025-06-01T10:00:05.000Z',
    from: 'BACKUP',
    to: 'ACTIVE',
    reason: 'peer-dead',
    term: 4,
    peer: 'ifw02',
    peerRole: 'ACTIVE',
    peerTerm: 3,
    inPreviousRoleMs: 4000,
    peerSilentMs: 200,
  },
  health: { canServe: true, monitorLinks: true, links: [], fault: '' },
  peer: {
    name: 'ifw02',
    alive: true,
    role: 'BACKUP',
    term: 4,
    priority: 100,
    lastHeardMsAgo: 12,
    timers: { keepaliveMs: 100, deadtimeMs: 400 },
    paths: [
      {
        index: 0,
        local: '192.0.2.1',
        remote: '192.0.2.2',
        up: true,
        lastHeardMsAgo: 12,
        peerHearsUs: { heard: true, silentMs: 3 },
        sent: 1300,
        sendErrors: 0,
        accepted: 1290,
        rejected: { 'bad-mac': 2, replay: 5 },
      },
      {
        index: 1,
        local: '198.51.100.1',
        remote: '198.51.100.2',
        up: false,
        lastHeardMsAgo: 5200,
        peerHearsUs: { heard: true, silentMs: 5100 },
        sent: 1300,
        sendErrors: 7,
        accepted: 800,
        rejected: {},
      },
    ],
  },
  config: { serialNo: 3, peerSerialNo: 4, serialMismatch: true },
  timers: { keepalive: 50, deadtime: 200, warntime: 100, initdead: 400 },
  packets: { sent: 2600, accepted: 2090, rejected: { ...emptyRejectCounters(), 'bad-mac': 2, replay: 5 } },
  timerLateness: { lastMs: 0.4, maxMs: 12.25, overWarntime: 0 },
  eventLoopDelay: { p99Ms: 10.2, maxMs: 14.1 },
  gcPauses: { count: 12, totalMs: 30.5, maxMs: 4.5 },
  transitions: [
    { at: '2025-06-01T10:00:00.100Z', from: 'INIT', to: 'BACKUP', reason: 'peer-active', term: 3, inPreviousRoleMs: 100 },
    {
      at: '2025-06-01T10:00:05.000Z',
      from: 'BACKUP',
      to: 'ACTIVE',
      reason: 'peer-dead',
      term: 4,
      inPreviousRoleMs: 4900,
      peerSilentMs: 200,
    },
  ],
  host: {
    addresses: [
      { address: '192.0.2.100', prefix: 24, device: 'eth0', label: 'eth0:1', purpose: 'vip www, dns' },
      { address: '2001:db8::100', prefix: 64, device: 'eth0', purpose: 'vip www6' },
      { address: '198.51.100.254', prefix: 24, device: 'eth1', label: 'eth1', purpose: 'nat gateway' },
    ],
    failedAddresses: [],
    announcements: { framesSent: 30, framesFailed: 0, lastMsAgo: 64_000 },
    links: [
      { device: 'eth0', up: true, condition: 'up' },
      { device: 'eth1', up: true, condition: 'up' },
    ],
    hooks: { pending: 0 },
  },
};

describe('status for people', () => {
  it('shows role, peer, paths, counters, serials and transitions, with warnings', () => {
    expect(formatStatus(status).split('\n')).toEqual([
      'ifw01 (cluster lab): ACTIVE, term 4, since 2025-06-01T10:00:05.000Z (1 min 5 s), reason peer-dead',
      '  health: ok',
      'addresses held:',
      '  192.0.2.100/24 on eth0 as eth0:1 (vip www, dns)',
      '  2001:db8::100/64 on eth0 (vip www6)',
      '  198.51.100.254/24 on eth1 (nat gateway)',
      'announcements: 30 frames sent, last 1 min 4 s ago',
      'monitored links: eth0 up, eth1 up',
      'peer ifw02: BACKUP, term 4, priority 100, heard 12 ms ago',
      '  path 0 192.0.2.1 -> 192.0.2.2: up, heard 12 ms ago; sent 1300, accepted 1290, rejected 7 (bad-mac 2, replay 5)',
      '  path 1 198.51.100.1 -> 198.51.100.2: DOWN, silent 5.2 s, the peer does not hear us here; sent 1300 (7 failed), accepted 800, rejected 0',
      'config serial 3, peer 4',
      '  WARNING: the nodes run different configurations (serial 3 here, 4 on the peer)',
      'timers: keepalive 50 ms, deadtime 200 ms, warntime 100 ms, initdead 400 ms',
      '  WARNING: the peer uses keepalive 100 ms, deadtime 400 ms',
      'packets: sent 2600, accepted 2090, rejected 7 (bad-mac 2, replay 5)',
      'own timer lateness: last 0.4 ms, max 12.3 ms, 0 times over warntime',
      'event loop delay: p99 10.2 ms, max 14.1 ms; garbage collection: 12 pauses, longest 4.5 ms',
      'recent transitions:',
      '  2025-06-01T10:00:00.100Z  INIT -> BACKUP  peer-active  term 3',
      '  2025-06-01T10:00:05.000Z  BACKUP -> ACTIVE  peer-dead  term 4',
    ]);
  });

  it("shows both nodes' versions when known (an older daemon or peer has none)", () => {
    const lines = formatStatus({ ...status, version: '0.2.0', peer: { ...status.peer!, version: '0.1.0' } }).split('\n');
    expect(lines[0]).toBe('ifw01 (cluster lab): ACTIVE, term 4, since 2025-06-01T10:00:05.000Z (1 min 5 s), reason peer-dead');
    expect(lines).toContain('  version: tandem 0.2.0');
    expect(lines).toContain('  version: tandem 0.1.0 (differs from ours: an upgrade in progress?)');
    expect(formatStatus(status)).not.toContain('version');
  });

  it('says when the peer is silent and when this node cannot serve', () => {
    const text = formatStatus({
      ...status,
      role: 'FAULT',
      health: { canServe: false, monitorLinks: true, links: [{ name: 'eth1', up: false }], fault: 'eth1 down' },
      peer: { ...status.peer!, alive: false, lastHeardMsAgo: 3000 },
      pending: { kind: 'handover', reason: 'operator-failover', sinceMs: 20 },
      host: {
        addresses: [],
        failedAddresses: [{ address: '192.0.2.101/24', reason: 'device eth9 does not exist' }],
        announcements: { framesSent: 0, framesFailed: 3 },
        links: [{ device: 'eth1', up: false, condition: 'no-carrier' }],
        hooks: { pending: 2 },
      },
    });
    expect(text).toContain('  health: cannot serve: eth1 down');
    expect(text).toContain('peer ifw02: SILENT, BACKUP (as last heard), term 4, priority 100, heard 3.0 s ago');
    expect(text).toContain('  handover in progress (operator-failover) for 20 ms');
    expect(text).toContain(
      'addresses: none held\n  FAILED 192.0.2.101/24: device eth9 does not exist\nannouncements: 0 frames sent, 3 failed\nmonitored links: eth1 DOWN (no-carrier)\nhooks: 2 queued or running',
    );
  });

  it('formats durations and operator outcomes', () => {
    expect([formatDuration(12.4), formatDuration(1500), formatDuration(3_725_000)]).toEqual(['12 ms', '1.5 s', '1 h 2 min']);
    expect(
      formatOutcome('failover', {
        ok: false,
        code: 'peer-fault',
        message: 'the peer is in FAULT (eth1 down)',
        role: 'ACTIVE',
        durationMs: 0.2,
      }),
    ).toBe('failover: refused (peer-fault): the peer is in FAULT (eth1 down) [now ACTIVE, 0 ms]');
    expect(
      formatReload({
        ok: true,
        message: '2 change(s) applied',
        changes: ['serial_no: 1 -> 2', 'addresses: +192.0.2.101/24 (eth0:2)'],
        diagnostics: [],
        serialNo: 2,
        durationMs: 3.2,
      }),
    ).toBe('reload: done: 2 change(s) applied [serial 2, 3 ms]\n  serial_no: 1 -> 2\n  addresses: +192.0.2.101/24 (eth0:2)');
  });
});
