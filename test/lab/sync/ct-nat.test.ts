// A masqueraded flow survives the move to another gateway only when its conntrack entry
// was committed there: gateway B, with a stateful ruleset (established and related
// accepted, everything else from outside dropped), translates and accepts the server's
// packets of the committed flow and drops those of the flow it was not given.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';
import { Collector } from '../../support/netns.js';
import { CtLab } from './ct-lab.js';

const FLOWS = fileURLToPath(new URL('./fixtures/ct-flows.ts', import.meta.url));
const ruleset = `
table inet gw {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "eth0" oifname "eth1" ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "eth1" meta l4proto tcp masquerade to :61000-61010
    oifname "eth1" masquerade
  }
}
`;
const SRC_NAT = 0x10;

describe('conntrack commit of a masqueraded flow (lab)', () => {
  const lab = new CtLab();
  let gatewayA: string;
  let gatewayB: string;
  let received: Collector<{ flow: number; bytes?: number; error?: string }>;

  const bytesOf = (flow: number) => Math.max(0, ...received.items.filter((line) => line.flow === flow).map((line) => line.bytes ?? 0));

  beforeAll(async () => {
    const inside = await lab.addSwitch('brin');
    const outside = await lab.addSwitch('brout');
    const client = await lab.addNamespace('cl');
    const server = await lab.addNamespace('srv');
    gatewayA = await lab.addNamespace('gwa');
    gatewayB = await lab.addNamespace('gwb');
    await lab.connect(client, 'eth0', inside, ['10.1.0.2/24']);
    await lab.ip(client, ['route add default via 10.1.0.1']);
    await lab.connect(server, 'eth0', outside, ['198.51.100.9/24']);
    // B stands in for A with the same addresses and MACs (as after a takeover's ARP)
    for (const gateway of [gatewayA, gatewayB]) {
      await lab.connect(gateway, 'eth0', inside, ['10.1.0.1/24'], '02:00:00:c7:00:01');
      await lab.connect(gateway, 'eth1', outside, ['198.51.100.1/24'], '02:00:00:c7:00:02');
      await lab.exec(gateway, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await lab.exec(gateway, 'nft', ['-f', '-'], ruleset);
    }
    await lab.ip(gatewayB, ['link set eth0 down', 'link set eth1 down']);

    const serving = lab.spawn(server, process.execPath, ['--import', 'tsx', FLOWS, 'server', '8080']);
    await new Promise<void>((resolve) => serving.stdout?.once('data', () => resolve()));
    const flows = lab.spawn(client, process.execPath, ['--import', 'tsx', FLOWS, 'client', '198.51.100.9', '8080', '40001', '40002']);
    received = new Collector('client');
    let partial = '';
    flows.stdout?.on('data', (data: Buffer) => {
      const lines = (partial + data.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) received.push(JSON.parse(line) as { flow: number; bytes?: number });
    });
    await received.waitFor((line) => line.flow === 0 && (line.bytes ?? 0) > 0);
    await received.waitFor((line) => line.flow === 1 && (line.bytes ?? 0) > 0);
  });
  afterAll(async () => lab.destroy());

  it('B translates and accepts the committed flow and drops the other', async () => {
    const agentA = await lab.agent(gatewayA);
    const dumped = (await agentA.call<ConntrackEntry[]>('dump')).filter((entry) => entry.original.destinationPort === 8080);
    expect(dumped).toHaveLength(2);
    for (const entry of dumped) {
      expect(entry.status & SRC_NAT).toBe(SRC_NAT);
      expect(entry.reply.destination).toBe('198.51.100.1');
      expect(entry.reply.destinationPort).toBeGreaterThanOrEqual(61000);
    }
    const committed = dumped.find((entry) => entry.original.sourcePort === 40002);

    // A fails hard; B takes over with only the second flow committed
    await lab.ip(gatewayA, ['link set eth0 down', 'link set eth1 down']);
    const agentB = await lab.agent(gatewayB);
    expect(await agentB.call('commit', { entries: [committed] })).toEqual({ written: 1, failed: 0 });
    await lab.ip(gatewayB, ['link set eth0 up', 'link set eth1 up']);
    const [before0, before1] = [bytesOf(0), bytesOf(1)];

    await received.waitFor((line) => line.flow === 1 && (line.bytes ?? 0) > before1 + 200, 10_000);
    // the uncommitted flow's server retransmits meanwhile, and B drops it
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(bytesOf(0)).toBe(before0);
    expect(bytesOf(1)).toBeGreaterThan(before1 + 200);

    const onB = (await agentB.call<ConntrackEntry[]>('dump')).filter((entry) => entry.original.destinationPort === 8080);
    expect(onB.map((entry) => [entry.original.sourcePort, entry.reply.destinationPort])).toEqual([
      [40002, committed?.reply.destinationPort],
    ]);
  });
});
