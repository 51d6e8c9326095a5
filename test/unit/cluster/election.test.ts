// The election's rules one by one: a single Election fed hand-made events, and
// scripted scenarios of two nodes on the simulated network.
import { describe, expect, it } from 'vitest';
import { Election, type Action, type ElectionConfig } from '../../../src/cluster/election.js';
import type { Heartbeat, Role } from '../../../src/cluster/heartbeat.js';
import { Simulation, type NodeIndex, type Operation, type SimOptions } from './simulator.js';

const config: ElectionConfig = {
  self: { name: 'ifw01', priority: 100 },
  peer: { name: 'ifw02', priority: 100 },
  pathCount: 2,
  keepalive: 50,
  deadtime: 200,
  warntime: 100,
  initdead: 1000,
  preempt: false,
  serialNo: 7,
};

function peerHeartbeat(role: Role, patch: Partial<Heartbeat> = {}): Heartbeat {
  return {
    role,
    priority: 100,
    term: 1,
    serialNo: 7,
    health: { canServe: true, monitorLinks: false, links: [], fault: '' },
    peerView: [{ path: 0, heard: true, lastSeq: 1, silentMs: 0 }],
    timers: { keepaliveMs: 50, deadtimeMs: 200 },
    stateVersion: 1,
    peerStateVersion: 0,
    claimedTerm: 0,
    ...patch,
  };
}

/** One election and a hand-driven peer. */
function single(cfg: ElectionConfig = config) {
  const election = new Election(cfg, 0);
  let seq = 0;
  const all: Action[] = [];
  const run = (actions: Action[]) => (all.push(...actions), actions);
  return {
    election,
    all,
    tick: (now: number) => run(election.handle({ type: 'tick', now })),
    hear: (now: number, heartbeat: Heartbeat, path = 0) =>
      run(election.handle({ type: 'heartbeat', now, path, seq: ++seq, bootId: 'b1', echoesUs: true, proven: true, heartbeat })),
    transitions: () => all.flatMap((a) => (a.type === 'roleChanged' ? [a.transition] : [])),
    logs: (event: string) => all.flatMap((a) => (a.type === 'log' && a.event === event ? [a] : [])),
  };
}

