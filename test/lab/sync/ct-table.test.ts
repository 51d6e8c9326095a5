// The conntrack table against the real kernel in two namespaces: the dump and the events
// see entries made with conntrack(8), and a commit writes them into another namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';
import type { TableChange } from '../../../src/sync/table.js';
import { CtLab, type CtAgent } from './ct-lab.js';

const tcp = ['-p', 'tcp', '-s', '10.1.0.2', '-d', '203.0.113.9', '--sport', '40000', '--dport', '80'];
const udp6 = ['-p', 'udp', '-s', '2001:db8::2', '-d', '2001:db8:1::9', '--sport', '5353', '--dport', '53'];
const icmp = ['-p', 'icmp', '-s', '10.1.0.3', '-d', '203.0.113.9', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77'];

const ignoringTimeout = (entry: ConntrackEntry) => ({ ...entry, timeoutSeconds: 0 });
const byKey = (a: { original: { source: string } }, b: { original: { source: string } }) =>
  a.original.source.localeCompare(b.original.source);

describe('conntrack through ctnetlink (lab)', () => {
  const lab = new CtLab();
  let a: string;
  let b: string;
  let agentA: CtAgent;
  let agentB: CtAgent;

  beforeAll(async () => {
    a = await lab.addNamespace('a');
    b = await lab.addNamespace('b');
    agentA = await lab.agent(a);
    agentB = await lab.agent(b);
    await agentA.call('watch');
  });
  afterAll(async () => lab.destroy());

  const changes = () => agentA.events.items.flatMap((event) => (event.changes as TableChange<ConntrackEntry>[] | undefined) ?? []);
  const change = (type: string, match: (entry: ConntrackEntry) => boolean) =>
    agentA.events.waitFor(() => changes().some((c) => c.type === type && match(c.entry)));

  it('sees new entries as events and in the dump (TCP, UDP over IPv6, ICMP)', async () => {
    // with no entry in its namespace, the kernel's hash is not walked
    expect(await agentA.call('dump')).toEqual([]);
    expect((await agentA.call<{ dumps: unknown }>('stats')).dumps).toEqual({ walked: 0, skipped: 1 });
    await lab.exec(a, 'conntrack', ['-I', ...tcp, '--state', 'ESTABLISHED', '-t', '300', '-u', 'SEEN_REPLY,ASSURED', '-m', '3']);
    await lab.exec(a, 'conntrack', ['-I', ...udp6, '-t', '100', '-u', 'SEEN_REPLY', '-w', '4']);
    await lab.exec(a, 'conntrack', ['-I', ...icmp, '-t', '30']);
    await change('upsert', (entry) => entry.protocol === 1);
    expect(changes().map((c) => [c.type, c.entry.protocol])).toEqual([
      ['upsert', 6],
      ['upsert', 17],
      ['upsert', 1],
    ]);
    const dumped = await agentA.call<ConntrackEntry[]>('dump');
    expect((await agentA.call<{ dumps: unknown }>('stats')).dumps).toEqual({ walked: 1, skipped: 1 });
    expect(dumped.sort(byKey).map(ignoringTimeout)).toEqual(
      [
        {
          family: 4,
          protocol: 6,
          original: { source: '10.1.0.2', destination: '203.0.113.9', sourcePort: 40000, destinationPort: 80 },
          reply: { source: '203.0.113.9', destination: '10.1.0.2', sourcePort: 80, destinationPort: 40000 },
          status: 0x2 | 0x4 | 0x8,
          timeoutSeconds: 0,
          mark: 3,
          zone: 0,
          tcp: expect.objectContaining({ state: 3 }) as unknown,
        },
        {
          family: 4,
          protocol: 1,
          original: {
            source: '10.1.0.3',
            destination: '203.0.113.9',
            sourcePort: 0,
            destinationPort: 0,
            icmp: { id: 77, type: 8, code: 0 },
          },
          reply: { source: '203.0.113.9', destination: '10.1.0.3', sourcePort: 0, destinationPort: 0, icmp: { id: 77, type: 0, code: 0 } },
          status: 0x8,
          timeoutSeconds: 0,
          mark: 0,
          zone: 0,
        },
        {
          family: 6,
          protocol: 17,
          original: { source: '2001:db8::2', destination: '2001:db8:1::9', sourcePort: 5353, destinationPort: 53 },
          reply: { source: '2001:db8:1::9', destination: '2001:db8::2', sourcePort: 53, destinationPort: 5353 },
          status: 0x2 | 0x8,
          timeoutSeconds: 0,
          mark: 0,
          zone: 4,
        },
      ].sort(byKey),
    );
    expect(dumped.find((entry) => entry.protocol === 6)?.timeoutSeconds).toBeGreaterThan(290);
  });

  it('sees an update and a destroy', async () => {
    await lab.exec(a, 'conntrack', ['-U', ...tcp, '-m', '9']);
    await change('upsert', (entry) => entry.mark === 9);
    await lab.exec(a, 'conntrack', ['-D', ...icmp]);
    await change('remove', (entry) => entry.protocol === 1);
  });

  it('commits what it dumped into another namespace, and refreshes what is there', async () => {
    const dumped = await agentA.call<ConntrackEntry[]>('dump');
    expect(await agentB.call('commit', { entries: dumped })).toEqual({ written: 2, failed: 0 });
    const committed = await agentB.call<ConntrackEntry[]>('dump');
    expect(committed.sort(byKey).map(ignoringTimeout)).toEqual(
      dumped.sort(byKey).map((entry) => ({
        ...ignoringTimeout(entry),
        // committed TCP is tracked liberally (IP_CT_TCP_FLAG_BE_LIBERAL)
        ...(entry.tcp && { tcp: { ...entry.tcp, flagsOriginal: entry.tcp.flagsOriginal | 8, flagsReply: entry.tcp.flagsReply | 8 } }),
      })),
    );
    const refreshed = dumped.map((entry) => ({ ...entry, timeoutSeconds: 1000, mark: 42 }));
    expect(await agentB.call('commit', { entries: refreshed })).toEqual({ written: 2, failed: 0 });
    const after = await agentB.call<ConntrackEntry[]>('dump');
    expect(after.map((entry) => [entry.mark, entry.timeoutSeconds > 990])).toEqual([
      [42, true],
      [42, true],
    ]);
  });
});
