// Chaos fault 421 (seed 20261206) in namespaces: a node killed, its cables pulled,
// restarted with its links down. Its heartbeats into the dead links leave the
// kernel's neighbour entry for the peer INCOMPLETE, and the kernel asks again only
// every retrans_time, link up or not: the peer did not hear the new boot for up to
// a second after the cables were back, so a split brain outlived the heal. Here
// retrans_time is 5 s, so a wait on the kernel cannot pass for a round trip.
import { describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import { DirectorPair, type Director } from '../../support/director-pair.js';

const keepalive = 50;
const deadtime = 200;
const cables = ['eth0', 'eth1'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a node restarted with its cables out (keepalive 50ms, deadtime 200ms)', () => {
  it('is heard by its peer within a few keepalives of the cables going in', async () => {
    requireRoot();
    const pair = await DirectorPair.create({ keepalive: `${keepalive}ms`, deadtime: `${deadtime}ms` });
    try {
      await pair.startBoth();
      const [active, backup] = await pair.settled();
      await Promise.all(pair.nodes.map((node) => slowNeighbourRetries(pair, node)));

      await pair.kill(active);
      await Promise.all(cables.map((ifname) => pair.lab.setSwitchPort(active.host, ifname, false)));
      await pair.roleChange(backup, 'ACTIVE');
      await pair.start(active);
      // its heartbeats go into the dead links: the entries for the peer go INCOMPLETE
      await sleep(4 * deadtime);
      const pluggedAt = Date.now();
      await Promise.all(cables.map((ifname) => pair.lab.setSwitchPort(active.host, ifname, true)));

      const heard = await backup.logs.waitFor((e) => e.event === 'peer.restarted', 10_000);
      expect(heard.receivedAt! - pluggedAt).toBeLessThan(deadtime + keepalive);
    } finally {
      await pair.destroy();
    }
  });
});

async function slowNeighbourRetries(pair: DirectorPair, node: Director): Promise<void> {
  for (const ifname of cables) await pair.lab.exec(node.host, 'sysctl', ['-qw', `net.ipv4.neigh.${ifname}.retrans_time_ms=5000`]);
}