describe('election rules (one node)', () => {
  it('waits initdead (once, at start) for the peer, then claims', () => {
    const n = single();
    n.tick(0);
    expect(n.election.nextWakeAt(0)).toBe(50);
    n.tick(999);
    expect(n.election.currentRole).toBe('INIT');
    n.tick(1000);
    expect(n.transitions()).toMatchObject([{ from: 'INIT', to: 'ACTIVE', reason: 'initdead', term: 1 }]);
  });

  it('takes over when the peer is silent for deadtime on every path, not before', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    expect(n.election.currentRole).toBe('BACKUP');
    n.hear(60, peerHeartbeat('ACTIVE'), 1);
    n.tick(259);
    expect(n.election.currentRole).toBe('BACKUP');
    expect(n.election.nextWakeAt(259)).toBe(260);
    const actions = n.tick(260);
    expect(n.transitions().at(-1)).toMatchObject({
      from: 'BACKUP',
      to: 'ACTIVE',
      reason: 'peer-dead',
      term: 2,
      timings: { peerSilentMs: 200 },
    });
    // path.down (path 1) and peer.dead, then the transition
    expect(actions.map((a) => a.type)).toEqual(['log', 'log', 'roleChanged', 'claim', 'setSyncRole', 'runHooks', 'sendHeartbeat']);
  });

  it('takes over when woken at the deadline it asked for, however fractional times round', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    // (heard + 200) - heard is a hair under 200 in floating point: judged by the difference,
    // the wake at the deadline missed it and the backup waited a keepalive for the next one
    const heard = 410.35760934464616;
    n.hear(heard, peerHeartbeat('ACTIVE'));
    const deadline = heard + config.deadtime;
    n.tick(deadline - 1);
    expect(n.election.nextWakeAt(deadline - 1)).toBe(deadline);
    n.tick(deadline);
    expect(n.transitions().at(-1)).toMatchObject({ to: 'ACTIVE', reason: 'peer-dead', at: deadline });
  });

  it('woken late (CPU starved), a backup gives the peer a keepalive to be heard before it counts it dead, once', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    n.hear(60, peerHeartbeat('ACTIVE'));
    const late = (now: number, lateMs: number) => n.all.push(...n.election.handle({ type: 'tick', now, lateMs }));
    // this process did not run from 110 to 300: the silence is ours as much as the peer's
    late(300, 190);
    expect(n.election.currentRole).toBe('BACKUP');
    expect(n.election.nextWakeAt(300)).toBe(350);
    n.hear(320, peerHeartbeat('ACTIVE'));
    late(600, 200);
    expect(n.election.currentRole).toBe('BACKUP');
    // stalling again in the same silence gives no more grace
    expect(n.election.nextWakeAt(600)).toBe(650);
    late(700, 50);
    expect(n.transitions().at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-dead' });
    // a tick on time after deadtime of silence: dead, as before
    const m = single();
    m.tick(0);
    m.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    m.all.push(...m.election.handle({ type: 'tick', now: 210, lateMs: 2 }));
    expect(m.transitions().at(-1)).toMatchObject({ reason: 'peer-dead', at: 210 });
  });

  it('a heartbeat that fell due while an older event was handled is due at once, not at the next deadline', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    // a datagram that arrived at 45 is handled at 70: the heartbeat due at 60 must not wait for deadtime
    n.hear(45, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    expect(n.election.nextWakeAt(70)).toBe(70);
    expect(n.tick(70).some((a) => a.type === 'sendHeartbeat')).toBe(true);
    expect(n.election.nextWakeAt(70)).toBe(120);
  });

  it('asks the daemon to refresh the peer once when a path comes up after silence, not on every heartbeat', () => {
    const n = single();
    const pathsUp = (actions: Action[]) => actions.filter((a) => a.type === 'pathUp');
    n.tick(0);
    expect(pathsUp(n.hear(10, peerHeartbeat('ACTIVE'), 0))).toEqual([{ type: 'pathUp', path: 0 }]);
    expect(pathsUp(n.hear(11, peerHeartbeat('ACTIVE'), 1))).toEqual([{ type: 'pathUp', path: 1 }]);
    for (let t = 50; t <= 300; t += 50) {
      n.hear(t, peerHeartbeat('ACTIVE'), 0);
      n.tick(t + 1);
    }
    expect(n.logs('path.down')).toMatchObject([{ fields: { path: 1 } }]);
    expect(pathsUp(n.all)).toHaveLength(2);
    expect(pathsUp(n.hear(320, peerHeartbeat('ACTIVE'), 1))).toEqual([{ type: 'pathUp', path: 1 }]);
    expect(pathsUp(n.hear(350, peerHeartbeat('ACTIVE'), 1))).toEqual([]);
  });

  it('keeps the peer alive through one path while the other is silent, and logs the path down', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE'), 0);
    n.hear(11, peerHeartbeat('ACTIVE'), 1);
    for (let t = 50; t <= 1000; t += 50) {
      n.hear(t, peerHeartbeat('ACTIVE'), 0);
      n.tick(t + 1);
    }
    expect(n.election.currentRole).toBe('BACKUP');
    expect(n.logs('path.down')).toMatchObject([{ fields: { path: 1 } }]);
    expect(n.logs('peer.dead')).toEqual([]);
  });

  it('logs a late heartbeat with its lateness', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE'));
    n.hear(60, peerHeartbeat('ACTIVE'));
    n.hear(190, peerHeartbeat('ACTIVE'));
    expect(n.logs('heartbeat.late')).toMatchObject([{ level: 'warn', fields: { gapMs: 130, latenessMs: 80 } }]);
  });

  it('ignores a datagram overtaken on its path: no liveness, no state', () => {
    const n = single();
    n.tick(0);
    const e = n.election;
    e.handle({
      type: 'heartbeat',
      now: 10,
      path: 0,
      seq: 5,
      bootId: 'b',
      echoesUs: true,
      proven: true,
      heartbeat: peerHeartbeat('ACTIVE'),
    });
    e.handle({ type: 'heartbeat', now: 20, path: 0, seq: 4, bootId: 'b', echoesUs: true, proven: true, heartbeat: peerHeartbeat('FAULT') });
    expect(e.status(20).peer).toMatchObject({ role: 'ACTIVE', paths: [{ lastHeard: 10 }, { up: false }] });
  });

  it("sends its version and shows the peer's (none from an older peer)", () => {
    const n = single({ ...config, version: '0.2.0' });
    const sent = n.tick(0).flatMap((a) => (a.type === 'sendHeartbeat' ? [a.heartbeat] : []));
    expect(sent).toMatchObject([{ version: '0.2.0' }]);
    n.hear(10, peerHeartbeat('ACTIVE'));
    expect(n.election.status(10).peer?.version).toBeUndefined();
    n.hear(60, peerHeartbeat('ACTIVE', { version: '0.1.0' }));
    expect(n.election.status(60).peer).toMatchObject({ role: 'ACTIVE', version: '0.1.0' });
  });

  it('heeds an unproven peer (maybe a recording replayed after our restart) only where it holds this node back', () => {
    const e = new Election(config, 0);
    const hear = (now: number, seq: number, heartbeat: Heartbeat) =>
      e.handle({ type: 'heartbeat', now, path: 0, seq, bootId: 'recorded', echoesUs: false, proven: false, heartbeat });
    const handover: Heartbeat['request'] = { kind: 'handover', id: 3, reason: 'operator-failover' };
    e.handle({ type: 'tick', now: 0 });
    hear(10, 1, peerHeartbeat('ACTIVE'));
    expect(e.status(10).lastTransition).toMatchObject({ from: 'INIT', to: 'BACKUP', reason: 'peer-active' });
    // Whatever its peer_view says, it has not heard us: nothing to take over from.
    const takeover = e.handle({ type: 'operator', now: 10, requestId: 1, command: 'takeover' });
    expect(takeover.find((a) => a.type === 'operatorReply')).toMatchObject({ ok: false, code: 'peer-deaf' });
    // Neither a STOPPED heartbeat nor a handover request moves it.
    hear(11, 2, peerHeartbeat('STOPPED'));
    hear(12, 3, peerHeartbeat('BACKUP', { request: handover }));
    e.handle({ type: 'tick', now: 211 });
    expect(e.currentRole).toBe('BACKUP');
    // Once it falls silent for deadtime, the node takes over as from any dead peer.
    e.handle({ type: 'tick', now: 212 });
    expect(e.status(212).lastTransition).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-dead' });
    // The same STOPPED heartbeat, proven (it echoes our boot), is acted on at once.
    const n = new Election(config, 0);
    n.handle({ type: 'tick', now: 0 });
    n.handle({
      type: 'heartbeat',
      now: 10,
      path: 0,
      seq: 1,
      bootId: 'live',
      echoesUs: false,
      proven: false,
      heartbeat: peerHeartbeat('ACTIVE'),
    });
    n.handle({
      type: 'heartbeat',
      now: 11,
      path: 0,
      seq: 2,
      bootId: 'live',
      echoesUs: true,
      proven: true,
      heartbeat: peerHeartbeat('STOPPED'),
    });
    expect(n.status(11).lastTransition).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-stopped' });
  });

  it('a preferred starting node claims only once the unproven peer it hears proves itself (or falls silent)', () => {
    const n = single({ ...config, self: { name: 'ifw01', priority: 200 } });
    const hear = (now: number, seq: number, proven: boolean) =>
      n.election.handle({
        type: 'heartbeat',
        now,
        path: 0,
        seq,
        bootId: 'peer',
        echoesUs: proven,
        proven,
        heartbeat: peerHeartbeat('INIT', { peerStateVersion: 1 }),
      });
    n.tick(0);
    for (let t = 10, seq = 1; t < 1000; t += 50, seq++) hear(t, seq, false);
    n.tick(1100);
    expect(n.election.currentRole).toBe('INIT');
    hear(1110, 100, true);
    expect(n.election.status(1110).lastTransition).toMatchObject({ from: 'INIT', to: 'ACTIVE', reason: 'elected' });
    // Unproven to the end, it would have claimed at initdead once the peer fell silent.
    const m = single({ ...config, self: { name: 'ifw01', priority: 200 } });
    m.tick(0);
    for (let t = 10, seq = 1; t < 1000; t += 50, seq++)
      m.election.handle({
        type: 'heartbeat',
        now: t,
        path: 0,
        seq,
        bootId: 'r',
        echoesUs: false,
        proven: false,
        heartbeat: peerHeartbeat('INIT'),
      });
    m.tick(1159);
    expect(m.election.currentRole).toBe('INIT');
    m.tick(1160);
    expect(m.election.status(1160).lastTransition).toMatchObject({ from: 'INIT', to: 'ACTIVE', reason: 'initdead' });
  });

  it('warns once about a different configuration serial and timers', () => {
    const n = single();
    n.tick(0);
    for (const t of [10, 60, 110]) n.hear(t, peerHeartbeat('ACTIVE', { serialNo: 8, timers: { keepaliveMs: 100, deadtimeMs: 400 } }));
    expect(n.logs('config.serial-mismatch')).toMatchObject([{ fields: { serialNo: 7, peerSerialNo: 8 } }]);
    expect(n.logs('config.timer-mismatch')).toHaveLength(1);
  });

  it('goes FAULT on a monitored link down, releasing, and back to BACKUP when it is up', () => {
    const n = single({ ...config, peer: undefined, pathCount: 0 });
    n.tick(0);
    expect(n.transitions()).toMatchObject([{ to: 'ACTIVE', reason: 'standalone' }]);
    const down = n.election.handle({
      type: 'health',
      now: 5,
      health: { canServe: false, monitorLinks: true, links: [{ name: 'eth1', up: false }], fault: 'eth1 down' },
    });
    expect(down.filter((a) => a.type === 'roleChanged' || a.type === 'release')).toMatchObject([
      { type: 'roleChanged', transition: { from: 'ACTIVE', to: 'FAULT', reason: 'link-down' } },
      { type: 'release', reason: 'link-down' },
    ]);
    n.election.handle({
      type: 'health',
      now: 9,
      health: { canServe: true, monitorLinks: true, links: [{ name: 'eth1', up: true }], fault: '' },
    });
    expect(n.election.currentRole).toBe('ACTIVE');
    expect(n.election.status(9).lastTransition).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'standalone' });
  });

  it('back from FAULT after its links were down, it gives the peer a deadtime to be heard before claiming', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    const linksDown = { canServe: false, monitorLinks: true, links: [{ name: 'eth0', up: false }], fault: 'link down: eth0 (no-carrier)' };
    n.election.handle({ type: 'health', now: 20, health: linksDown });
    expect(n.election.currentRole).toBe('FAULT');
    // deaf for a second, then the links are back: the peer has not been heard for long
    n.election.handle({
      type: 'health',
      now: 1020,
      health: { ...linksDown, canServe: true, links: [{ name: 'eth0', up: true }], fault: '' },
    });
    expect(n.election.status(1020).lastTransition).toMatchObject({ from: 'FAULT', to: 'BACKUP', reason: 'health-restored' });
    expect(n.election.nextWakeAt(1020)).toBeLessThanOrEqual(1220);
    n.tick(1100);
    n.hear(1110, peerHeartbeat('ACTIVE', { peerStateVersion: 4 }));
    n.tick(1300);
    expect(n.election.currentRole).toBe('BACKUP');
    // a peer that stays silent is dead after that deadtime
    const m = single();
    m.tick(0);
    m.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    m.election.handle({ type: 'health', now: 20, health: linksDown });
    m.election.handle({
      type: 'health',
      now: 1020,
      health: { ...linksDown, canServe: true, links: [{ name: 'eth0', up: true }], fault: '' },
    });
    m.tick(1219);
    expect(m.election.currentRole).toBe('BACKUP');
    m.tick(1220);
    expect(m.transitions().at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-dead' });
  });

  it('takes the role back when the peer cannot claim after a handover', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('BACKUP', { peerStateVersion: 1 }));
    expect(n.election.currentRole).toBe('BACKUP');
    n.hear(11, peerHeartbeat('BACKUP', { peerStateVersion: 2 }));
    expect(n.transitions().map((t) => t.reason)).toEqual(['peer-backup', 'elected']);
    const failover = n.election.handle({ type: 'operator', now: 20, requestId: 1, command: 'failover' });
    expect(failover.find((a) => a.type === 'sendHeartbeat')).toMatchObject({
      heartbeat: { role: 'BACKUP', request: { kind: 'handover', id: 1, reason: 'operator-failover' } },
    });
    const back = n.hear(
      21,
      peerHeartbeat('FAULT', { peerStateVersion: 4, health: { canServe: false, monitorLinks: true, links: [], fault: 'eth1 down' } }),
    );
    expect(back.find((a) => a.type === 'operatorReply')).toMatchObject({
      requestId: 1,
      ok: false,
      code: 'peer-cannot-serve',
      message: 'the peer became FAULT and cannot serve; this node takes the role back',
    });
    expect(n.transitions().at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'handover-failed' });
  });

  /** An active (term 1, state 3) that asked for a failover at 20 and still holds the addresses. */
  const handingOver = () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('BACKUP', { peerStateVersion: 1 }));
    n.hear(11, peerHeartbeat('BACKUP', { peerStateVersion: 2 }));
    n.election.handle({ type: 'operator', now: 20, requestId: 1, command: 'failover' });
    const released = () => n.all.some((a) => a.type === 'release');
    return { n, released };
  };

  it('after a handover, keeps the addresses until the new active reports its claim done, then a grace', () => {
    const { n, released } = handingOver();
    // ACTIVE leaves before its claim: the clients have not moved yet.
    n.hear(21, peerHeartbeat('ACTIVE', { term: 2, peerStateVersion: 4, claimedTerm: 0 }));
    n.tick(60);
    expect(released()).toBe(false);
    n.hear(62, peerHeartbeat('ACTIVE', { term: 2, peerStateVersion: 4, claimedTerm: 2 }));
    n.tick(71);
    expect(released()).toBe(false);
    n.tick(72);
    expect(released()).toBe(true);
  });

  it('lets go a deadtime after a peer that never reports its claim (an older version) became ACTIVE', () => {
    const { n, released } = handingOver();
    for (let t = 21; t < 221; t += 50) n.hear(t, peerHeartbeat('ACTIVE', { term: 2, peerStateVersion: 4 }));
    n.tick(220);
    expect(released()).toBe(false);
    n.tick(221);
    expect(released()).toBe(true);
  });

  it('reports a claim done in its heartbeats at once, with the term claimed', () => {
    const n = single();
    n.tick(0);
    n.tick(1000);
    expect(n.election.currentRole).toBe('ACTIVE');
    const done = n.election.handle({ type: 'actionResult', now: 1002, action: 'claim', ok: true });
    expect(done.find((a) => a.type === 'sendHeartbeat')).toMatchObject({ heartbeat: { role: 'ACTIVE', term: 1, claimedTerm: 1 } });
  });

  /** An active that asked for a failover the peer never saw (it answers as BACKUP, state 3), until the request timed out at 220. */
  const handoverTimedOut = () => {
    const { n } = handingOver();
    for (let t = 50; t < 220; t += 50) n.hear(t, peerHeartbeat('BACKUP', { peerStateVersion: 3 }));
    return { n, timeout: n.tick(220) };
  };

  it('after a handover times out, stops asking and claims again only once the peer cannot act on it', () => {
    const { n, timeout } = handoverTimedOut();
    expect(n.election.currentRole).toBe('BACKUP');
    const withdrawn = timeout.find((a) => a.type === 'sendHeartbeat');
    expect(withdrawn).toMatchObject({ heartbeat: { role: 'BACKUP' } });
    const version = withdrawn?.type === 'sendHeartbeat' ? withdrawn.heartbeat.stateVersion : 0;
    expect(withdrawn?.type === 'sendHeartbeat' && withdrawn.heartbeat.request).toBeFalsy();
    // Still BACKUP and not acknowledging the withdrawal: it may yet claim, so we wait.
    n.hear(250, peerHeartbeat('BACKUP', { peerStateVersion: 3 }));
    expect(n.election.currentRole).toBe('BACKUP');
    const back = n.hear(260, peerHeartbeat('BACKUP', { peerStateVersion: version }));
    expect(back.find((a) => a.type === 'operatorReply')).toMatchObject({ requestId: 1, ok: false, code: 'timeout' });
    expect(n.transitions().at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'handover-failed' });
  });

  it('counts a handover done when the peer claims after the request was withdrawn', () => {
    const { n } = handoverTimedOut();
    const done = n.hear(240, peerHeartbeat('ACTIVE', { term: 2, peerStateVersion: 3 }));
    expect(done.find((a) => a.type === 'operatorReply')).toMatchObject({ requestId: 1, ok: true });
    expect(n.election.currentRole).toBe('BACKUP');
    expect(n.transitions().at(-1)?.reason).not.toBe('handover-failed');
  });

  it('gives up a takeover request the active peer does not answer within deadtime', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE'));
    n.election.handle({ type: 'operator', now: 20, requestId: 5, command: 'takeover' });
    for (let t = 50; t <= 250; t += 50) n.hear(t, peerHeartbeat('ACTIVE'));
    expect(n.all.filter((a) => a.type === 'operatorReply')).toMatchObject([{ requestId: 5, ok: false, code: 'timeout' }]);
    expect(n.election.currentRole).toBe('BACKUP');
  });

  it('goes FAULT when claiming fails', () => {
    const n = single({ ...config, peer: undefined, pathCount: 0 });
    n.tick(0);
    n.election.handle({ type: 'actionResult', now: 1, action: 'claim', ok: false, error: 'ip_forward is off' });
    expect(n.election.currentRole).toBe('FAULT');
    expect(n.election.status(1).lastTransition?.reason).toBe('claim-failed');
  });

  it('reconfigure: new timers and serial from now on, no role change', () => {
    const n = single();
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    expect(n.election.currentRole).toBe('BACKUP');
    // heartbeats went out at 0 and 10 (acknowledging the peer's state): the next one is due at 60
    expect(n.election.nextWakeAt(20)).toBe(60);
    n.election.reconfigure({ ...config, keepalive: 20, deadtime: 100, warntime: 50, serialNo: 8 });
    expect(n.election.nextWakeAt(20)).toBe(30);
    const sent = n.tick(30).flatMap((a) => (a.type === 'sendHeartbeat' ? [a.heartbeat] : []));
    expect(sent).toMatchObject([{ serialNo: 8, timers: { keepaliveMs: 20, deadtimeMs: 100 } }]);
    n.tick(109);
    expect(n.election.currentRole).toBe('BACKUP');
    n.tick(110);
    expect(n.transitions().at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-dead', timings: { peerSilentMs: 100 } });
  });

  it('reconfigure: a backup the new priorities prefer does not preempt because of the reload', () => {
    const n = single({ ...config, preempt: true, self: { name: 'ifw01', priority: 50 } });
    n.tick(0);
    n.hear(10, peerHeartbeat('ACTIVE', { peerStateVersion: 1 }));
    expect(n.election.currentRole).toBe('BACKUP');
    n.election.reconfigure({ ...config, preempt: true, self: { name: 'ifw01', priority: 200 } });
    for (let t = 60; t < 1000; t += 50) n.hear(t, peerHeartbeat('ACTIVE', { peerStateVersion: 2 }));
    expect(n.election.currentRole).toBe('BACKUP');
    expect(n.all.some((a) => a.type === 'log' && a.event === 'role.preempt')).toBe(false);
  });

  it('reconfigure refuses another pair', () => {
    const n = single();
    expect(() => n.election.reconfigure({ ...config, peer: { name: 'ifw03', priority: 100 } })).toThrow(/nodes or heartbeat paths/);
    expect(() => n.election.reconfigure({ ...config, pathCount: 1 })).toThrow(/nodes or heartbeat paths/);
  });
});

