// The NAT gateway's connections through a hard failover and the failback, end to end:
// two real `tandem run` directors with a stateful nftables ruleset (established and
// related accepted, a new flow only from the inside and only by its SYN, everything
// else dropped) translate the real server's connections to an outside host to the
// public VIP. 200 connections echo a line every 50 ms; with conntrack sync each
// survives the active's death and the role's return to the rebooted node, and every
// byte sent comes back, also when the backup joined while they ran; without it the new
// active drops them.
// The source NAT is to the VIP, not `masquerade`: masquerade takes the outgoing link's
// primary address, the director's own, which the outside host would keep answering
// after it died (and which the conntrack filter never syncs).
import { afterEach, describe, expect, it } from 'vitest';
import { sendControlRequest, type DaemonStatus } from '../../../src/control/index.js';
import { DirectorPair, type Director } from '../../support/director-pair.js';
import { requireRoot, type Host } from '../../support/netns.js';
import { startEchoServer, startTcpFlows, type FlowFigures, type TcpFlows } from '../../support/tcp-flows.js';
import { clientAddress, natGateway, serverAddress, services, vip } from '../../support/takeover-lab.js';
import { until } from '../../support/until.js';

/** The takeover lab's addresses and services (its VIP is the translated source here). */
const outsideAddress = clientAddress;
const echoPort = 9000;
const connections = 200;
const intervalMs = 50;
/** Longest silence a surviving connection may show: detection, commit, ARP and TCP's retransmission backoff. */
const survivableSilenceMs = 5000;

const ruleset = `
table inet gateway {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "eth1" oifname "eth0" ip saddr 198.51.100.0/24 tcp flags & (fin | syn | rst | ack) == syn ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "eth0" ip saddr 198.51.100.0/24 snat ip to ${vip}
  }
}
`;

/** Real-time scheduling (as deploy/systemd runs the daemon): on a loaded machine a late
 *  heartbeat would fail over by itself; and a head start for loading Node before that. */
const daemonOptions = { args: ['--realtime'], prefix: ['nice', '-n', '-10'] };

const syncConfig = (conntrack: boolean) => `sync:
  conntrack:
    enabled: ${conntrack}
`;

interface NatLab {
  pair: DirectorPair;
  server: Host;
  outside: Host;
}

interface NatLabOptions {
  conntrackSync: boolean;
  /** Start only the first director (the test starts the other). */
  firstOnly?: boolean;
  /** The directors' nf_conntrack_tcp_timeout_unacknowledged, seconds. */
  unacknowledgedTimeout?: number;
}

async function createNatLab({ conntrackSync, firstOnly = false, unacknowledgedTimeout }: NatLabOptions): Promise<NatLab> {
  requireRoot();
  const pair = await DirectorPair.create({ keepalive: '100ms', deadtime: '600ms', services, extraConfig: syncConfig(conntrackSync) });
  try {
    const { lab } = pair;
    const server = await lab.addHost('ics01');
    await lab.connect(server, 'eth0', 'sw1', [`${serverAddress}/24`]);
    await lab.exec(server, 'ip', ['route', 'add', 'default', 'via', natGateway]);
    const outside = await lab.addHost('xout');
    await lab.connect(outside, 'eth0', 'sw0', [`${outsideAddress}/24`]);
    for (const node of pair.nodes) {
      await lab.exec(node.host, 'nft', ['-f', '-'], ruleset);
      if (unacknowledgedTimeout !== undefined)
        await lab.exec(node.host, 'sysctl', ['-qw', `net.netfilter.nf_conntrack_tcp_timeout_unacknowledged=${unacknowledgedTimeout}`]);
    }
    if (firstOnly) await pair.start(pair.nodes[0], daemonOptions);
    else await pair.startBoth(daemonOptions);
    await startEchoServer(lab, outside, echoPort);
    return { pair, server, outside };
  } catch (error) {
    await pair.destroy();
    throw error;
  }
}

/** The node dies hard: its daemon is killed, then both its links go down. */
async function die(pair: DirectorPair, node: Director): Promise<number> {
  const at = await pair.kill(node);
  await Promise.all(['eth0', 'eth1'].map((ifname) => pair.lab.setCable(node.host, ifname, false)));
  return at;
}

