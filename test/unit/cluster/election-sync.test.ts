// The election waits for warm connection tables before it asks for the active role
// back (takeover, preemption); a dead peer's role is taken at once whatever the tables.
import { describe, expect, it } from 'vitest';
import { Election, type Action, type ElectionConfig } from '../../../src/cluster/election.js';
import type { Heartbeat } from '../../../src/cluster/heartbeat.js';

const config: ElectionConfig = {
  self: { name: 'ifw01', priority: 200 },
  peer: { name: 'ifw02', priority: 100 },
  pathCount: 1,
  keepalive: 50,
  deadtime: 200,
  warntime: 100,
  initdead: 1000,
  preempt: false,
  serialNo: 7,
};

const active: Heartbeat = {
  role: 'ACTIVE',
  priority: 100,
  term: 1,
  serialNo: 7,
  health: { canServe: true, monitorLinks: false, links: [], fault: '' },
  peerView: [{ path: 0, heard: true, lastSeq: 1, silentMs: 0 }],
  timers: { keepaliveMs: 50, deadtimeMs: 200 },
  stateVersion: 1,
  peerStateVersion: 1,
  claimedTerm: 1,
};

function backupOf(cfg: ElectionConfig) {
  const election = new Election(cfg, 0);
  let seq = 0;
  const all: Action[] = [];
  const run = (actions: Action[]) => (all.push(...actions), actions);
  run(election.handle({ type: 'synced', now: 0, synced: false }));
  const hear = (now: number) =>
    run(election.handle({ type: 'heartbeat', now, path: 0, seq: ++seq, bootId: 'b1', echoesUs: true, proven: true, heartbeat: active }));
  hear(10);
  return { election, all, run, hear };
}

describe('the election and connection sync', () => {
  it("refuses an operator's takeover until the tables are synced", () => {
    const n = backupOf(config);
    expect(n.election.currentRole).toBe('BACKUP');
    const refused = n.run(n.election.handle({ type: 'operator', now: 20, requestId: 1, command: 'takeover' }));
    expect(refused.find((a) => a.type === 'operatorReply')).toMatchObject({ ok: false, code: 'not-synced' });
    n.run(n.election.handle({ type: 'synced', now: 30, synced: true }));
    const asked = n.run(n.election.handle({ type: 'operator', now: 40, requestId: 2, command: 'takeover' }));
    expect(asked.find((a) => a.type === 'operatorReply')).toBeUndefined();
    expect(n.election.status(40).pending).toMatchObject({ kind: 'takeover', reason: 'operator-takeover' });
  });

  it('preempts only once synced', () => {
    const n = backupOf({ ...config, preempt: true });
    for (let t = 50; t <= 150; t += 50) n.hear(t);
    expect(n.all.some((a) => a.type === 'log' && a.event === 'role.preempt')).toBe(false);
    n.run(n.election.handle({ type: 'synced', now: 160, synced: true }));
    expect(n.all.some((a) => a.type === 'log' && a.event === 'role.preempt')).toBe(true);
  });

  it('takes over from a dead peer without waiting for the tables', () => {
    const n = backupOf(config);
    n.run(n.election.handle({ type: 'tick', now: 210 }));
    expect(n.election.currentRole).toBe('ACTIVE');
  });
});
