// The IPVS table carrying 200 long-lived flows across a hard failover and the failback,
// with the table driven by hand where the sync engine will drive it (records from
// dump/watch on the active, committed on the peer; sync-bridge.ts runs each director's
// table in its namespace). A VS/NAT pair: the client reaches a real server through the
// VIP; the directors hold the VIP and the real server's gateway in turn, as tandem's
// claim does (addresses, the IPVS service, gratuitous ARP). Without sync the same
// failover breaks the flows, which shows the test measures sync.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Lab, run, type Host } from '../support/netns.js';
import { resetIpvs } from './director.js';
import { eventually, flowCount, flowEveryMs, LineProcess, sleep, TableBridge } from './sync-support.js';
import type { FlowReport } from './flows.js';

const vip = '10.100.0.100';
const gateway = '10.200.0.254';
const server = '10.200.0.11';
const port = 9000;
const own = { dira: ['10.100.0.1', '10.200.0.1'], dirb: ['10.100.0.2', '10.200.0.2'] } as const;
type DirectorName = keyof typeof own;

void describe('200 flows across a hard failover and the failback, the IPVS table fed by hand', { timeout: 1_500_000 }, () => {
  let lab: Lab;
  let client: Host;
  const directors = {} as Record<DirectorName, Host>;
  const bridges = new Map<DirectorName, TableBridge>();
  let flows: LineProcess | undefined;

  /** A director with an empty IPVS table, as after a reboot: a fresh namespace. */
  const freshDirector = async (name: DirectorName) => {
    const old = directors[name] as Host | undefined;
    await bridges.get(name)?.process.stop();
    if (old) await run('ip', ['netns', 'del', old.netns]).catch(() => undefined);
    const host = await lab.addHost(name);
    await lab.connect(host, 'pub0', 'pub', [`${own[name][0]}/24`]);
    await lab.connect(host, 'priv0', 'priv', [`${own[name][1]}/24`]);
    await lab.exec(host, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    directors[name] = host;
    bridges.set(name, await TableBridge.start(lab, host));
  };
  /** What tandem's claim does: addresses, the service, gratuitous ARP on both sides. */
  const claim = async (name: DirectorName) => {
    const host = directors[name];
    await lab.ipBatch(host.netns, [`addr add ${vip}/24 dev pub0`, `addr add ${gateway}/24 dev priv0`]);
    await lab.exec(host, 'ipvsadm', ['-A', '-t', `${vip}:${port}`, '-s', 'rr']);
    await lab.exec(host, 'ipvsadm', ['-a', '-t', `${vip}:${port}`, '-r', `${server}:${port}`, '-m']);
    for (const [device, address] of [
      ['pub0', vip],
      ['priv0', gateway],
    ])
      await lab.exec(host, 'arping', ['-U', '-c', '1', '-I', device!, '-s', address!, address!]).catch((error: unknown) => {
        console.log(`# ${name}: arping on ${device}: ${(error as Error).message}`);
      });
  };
  /** In tandem's order (daemon/host-controller.ts): the addresses first, then the table. The
   *  other way round, the flows' next packets reach a VIP without a service (the kernel stops
   *  IPVS's hooks with the last service) and the local stack resets them all. */
  const release = async (name: DirectorName) => {
    const host = directors[name];
    await lab.ipBatch(host.netns, [`addr del ${vip}/24 dev pub0`, `addr del ${gateway}/24 dev priv0`]);
    await lab.exec(host, 'ipvsadm', ['-C']);
  };
  /** The active's death: its table process killed, both links down. */
  const crash = async (name: DirectorName) => {
    bridges.get(name)?.process.kill();
    bridges.delete(name);
    await lab.setCable(directors[name], 'pub0', false);
    await lab.setCable(directors[name], 'priv0', false);
  };
  /** The engine's part: a bulk resync from `from` to `to`, then every change as it comes. */
  const sync = async (from: DirectorName, to: DirectorName) => {
    const source = bridges.get(from)!;
    const target = bridges.get(to)!;
    let pending = Promise.resolve();
    await source.watch((records) => {
      pending = pending.then(async () => {
        await target.commit(records);
      });
    });
    const { records, ms } = await source.dump();
    const committed = await target.commit(records);
    console.log(`# bulk resync ${from} -> ${to}: ${records.length} connections dumped in ${ms} ms, committed in ${committed.ms} ms`);
    assert.equal(committed.failed, 0);
  };
  const report = async (): Promise<FlowReport> => {
    flows!.send('report');
    return (await flows!.next((message) => 'stalest' in message)) as unknown as FlowReport;
  };
  /** Every flow is open and has received data within the last `withinMs`; on failure the
   *  last report and the active's view go to the log. */
  const allExchanging = async (what: string, withinMs: number, active?: DirectorName) => {
    let last: FlowReport | undefined;
    try {
      await eventually(
        async () => {
          last = await report();
          return last.open === flowCount && last.stalest < withinMs;
        },
        60_000,
        what,
      );
    } catch (error) {
      const { broken, ...counts } = last ?? { broken: [] };
      console.log(`# ${what}: last report ${JSON.stringify(counts)}, broken ${JSON.stringify(broken.slice(0, 5))}`);
      if (active) {
        const connections = (await lab.exec(directors[active], 'ipvsadm', ['-Lnc'])).stdout.split('\n');
        console.log(`# ${active}: ${connections.length - 3} connections, e.g.\n${connections.slice(0, 6).join('\n')}`);
        console.log(`# ${active}: ${(await lab.exec(directors[active], 'ipvsadm', ['-Ln'])).stdout}`);
      }
      console.log(`# client neighbours: ${(await lab.exec(client, 'ip', ['neigh'])).stdout}`);
      throw error;
    }
    return report();
  };
  const startFlows = async () => {
    flows = LineProcess.start(lab, client, 'flows.ts', ['client', vip, String(port), String(flowCount), String(flowEveryMs)]);
    const connected = await flows.next((message) => 'connected' in message, 600_000);
    assert.equal(connected.connected, flowCount);
    await allExchanging('the flows exchange data', 5000);
  };
  const finishFlows = async (): Promise<FlowReport> => {
    flows!.send('finish');
    const final = (await flows!.next((message) => 'stalest' in message, 60_000)) as unknown as FlowReport;
    await flows!.stop();
    flows = undefined;
    return final;
  };

  before(async () => {
    await resetIpvs();
    lab = await Lab.create();
    await lab.addSwitch('pub');
    await lab.addSwitch('priv');
    client = await lab.addHost('client');
    await lab.connect(client, 'eth0', 'pub', ['10.100.0.10/24']);
    const realServer = await lab.addHost('rs1');
    await lab.connect(realServer, 'eth0', 'priv', [`${server}/24`]);
    await lab.exec(realServer, 'ip', ['route', 'add', 'default', 'via', gateway]);
    const echo = LineProcess.start(lab, realServer, 'flows.ts', ['server', String(port)]);
    await Promise.all([freshDirector('dira'), freshDirector('dirb')]);
    await echo.next((message) => 'listening' in message, 600_000);
  });
  after(async () => {
    await flows?.stop();
    await lab.destroy();
  });

  void it('without sync a hard failover breaks the flows (the test measures sync)', async () => {
    await claim('dira');
    await startFlows();
    await crash('dira');
    await claim('dirb');
    await sleep(5000);
    const afterFailover = await report();
    console.log(`# without sync, 5 s after the failover: ${afterFailover.open}/${flowCount} open, ${afterFailover.broken.length} broken`);
    assert.ok(afterFailover.broken.length > flowCount / 2, `${afterFailover.broken.length} flows broke`);
    await finishFlows();
    await release('dirb');
    await Promise.all([freshDirector('dira'), freshDirector('dirb')]);
  });

  void it('with the table synced, every flow survives the hard failover and the failback, byte for byte', async () => {
    await claim('dira');
    await sync('dira', 'dirb');
    await startFlows();
    await eventually(async () => (await bridges.get('dirb')!.count()).established >= flowCount, 60_000, 'dirb knows every flow');

    // (a) the active dies hard; the backup claims
    await crash('dira');
    await claim('dirb');
    const failedOver = await allExchanging('every flow exchanges data after the failover', 5000, 'dirb');
    console.log(`# after the failover: ${failedOver.open}/${flowCount} open, stalest ${failedOver.stalest} ms`);
    assert.deepEqual(failedOver.broken, []);

    // (b) the node returns with an empty table, is synced, and takes the role back
    await freshDirector('dira');
    await sync('dirb', 'dira');
    await eventually(async () => (await bridges.get('dira')!.count()).established >= flowCount, 60_000, 'dira synced');
    await release('dirb');
    await claim('dira');
    const failedBack = await allExchanging('every flow exchanges data after the failback', 5000, 'dira');
    console.log(`# after the failback: ${failedBack.open}/${flowCount} open, stalest ${failedBack.stalest} ms`);

    const final = await finishFlows();
    console.log(`# at the end: ${final.balanced}/${flowCount} flows got back every byte they sent (${final.received}/${final.sent})`);
    assert.deepEqual(final.broken, []);
    assert.equal(final.balanced, flowCount);
    assert.equal(final.received, final.sent);
  });
});