const quiet: SimOptions = {
  timers: { keepalive: 50, deadtime: 200, warntime: 100, initdead: 400 },
  preempt: false,
  priorities: [100, 100],
  pathCount: 2,
  link: { loss: 0, duplication: 0, minDelay: 0.2, maxDelay: 0.4 },
  timerJitter: 0,
  seed: 1,
};

function scenario(ops: Operation[], until: number, options: Partial<SimOptions> = {}): Simulation {
  const sim = new Simulation({ ...quiet, ...options });
  sim.run(ops, until);
  expect(sim.violations).toEqual([]);
  return sim;
}

const roleAt = (sim: Simulation, node: NodeIndex, at: number) => sim.spans.find((s) => s.node === node && s.from <= at && s.to > at)?.role;
const transitionsOf = (sim: Simulation, node: NodeIndex) =>
  sim.transitions.filter((t) => t.node === node).map((t) => `${t.transition.from}->${t.transition.to} ${t.transition.reason}`);
const repliesOf = (sim: Simulation) => sim.replies.map((r) => `${r.ok ? 'ok' : 'refused'}: ${r.message}`);

describe('election scenarios (two nodes, simulated network)', () => {
  it('elects the node with the smaller name when priorities tie, the higher priority otherwise', () => {
    const tie = scenario([], 1000);
    expect([roleAt(tie, 0, 999), roleAt(tie, 1, 999)]).toEqual(['ACTIVE', 'BACKUP']);
    const prio = scenario([], 1000, { priorities: [100, 150] });
    expect([roleAt(prio, 0, 999), roleAt(prio, 1, 999)]).toEqual(['BACKUP', 'ACTIVE']);
  });

  it('preempt: the preferred node takes the role back when it returns; nopreempt: the active keeps it', () => {
    const ops: Operation[] = [{ at: 1000, type: 'kill', node: 0, downFor: 1000 }];
    const pre = scenario(ops, 4000, { preempt: true });
    expect(transitionsOf(pre, 1)).toEqual(['INIT->BACKUP peer-preferred', 'BACKUP->ACTIVE peer-dead', 'ACTIVE->BACKUP preempt']);
    expect(roleAt(pre, 0, 3999)).toBe('ACTIVE');
    const nopre = scenario(ops, 4000, { preempt: false });
    expect(transitionsOf(nopre, 1)).toEqual(['INIT->BACKUP peer-preferred', 'BACKUP->ACTIVE peer-dead']);
    expect(roleAt(nopre, 0, 3999)).toBe('BACKUP');
  });

  it('a quickly restarted active is replaced at once by the backup, not after deadtime', () => {
    const sim = scenario([{ at: 1000, type: 'kill', node: 0, downFor: 20 }], 2000);
    const claim = sim.transitions.find((t) => t.node === 1 && t.transition.to === 'ACTIVE')!.transition;
    expect(claim.reason).toBe('peer-starting');
    expect(claim.at - 1020).toBeLessThan(5);
  });

  it('split brain after a partition: exactly one yields, the survivor re-announces, both terms are logged', () => {
    const sim = scenario([{ at: 1000, type: 'partition', path: 'all', direction: 'both', duration: 1000 }], 3000);
    expect(roleAt(sim, 1, 1500)).toBe('ACTIVE');
    expect(roleAt(sim, 0, 1500)).toBe('ACTIVE');
    const yields = sim.transitions.filter((t) => t.transition.reason === 'split-brain-yield');
    expect(yields).toHaveLength(1);
    const survivor = (1 - yields[0]!.node) as NodeIndex;
    expect(sim.actions.filter((a) => a.action.type === 'announce').map((a) => a.node)).toEqual([survivor]);
    const logged = sim.actions
      .filter((a) => a.action.type === 'log' && a.action.event === 'role.split-brain')
      .map((a) => (a.action as { fields: object }).fields);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ term: expect.any(Number) as number, peerTerm: expect.any(Number) as number });
    // One trip after the first heartbeat that crosses the healed network, wherever the heartbeats' phase lies.
    const firstHeard = sim.actions.find((a) => a.at >= 2000 && a.action.type === 'sendHeartbeat')!;
    expect(yields[0]!.transition.at - firstHeard.at).toBeLessThan(2);
  });

  it('a one-way failure ends with exactly one active node: the deaf side keeps it', () => {
    // ifw02 stops hearing ifw01 for good: it takes over; ifw01 hears that and yields, since ifw02 cannot hear it.
    const sim = scenario([{ at: 1000, type: 'partition', path: 'all', direction: 'AtoB', duration: 1e9 }], 4000);
    expect([roleAt(sim, 0, 3999), roleAt(sim, 1, 3999)]).toEqual(['BACKUP', 'ACTIVE']);
  });

  it('a fault on the active moves the role; the faulty node is never chosen while the peer is healthy', () => {
    const sim = scenario([{ at: 1000, type: 'fault', node: 0, duration: 1000 }], 3000, { preempt: true });
    expect(transitionsOf(sim, 0)).toEqual([
      'INIT->BACKUP peer-backup',
      'BACKUP->ACTIVE elected',
      'ACTIVE->FAULT link-down',
      'FAULT->BACKUP health-restored',
      'BACKUP->ACTIVE preempt',
    ]);
    const took = sim.transitions.find((t) => t.node === 1 && t.transition.to === 'ACTIVE')!.transition;
    expect(took.reason).toBe('peer-unable');
    expect(took.at - 1000).toBeLessThan(2);
  });

  it('failover is a handshake: tell the peer at once, the peer claims, then release; the answer comes when it is active', () => {
    const sim = scenario([{ at: 1000, type: 'operator', node: 0, command: 'failover' }], 1500);
    const acts = sim.actions.filter((a) => a.at >= 1000 && a.node === 0).map((a) => a.action.type);
    expect(acts.slice(0, 2)).toEqual(['roleChanged', 'setSyncRole']);
    expect(acts).toContain('sendHeartbeat');
    // make before break: the old node answers until the new one holds the addresses, and a grace after
    const claimed = sim.actions.find((a) => a.node === 1 && a.action.type === 'claim' && a.at >= 1000)!;
    const released = sim.actions.find((a) => a.node === 0 && a.action.type === 'release' && a.at >= 1000)!;
    expect(released.at - claimed.at).toBeGreaterThanOrEqual(10);
    expect(released.at - claimed.at).toBeLessThan(12);
    const sent = sim.actions.find((a) => a.at === 1000 && a.action.type === 'sendHeartbeat')!.action as { heartbeat: Heartbeat };
    expect(sent.heartbeat).toMatchObject({ role: 'BACKUP', request: { kind: 'handover', reason: 'operator-failover' } });
    expect(transitionsOf(sim, 1).at(-1)).toBe('BACKUP->ACTIVE operator-failover');
    expect(repliesOf(sim)).toEqual([expect.stringMatching(/^ok: the peer is ACTIVE after [01] ms$/)]);
  });

  it('refuses a failover the peer cannot take, with the reason, and nothing moves', () => {
    const cases: [Operation[], string][] = [
      [[{ at: 900, type: 'fault', node: 1, duration: 1e6 }], 'refused: the peer is in FAULT (eth0 down)'],
      [[{ at: 900, type: 'operator', node: 1, command: 'standby' }], 'refused: the peer is in STANDBY'],
      [[{ at: 700, type: 'kill', node: 1, downFor: 1e6 }], 'refused: the peer is silent'],
    ];
    for (const [before, expected] of cases) {
      const sim = scenario([...before, { at: 1000, type: 'operator', node: 0, command: 'failover' }], 1500);
      expect(repliesOf(sim).at(-1)).toContain(expected);
      expect(roleAt(sim, 0, 1499)).toBe('ACTIVE');
    }
    const notActive = scenario([{ at: 1000, type: 'operator', node: 1, command: 'failover' }], 1100);
    expect(repliesOf(notActive)).toEqual(['refused: this node is BACKUP, not ACTIVE']);
  });

  it('takeover asks the active node to hand over', () => {
    const sim = scenario([{ at: 1000, type: 'operator', node: 1, command: 'takeover' }], 1500);
    expect(transitionsOf(sim, 0).at(-1)).toBe('ACTIVE->BACKUP operator-takeover');
    expect(transitionsOf(sim, 1).at(-1)).toBe('BACKUP->ACTIVE operator-takeover');
    expect(repliesOf(sim)).toEqual([expect.stringMatching(/^ok: this node is ACTIVE after [01] ms$/)]);
  });

  it('standby hands the role over first; resume brings the node back as backup', () => {
    const sim = scenario(
      [
        { at: 1000, type: 'operator', node: 0, command: 'standby' },
        { at: 2000, type: 'operator', node: 0, command: 'resume' },
      ],
      3000,
    );
    expect(transitionsOf(sim, 0).slice(2)).toEqual(['ACTIVE->STANDBY operator-standby', 'STANDBY->BACKUP operator-resume']);
    expect(roleAt(sim, 1, 1500)).toBe('ACTIVE');
    expect(roleAt(sim, 1, 2999)).toBe('ACTIVE');
  });

  it('a graceful stop of the active tells the peer, which takes over at once', () => {
    const sim = scenario([{ at: 1000, type: 'stop', node: 0, downFor: 1e6 }], 1500);
    expect(transitionsOf(sim, 0).at(-1)).toBe('ACTIVE->STOPPED shutdown');
    const took = sim.transitions.find((t) => t.node === 1 && t.transition.to === 'ACTIVE')!.transition;
    expect(took.reason).toBe('peer-stopped');
    expect(took.at - 1000).toBeLessThan(2);
    expect(sim.actions.some((a) => a.node === 0 && a.action.type === 'stopped' && a.at < 1002)).toBe(true);
  });

  it('restarted while an attacker replays what it heard before (STOPPED, handover), a node claims nothing', () => {
    // Issue 12: ifw01 stops (its STOPPED heartbeats are recorded) and comes back; then ifw02
    // restarts and is fed the recording before ifw01's own heartbeats reach it.
    const ops: Operation[] = [
      { at: 1000, type: 'stop', node: 0, downFor: 200 },
      { at: 1500, type: 'operator', node: 1, command: 'failover' },
      { at: 1700, type: 'operator', node: 0, command: 'failover' },
      { at: 2000, type: 'stop', node: 1, downFor: 300, replayOnRestart: true },
    ];
    const sim = scenario(ops, 4000, { link: { ...quiet.link, minDelay: 5, maxDelay: 5 } });
    expect(sim.replays.filter((r) => r.outcome === 'unproven').length).toBeGreaterThan(10);
    expect(roleAt(sim, 0, 2100)).toBe('ACTIVE');
    expect(transitionsOf(sim, 0).slice(-1)).toEqual(['BACKUP->ACTIVE peer-stopped']);
    expect(sim.transitions.filter((t) => t.node === 1 && t.transition.at >= 2300 && t.transition.to === 'ACTIVE')).toEqual([]);
    expect(roleAt(sim, 1, 3999)).toBe('BACKUP');
    expect(sim.logs.filter((l) => l.event === 'split-brain')).toEqual([]);
  });

  it('both restarting at once, one of them fed a recording: exactly one claims, never both', () => {
    const sim = scenario(
      [
        { at: 1000, type: 'stop', node: 0, downFor: 300 },
        { at: 1000, type: 'kill', node: 1, downFor: 300, replayOnRestart: true },
      ],
      4000,
    );
    expect(sim.replays.length).toBeGreaterThan(10);
    expect([roleAt(sim, 0, 3999), roleAt(sim, 1, 3999)].sort()).toEqual(['ACTIVE', 'BACKUP']);
    const active = (node: NodeIndex) => sim.spans.filter((s) => s.node === node && s.role === 'ACTIVE' && s.to > 1300);
    for (const a of active(0)) for (const b of active(1)) expect(Math.min(a.to, b.to) <= Math.max(a.from, b.from)).toBe(true);
  });

  it('a failed claim sends the node to FAULT and the peer takes the role (back)', () => {
    const sim = scenario(
      [
        { at: 900, type: 'claimFails', node: 1 },
        { at: 1000, type: 'operator', node: 0, command: 'failover' },
      ],
      2000,
    );
    expect(transitionsOf(sim, 1).slice(-2)).toEqual(['BACKUP->ACTIVE operator-failover', 'ACTIVE->FAULT claim-failed']);
    expect(transitionsOf(sim, 0).at(-1)).toBe('BACKUP->ACTIVE peer-unable');
    expect(roleAt(sim, 0, 1999)).toBe('ACTIVE');
  });
});