/** The node comes back as after a reboot: an empty conntrack table, a fresh daemon (which
 *  removes the addresses the dead one left), then its links. */
async function reboot(pair: DirectorPair, node: Director): Promise<void> {
  await pair.lab.exec(node.host, 'conntrack', ['-F']).catch(() => undefined);
  await pair.start(node, daemonOptions);
  await Promise.all(['eth0', 'eth1'].map((ifname) => pair.lab.setCable(node.host, ifname, true)));
}

const conntrackOf = (status: DaemonStatus) => status.sync?.kinds.find((kind) => kind.kind === 'conntrack');

/** Waits until the backup keeps at least `entries` of the active's conntrack entries, caught up. */
async function warm(pair: DirectorPair, backup: Director, entries: number, timeoutMs: number): Promise<void> {
  await until(
    `${backup.name} keeps ${entries} conntrack entries, synced`,
    async () => {
      const status = await pair.status(backup);
      const kind = conntrackOf(status);
      return status.role === 'BACKUP' && status.sync?.synced === true && kind !== undefined && kind.entriesWarm >= entries;
    },
    timeoutMs,
    async () => `${JSON.stringify((await pair.status(backup).catch(() => undefined))?.sync)}\n${story(pair)}`,
  );
}

/** What the daemons said about roles and sync, for a failure's message. */
function story(pair: DirectorPair): string {
  return pair.nodes
    .flatMap((node) =>
      node.logs.items
        .filter((e) => /^(role|sync|election|controller)\./.test(e.event ?? ''))
        .map((e) => `${node.name} ${JSON.stringify(e)}`),
    )
    .join('\n');
}

/** Every connection is open, without reset, and exchanged data within the last second. */
async function allFlowing(flows: TcpFlows): Promise<FlowFigures[]> {
  return until(
    'every connection exchanges data again',
    async () => {
      const report = await flows.report();
      return report.every((flow) => flow.silentForMs < 1000 || flow.closed) && report;
    },
    survivableSilenceMs * 2,
    async () => summary(await flows.report()),
  );
}

function summary(report: FlowFigures[]): string {
  const silent = report.filter((flow) => flow.silentForMs >= 1000);
  const broken = report.filter((flow) => flow.closed || flow.errors.length > 0);
  const longest = Math.max(...report.map((flow) => flow.maxSilenceMs));
  return `${report.length} connections: ${silent.length} silent, ${broken.length} closed or failed (${[...new Set(broken.flatMap((f) => f.errors))].join(', ')}), longest silence ${longest} ms`;
}

function expectSurvived(report: FlowFigures[]): void {
  const text = summary(report);
  expect(report, text).toHaveLength(connections);
  expect(
    report.filter((flow) => flow.closed || flow.resets > 0 || flow.errors.length > 0),
    text,
  ).toEqual([]);
  expect(Math.max(...report.map((flow) => flow.maxSilenceMs)), text).toBeLessThan(survivableSilenceMs);
}

