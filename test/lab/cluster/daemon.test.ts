// Two real `tandem run` processes in network namespaces, real UDP heartbeats on
// two paths (two switches), keepalive 50 ms / deadtime 200 ms: hard kill,
// operator failover, attacks on the channel, a cut path, graceful stop.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBootId, encodeHeartbeat, Keyring, messageKinds } from '../../../src/cluster/index.js';
import { sealDatagram } from '../../../src/cluster/envelope.js';
import { requireRoot } from '../../support/netns.js';
import { DirectorPair, type Director } from '../../support/director-pair.js';

const deadtime = 200;

function forgedHeartbeat(keyring: Keyring): Buffer {
  return sealDatagram(keyring, {
    kind: messageKinds.heartbeat,
    cluster: 'lab',
    sender: 'ifw01',
    bootId: createBootId(Date.now() + 60_000),
    seq: 1,
    echoBootId: Buffer.alloc(0),
    echoSeq: 0,
    // Were it accepted, this would make the backup claim at once.
    payload: encodeHeartbeat({
      role: 'STOPPED',
      priority: 255,
      term: 1000,
      serialNo: 1,
      health: { canServe: false, monitorLinks: false, links: [], fault: 'forged' },
      peerView: [],
      request: { kind: 'handover', id: 1, reason: 'operator-failover' },
      timers: { keepaliveMs: 50, deadtimeMs: 200 },
      stateVersion: 99,
      peerStateVersion: 0,
      claimedTerm: 0,
    }),
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('two tandem daemons in network namespaces (keepalive 50ms, deadtime 200ms)', () => {
  let pair: DirectorPair;
  let active: Director;
  let backup: Director;
  const created: DirectorPair[] = [];

  beforeEach(async () => {
    requireRoot();
    pair = await DirectorPair.create({ keepalive: '50ms', deadtime: `${deadtime}ms` });
    created.push(pair);
    await pair.startBoth();
    [active, backup] = await pair.settled();
  });

  afterEach(async () => {
    await Promise.all(created.splice(0).map((created) => created.destroy()));
  });

  it('hard kill of the active: the backup reports ACTIVE within deadtime + 100 ms', async () => {
    const killedAt = await pair.kill(active);
    const change = await pair.roleChange(backup, 'ACTIVE', killedAt - 1);
    const detection = Date.parse(String(change.at)) - killedAt;
    expect(change).toMatchObject({ from: 'BACKUP', reason: 'peer-dead' });
    expect(detection).toBeLessThanOrEqual(deadtime + 100);
    expect((await pair.status(backup)).role).toBe('ACTIVE');
  });

  it('tandem failover moves the role in under 100 ms', async () => {
    const result = await pair.tandem(active, ['failover', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const outcome = JSON.parse(result.stdout) as { ok: boolean; durationMs: number; role: string };
    expect(outcome).toMatchObject({ ok: true, role: 'BACKUP' });
    expect(outcome.durationMs).toBeLessThan(100);
    const requested = active.logs.items.find((e) => e.event === 'operator.request')!;
    const released = await pair.roleChange(active, 'BACKUP', requested.time - 5);
    const claimed = await pair.roleChange(backup, 'ACTIVE', requested.time - 5);
    expect(released.reason).toBe('operator-failover');
    expect(claimed.reason).toBe('operator-failover');
    expect(Date.parse(String(claimed.at)) - requested.time).toBeLessThan(100);
    expect(Date.parse(String(released.at))).toBeLessThanOrEqual(Date.parse(String(claimed.at)));
    // and the human answer
    const back = await pair.tandem(backup, ['failover']);
    expect(back.stdout).toMatch(/^failover: done: the peer is ACTIVE after \d+ ms \[now BACKUP, \d+ ms\]/);
  });

  it('a forged packet, a replayed packet and a packet with the wrong key change nothing and are counted', async () => {
    // Real heartbeats of the active, as the backup received them, to replay.
    const replayed = await pair.captureHeartbeats(active, backup, 5);
    expect(replayed).toHaveLength(5);

    const wrongKey = forgedHeartbeat(new Keyring(new Map([[1, randomBytes(32)]]), 1));
    const unknownKeyId = forgedHeartbeat(new Keyring(new Map([[7, randomBytes(32)]]), 7));
    const forged = Buffer.from(wrongKey);
    randomBytes(32).copy(forged, forged.length - 32);

    const before = await pair.status(backup);
    const changesBefore = [pair.roleChanges(active).length, pair.roleChanges(backup).length];
    // Spoofed as the active: the backup's socket, connected to the active, takes nothing from elsewhere.
    const spoofer = await pair.spoofer(active, backup);
    await spoofer.send([forged, wrongKey, unknownKeyId, ...replayed]);
    await spoofer.stop();
    await sleep(3 * deadtime);

    const after = await pair.status(backup);
    const rejected = after.peer!.paths[0]!.rejected;
    expect(rejected['bad-mac']! - (before.peer!.paths[0]!.rejected['bad-mac'] ?? 0)).toBe(2);
    expect(rejected['unknown-key']! - (before.peer!.paths[0]!.rejected['unknown-key'] ?? 0)).toBe(1);
    expect(rejected.replay! - (before.peer!.paths[0]!.rejected.replay ?? 0)).toBe(5);
    expect(after.packets.rejected).toMatchObject({ 'bad-mac': 2, 'unknown-key': 1, replay: 5 });
    expect([pair.roleChanges(active).length, pair.roleChanges(backup).length]).toEqual(changesBefore);
    expect(after).toMatchObject({ role: 'BACKUP', term: before.term, peer: { role: 'ACTIVE', alive: true } });
    expect((await pair.status(active)).role).toBe('ACTIVE');
    expect(backup.logs.items.filter((e) => e.event === 'packet.rejected').map((e) => e.reason)).toEqual(
      expect.arrayContaining(['bad-mac', 'unknown-key', 'replay']),
    );
  });

  it('cutting one of two paths changes nothing (and is reported)', async () => {
    const changesBefore = [pair.roleChanges(active).length, pair.roleChanges(backup).length];
    await pair.lab.setSwitchPort(active.host, 'eth1', false);
    await backup.logs.waitFor((e) => e.event === 'path.down' && e.path === 1, 2000);
    await sleep(10 * deadtime);
    const cut = await pair.status(backup);
    expect(cut).toMatchObject({ role: 'BACKUP', peer: { alive: true, role: 'ACTIVE', paths: [{ up: true }, { up: false }] } });
    expect((await pair.status(active)).role).toBe('ACTIVE');
    expect([pair.roleChanges(active).length, pair.roleChanges(backup).length]).toEqual(changesBefore);
    expect(backup.logs.items.some((e) => e.event === 'peer.dead')).toBe(false);

    const restoredAt = Date.now();
    await pair.lab.setSwitchPort(active.host, 'eth1', true);
    await backup.logs.waitFor((e) => e.event === 'path.up' && e.path === 1 && e.time >= restoredAt, 5000);
    expect((await pair.status(backup)).peer!.paths[1]!.up).toBe(true);
  });

  it('SIGTERM on the active: it releases and tells the peer, which takes over at once', async () => {
    const stoppedAt = await pair.stop(active);
    const change = await pair.roleChange(backup, 'ACTIVE', stoppedAt - 1);
    expect(change.reason).toBe('peer-stopped');
    expect(Date.parse(String(change.at)) - stoppedAt).toBeLessThan(deadtime / 2);
    expect(active.logs.items.filter((e) => e.event === 'role.change').at(-1)).toMatchObject({
      from: 'ACTIVE',
      to: 'STOPPED',
      reason: 'shutdown',
    });
    expect(active.logs.items.at(-1)).toMatchObject({ event: 'daemon.stopped', why: 'handed over' });
    const release = active.logs.items.findIndex((e) => e.event === 'controller.release');
    expect(release).toBeGreaterThan(-1);
  });

  it('takeover, standby and resume from the CLI', async () => {
    const asked = Date.now();
    const takeover = await pair.tandem(backup, ['takeover', '--json']);
    expect(JSON.parse(takeover.stdout)).toMatchObject({ ok: true, role: 'ACTIVE' });
    await pair.roleChange(active, 'BACKUP', asked);
    const standby = await pair.tandem(backup, ['standby']);
    expect(standby.stdout).toMatch(/^standby: done: the peer is ACTIVE after/);
    expect((await pair.status(backup)).role).toBe('STANDBY');
    const refused = await pair.tandem(active, ['failover']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('failover: refused (peer-standby): the peer is in STANDBY');
    expect((await pair.status(active)).role).toBe('ACTIVE');
    const resume = await pair.tandem(backup, ['resume', '--json']);
    expect(JSON.parse(resume.stdout)).toMatchObject({ ok: true, role: 'BACKUP' });
    const human = await pair.tandem(active, ['status']);
    expect(human.stdout).toMatch(/^ifw0\d \(cluster lab\): ACTIVE, term \d+, since .* reason operator-standby/);
    expect(human.stdout).toContain('path 1 198.51.100.');
  });
});

describe('status across different configurations', () => {
  it('shows both serials and warns when they differ', async () => {
    requireRoot();
    const pair = await DirectorPair.create({ keepalive: '50ms', deadtime: `${deadtime}ms`, serials: [3, 4] });
    try {
      await pair.startBoth();
      await pair.settled();
      const status = await pair.status(pair.nodes[0]);
      expect(status.config).toEqual({ serialNo: 3, peerSerialNo: 4, serialMismatch: true });
      const human = await pair.tandem(pair.nodes[0], ['status']);
      expect(human.stdout).toContain('WARNING: the nodes run different configurations (serial 3 here, 4 on the peer)');
      expect(pair.nodes[1].logs.items.some((e) => e.event === 'config.serial-mismatch')).toBe(true);
    } finally {
      await pair.destroy();
    }
  });
});
