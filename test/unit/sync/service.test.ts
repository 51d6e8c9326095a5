// Two SyncServices on loopback (127.0.0.1 and 127.0.0.2 play the nodes) with in-memory
// tables: the bulk resync, streamed changes, synced, the commit on takeover, and what
// status, `tandem conns` and the logs show of it.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelSessions, Keyring } from '../../../src/cluster/index.js';
import type { Model } from '../../../src/config/model.js';
import { formatConns, formatStatus, type DaemonStatus } from '../../../src/control/index.js';
import { createStats } from '../../../src/lib/stats.js';
import { createLogger } from '../../../src/log.js';
import { SyncService, type SyncTableFactories } from '../../../src/sync/index.js';
import { MemorySyncedTable } from '../../support/memory-synced-table.js';
import { modelOf } from '../../support/models.js';
import { collectGarbage } from '../../support/collect-garbage.js';

const port = 40_000 + Math.floor(Math.random() * 20_000);
const keyring = new Keyring(new Map([[1, Buffer.alloc(32, 7)]]), 1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const open: SyncService[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((service) => service.close()));
});

function model(conntrack = true): Model {
  const base = modelOf([]);
  return {
    ...base,
    sync: {
      ...base.sync,
      port,
      conntrack: { enabled: conntrack, cacheMaxEntries: 10_000, commit: 'before-announce', filter: { include: [], exclude: [] } },
    },
  };
}

async function node(self: 'ifw01' | 'ifw02', tables: SyncTableFactories) {
  const [address, peerAddress, peer] = self === 'ifw01' ? ['127.0.0.1', '127.0.0.2', 'ifw02'] : ['127.0.0.2', '127.0.0.1', 'ifw01'];
  const logs: Array<Record<string, unknown>> = [];
  const synced: boolean[] = [];
  const stats = createStats();
  const started = model();
  const service = await SyncService.open({
    model: started,
    self: { name: self, address, priority: 100 },
    peer: { name: peer, address: peerAddress, priority: 100 },
    keyring,
    sessions: new ChannelSessions(),
    tables,
    logger: createLogger({
      format: 'json',
      destination: new Writable({
        write(chunk, _encoding, done) {
          logs.push(JSON.parse(String(chunk)) as Record<string, unknown>);
          done();
        },
      }),
    }),
    now: () => performance.now(),
    stats: stats.sync,
    registry: stats,
    onSyncedChange: (value) => synced.push(value),
  });
  open.push(service);
  return { service, logs, synced, stats, model: new WeakRef(started) };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(20);
}

describe('the sync service on loopback', () => {
  it('keeps nothing of the model it was opened with: a reload replaces it', async () => {
    const { model: opened } = await node('ifw01', { conntrack: () => new MemorySyncedTable() });
    await sleep(0);
    collectGarbage();
    expect(opened.deref()).toBeUndefined();
  });

  it('keeps the backup warm and commits on takeover', async () => {
    const activeTable = new MemorySyncedTable();
    const backupTable = new MemorySyncedTable();
    for (let i = 0; i < 1500; i++) activeTable.set(`flow-${i}`, 'v1');
    const a = await node('ifw01', { conntrack: () => activeTable });
    const b = await node('ifw02', { conntrack: () => backupTable });
    b.service.setRole('BACKUP');
    a.service.setRole('ACTIVE');
    await until(() => b.service.synced && b.service.conns().kinds[0]?.total === 1500);
    expect(b.synced).toEqual([true]);
    expect(b.logs.map((l) => l.event)).toContain('sync.resynced');

    activeTable.set('flow-new', 'v2');
    activeTable.remove('flow-0');
    await until(() => b.service.conns().kinds[0]?.entries.some((e) => e.key === 'flow-new') === true);
    const conns = b.service.conns();
    expect(conns.kinds[0]).toMatchObject({ kind: 'conntrack', synced: true, total: 1500, truncated: false });
    expect(conns.kinds[0]?.entries.some((e) => e.key === 'flow-0')).toBe(false);
    expect(formatConns(conns)).toMatch(/^conntrack: 1500 entries\n {2}flow-1 {2}expires in /);

    // the active learns from the next acknowledgement that the backup is synced
    await until(() => a.service.status().kinds[0]?.synced === true);
    const sending = a.service.status().kinds[0];
    expect(sending).toMatchObject({ role: 'sending', synced: true, resyncs: 1, sent: 1502 });
    const receiving = b.service.status();
    expect(receiving).toMatchObject({
      synced: true,
      datagrams: { rejected: {} },
      kinds: [{ role: 'receiving', entriesWarm: 1500, received: 1502 }],
    });

    expect(a.service.commitPending()).toBe(false);
    expect(b.service.commitPending()).toBe(true);
    b.service.setRole('ACTIVE');
    await b.service.commit();
    expect(b.service.commitPending()).toBe(false);
    expect(backupTable.committed).toHaveLength(1500);
    const status = b.service.status();
    expect(status.kinds[0]?.lastCommit).toMatchObject({ entries: 1500, failed: 0 });
    expect(b.stats.sync.committedEntries.value({ kind: 'conntrack', result: 'written' })).toBe(1500);
    expect(status.synced).toBe(false);
    const text = formatStatus({ ...minimalStatus, sync: status });
    expect(text).toContain('connection sync with ifw01 on 127.0.0.2 -> 127.0.0.1');
    expect(text).toMatch(/conntrack \(sending, on-takeover\).*\n {4}last commit .*: 1500 entries in/);
  });

  it('opens no channel without a table for an enabled kind, and says so', async () => {
    const n = await node('ifw01', {});
    expect(n.service.kinds).toEqual([]);
    expect(n.service.synced).toBe(true);
    expect(n.logs.map((l) => l.event)).toEqual(['sync.no-table']);
  });
});

const minimalStatus: DaemonStatus = {
  node: 'ifw02',
  cluster: 'test',
  pid: 1,
  startedAt: '2026-12-02T00:00:00.000Z',
  role: 'ACTIVE',
  term: 2,
  since: '2026-12-02T00:00:00.000Z',
  inRoleMs: 1,
  health: { canServe: true, monitorLinks: false, links: [], fault: '' },
  config: { serialNo: 1, serialMismatch: false },
  timers: { keepalive: 100, deadtime: 500, warntime: 250, initdead: 1000 },
  packets: { sent: 0, accepted: 0, rejected: {} as DaemonStatus['packets']['rejected'] },
  timerLateness: { lastMs: 0, maxMs: 0, overWarntime: 0 },
  eventLoopDelay: { p99Ms: 0, maxMs: 0 },
  gcPauses: { count: 0, totalMs: 0, maxMs: 0 },
  transitions: [],
  host: { addresses: [], failedAddresses: [], announcements: { framesSent: 0, framesFailed: 0 }, hooks: { pending: 0 } },
};