describe('source-NATed connections through a hard failover and the failback (lab)', () => {
  let lab: NatLab | undefined;
  let flows: TcpFlows | undefined;

  afterEach(async () => {
    await flows?.stop();
    await lab?.pair.destroy();
  });

  it('with conntrack sync, 200 connections survive both moves and every byte comes back', { timeout: 120_000 }, async () => {
    const startedAt = Date.now();
    const phases: string[] = [];
    const phase = (name: string) => phases.push(`${name} ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    lab = await createNatLab({ conntrackSync: true });
    const { pair, server } = lab;
    const [active, backup] = await pair.settled(20_000);
    phase('lab');
    flows = await startTcpFlows(pair.lab, server, { address: outsideAddress, port: echoPort }, connections, intervalMs);
    await warm(pair, backup, connections, 20_000);
    phase('flows warm');

    // (a) the active dies hard; the backup commits the connections and takes the gateway
    flows.mark();
    const diedAt = await die(pair, active);
    await pair.roleChange(backup, 'ACTIVE', diedAt - 1, 10_000);
    const committed = await backup.logs.waitFor((e) => e.event === 'sync.committed' && e.kind === 'conntrack', 10_000);
    expect(committed.entries).toBeGreaterThanOrEqual(connections);
    expect(committed.failed).toBe(0);
    await allFlowing(flows);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const afterFailover = await flows.report();
    phase('failed over');
    expectSurvived(afterFailover);
    console.log(
      `hard failover: ${summary(afterFailover)}; commit ${String(committed.entries)} entries in ${String(committed.durationMs)} ms`,
    );

    // (b) it comes back rebooted, catches up, and takes the role back
    await reboot(pair, active);
    await pair.roleChange(active, 'BACKUP', diedAt, 20_000);
    await warm(pair, active, connections, 20_000);
    phase('returned, synced');
    flows.mark();
    const askedAt = Date.now();
    // what `tandem takeover` asks, without starting the CLI's Node on a loaded machine
    expect(await sendControlRequest(active.socket, { command: 'takeover' })).toMatchObject({ ok: true });
    await pair.roleChange(active, 'ACTIVE', askedAt - 1, 10_000);
    const recommitted = await active.logs.waitFor((e) => e.event === 'sync.committed' && e.kind === 'conntrack', 10_000);
    expect(recommitted.entries).toBeGreaterThanOrEqual(connections);
    await allFlowing(flows);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const afterFailback = await flows.report();
    phase('failed back');
    expectSurvived(afterFailback);
    const caughtUp = active.logs.items.some((e) => e.event === 'sync.resync-request') ? 'asked for a resync' : 'repaired the stream';
    console.log(`failback: ${summary(afterFailback)}; the returning node ${caughtUp}`);

    // every byte sent was echoed back
    flows.quiesce();
    const settled = await until(
      'every connection has its bytes back',
      async () => {
        const report = await flows!.report();
        return report.every((flow) => flow.received === flow.sent) && report;
      },
      10_000,
      async () => summary(await flows!.report()),
    );
    expect(settled.filter((flow) => flow.sent === 0)).toEqual([]);
    expectSurvived(settled);
    phase('bytes back');
    console.log(`phases: ${phases.join(', ')}`);
  });

  it('a backup that joins while the connections run keeps them past the countdown it read', async () => {
    // While data is in flight the kernel counts a busy flow down from
    // nf_conntrack_tcp_timeout_unacknowledged (300 s); 5 s here. The joining backup gets the
    // table by a bulk resync, which carries that countdown, and no event refreshes it.
    lab = await createNatLab({ conntrackSync: true, firstOnly: true, unacknowledgedTimeout: 5 });
    const { pair, server } = lab;
    const [first, second] = pair.nodes;
    await pair.roleChange(first, 'ACTIVE', 0, 20_000);
    flows = await startTcpFlows(pair.lab, server, { address: outsideAddress, port: echoPort }, connections, intervalMs);
    await pair.start(second, daemonOptions);
    await warm(pair, second, connections, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    expect(conntrackOf(await pair.status(second))?.entriesWarm).toBeGreaterThanOrEqual(connections);

    flows.mark();
    const diedAt = await die(pair, first);
    await pair.roleChange(second, 'ACTIVE', diedAt - 1, 10_000);
    await allFlowing(flows);
    const report = await flows.report();
    expectSurvived(report);
    console.log(`joined late, failed over: ${summary(report)}`);
  });

  it('without conntrack sync, the new active drops the connections', async () => {
    lab = await createNatLab({ conntrackSync: false });
    const { pair, server } = lab;
    const [active, backup] = await pair.settled(20_000);
    flows = await startTcpFlows(pair.lab, server, { address: outsideAddress, port: echoPort }, connections, intervalMs);
    flows.mark();
    const diedAt = await die(pair, active);
    await pair.roleChange(backup, 'ACTIVE', diedAt - 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, survivableSilenceMs));
    const report = await flows.report();
    console.log(`without sync: ${summary(report)}`);
    const broken = report.filter((flow) => flow.silentForMs >= survivableSilenceMs - 1000 || flow.closed);
    expect(broken.length, summary(report)).toBeGreaterThanOrEqual(connections * 0.9);
  });
});
