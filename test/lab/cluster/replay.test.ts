// Issue 12 in namespaces: the active's heartbeats are recorded through its
// graceful stop; it comes back (a new boot); then the other node restarts while
// an attacker replays the recording to it, spoofed as the recorded node. Heard
// before the live peer, the recording (ACTIVE, then STOPPED) must not make it
// claim: it is not proven to be made since its restart.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import { DirectorPair, heartbeatPort, udpPayloads } from '../../support/director-pair.js';

const deadtime = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a recording replayed to a node as it restarts (keepalive 50ms, deadtime 200ms)', () => {
  it('does not make it claim beside the live active node', async () => {
    requireRoot();
    // A long initdead: the restarted node must not claim for want of hearing anyone while the live peer is frozen.
    const pair = await DirectorPair.create({ keepalive: '50ms', deadtime: `${deadtime}ms`, initdead: '3s' });
    try {
      await pair.startBoth();
      await replayAfterRestart(pair);
    } finally {
      await pair.destroy();
    }
  });
});

async function replayAfterRestart(pair: DirectorPair): Promise<void> {
  const [recorded, victim] = await pair.settled();

  const capture = join(pair.dir, 'recording.pcap');
  const tcpdump = await pair.lab.watch(
    victim.host,
    'tcpdump',
    ['-i', 'eth0', '-U', '-w', capture, `udp dst port ${heartbeatPort} and src host ${recorded.publicAddress}`],
    /listening on/,
  );
  await sleep(10 * deadtime);
  const stoppedAt = await pair.stop(recorded);
  await pair.roleChange(victim, 'ACTIVE', stoppedAt - 1);
  await tcpdump.stop();
  const recording = udpPayloads(await readFile(capture));
  expect(recording.length).toBeGreaterThan(20);
  const recordedBoot = (await pair.status(victim)).peer!.bootId;

  // The recorded node comes back as backup, then takes over from the victim's graceful stop.
  const restartedAt = Date.now();
  await pair.start(recorded);
  await pair.roleChange(recorded, 'BACKUP', restartedAt - 1);
  const victimStoppedAt = await pair.stop(victim);
  await pair.roleChange(recorded, 'ACTIVE', victimStoppedAt - 1);

  // Frozen, the live node is silent while the victim starts: the recording is all it hears first.
  const spoofer = await pair.spoofer(recorded, victim);
  recorded.process!.kill('SIGSTOP');
  try {
    await pair.start(victim);
    await spoofer.send(recording);
    await sleep(deadtime / 4);
  } finally {
    recorded.process!.kill('SIGCONT');
    await spoofer.stop();
  }
  await sleep(5 * deadtime);

  // It took the recording for the peer at first (nothing tells them apart), but claimed nothing.
  expect(victim.logs.items.find((e) => e.event === 'peer.first-contact')?.bootId).toBe(recordedBoot);
  expect(pair.roleChanges(victim).map((e) => e.to)).not.toContain('ACTIVE');
  expect(victim.logs.items.some((e) => e.event === 'split-brain')).toBe(false);
  expect(recorded.logs.items.some((e) => e.event === 'split-brain')).toBe(false);
  expect(pair.roleChanges(recorded).at(-1)).toMatchObject({ from: 'BACKUP', to: 'ACTIVE', reason: 'peer-stopped' });
  expect((await pair.status(recorded)).role).toBe('ACTIVE');
  const status = await pair.status(victim);
  expect(status).toMatchObject({ role: 'BACKUP', peer: { role: 'ACTIVE', alive: true } });
  expect(status.peer!.bootId).not.toBe(recordedBoot);
}
