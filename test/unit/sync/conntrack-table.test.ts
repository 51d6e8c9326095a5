import { describe, expect, it } from 'vitest';
import { createStats } from '../../../src/lib/stats.js';
import type { ConntrackEvent } from '../../../src/sync/conntrack/driver.js';
import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';
import { ConntrackTable, type ConntrackKernel } from '../../../src/sync/conntrack/table.js';
import type { TableChange } from '../../../src/sync/table.js';
import { masqueraded, ping6, udp } from './conntrack-fixtures.js';

/** The directors' own management traffic: SSH to the director's address. */
const management: ConntrackEntry = {
  ...udp,
  protocol: 6,
  original: { source: '192.0.2.200', destination: '192.0.2.11', sourcePort: 50000, destinationPort: 22 },
  reply: { source: '192.0.2.11', destination: '192.0.2.200', sourcePort: 22, destinationPort: 50000 },
};

class FakeKernel implements ConntrackKernel {
  emit: (events: ConntrackEvent[]) => void = () => undefined;
  lose: (error: Error) => void = () => undefined;
  stopped = false;
  committed: ConntrackEntry[] = [];

  count: number | undefined = undefined;
  dumped = 0;

  entryCount(): number | undefined {
    return this.count;
  }

  async *dump(): AsyncIterable<ConntrackEntry[]> {
    this.dumped++;
    yield await Promise.resolve([masqueraded, management]);
    yield [management];
    yield [ping6];
  }

  watch(onEvents: (events: ConntrackEvent[]) => void, onLost: (error: Error) => void): () => void {
    this.emit = onEvents;
    this.lose = onLost;
    return () => (this.stopped = true);
  }

  commit(entries: readonly ConntrackEntry[]) {
    this.committed.push(...entries);
    return Promise.resolve({ written: entries.length - 1, created: entries.length - 2, updated: 1, failed: 1, firstError: 'EPERM' });
  }

  close(): void {
    this.stopped = true;
  }
}

// the predicate sync-core derives from the model; here: not to or from the director itself
const notTheDirector = (entry: ConntrackEntry) => entry.original.destination !== '192.0.2.11';

describe('conntrack table', () => {
  it('applies the filter to the dump, dropping chunks left empty', async () => {
    const stats = createStats().conntrack;
    const table = new ConntrackTable(new FakeKernel(), { filter: notTheDirector, stats });
    const chunks: Array<readonly ConntrackEntry[]> = [];
    for await (const chunk of table.dump()) chunks.push(chunk);
    expect(chunks).toEqual([[masqueraded], [ping6]]);
    expect(stats.filtered.value()).toBe(2);
  });

  it('does not make the kernel walk its hash for a namespace with no entry', async () => {
    const kernel = new FakeKernel();
    const stats = createStats().conntrack;
    const table = new ConntrackTable(kernel, { filter: () => true, stats });
    const dumpAll = async () => {
      const entries: ConntrackEntry[] = [];
      for await (const chunk of table.dump()) entries.push(...chunk);
      return entries;
    };
    kernel.count = 0;
    expect([await dumpAll(), kernel.dumped]).toEqual([[], 0]);
    kernel.count = 3;
    expect((await dumpAll()).length).toBe(4);
    // a count the kernel did not give: the dump decides
    kernel.count = undefined;
    expect((await dumpAll()).length).toBe(4);
    expect(kernel.dumped).toBe(2);
    expect(['skipped-empty', 'walked'].map((walk) => stats.dumps.value({ kernel: walk }))).toEqual([1, 2]);
  });

  it('maps events to changes through the filter, and reports lost events', () => {
    const kernel = new FakeKernel();
    const stats = createStats().conntrack;
    const table = new ConntrackTable(kernel, { filter: notTheDirector, stats });
    const seen: Array<readonly TableChange<ConntrackEntry>[]> = [];
    let lost = 0;
    const stop = table.watch(
      (changes) => seen.push(changes),
      () => lost++,
    );
    kernel.emit([
      { type: 'new', entry: masqueraded },
      { type: 'new', entry: management },
      { type: 'update', entry: udp },
      { type: 'destroy', entry: ping6 },
    ]);
    kernel.emit([{ type: 'destroy', entry: management }]);
    expect(seen).toEqual([
      [
        { type: 'upsert', entry: masqueraded },
        { type: 'upsert', entry: udp },
        { type: 'remove', entry: ping6 },
      ],
    ]);
    expect([stats.events.value({ type: 'new' }), stats.events.value({ type: 'destroy' }), stats.filtered.value()]).toEqual([2, 2, 2]);
    kernel.lose(new Error('ENOBUFS'));
    expect([lost, stats.overruns.value()]).toEqual([1, 1]);
    stop();
    expect(kernel.stopped).toBe(true);
  });

  it('counts what a commit created, updated and failed', async () => {
    const stats = createStats().conntrack;
    const table = new ConntrackTable(new FakeKernel(), { filter: () => true, stats });
    expect(await table.commit([masqueraded, udp, ping6])).toEqual({ written: 2, failed: 1, firstError: 'EPERM' });
    expect(['created', 'updated', 'failed'].map((result) => stats.committed.value({ result }))).toEqual([1, 1, 1]);
  });

  it('keeps an established TCP flow read mid-transfer as long as an idle one lives', () => {
    const table = new ConntrackTable(new FakeKernel(), { filter: () => true });
    // data in flight: the kernel counts down from nf_conntrack_tcp_timeout_unacknowledged
    expect(table.timeoutMs({ ...masqueraded, timeoutSeconds: 299 })).toBe(432_000_000);
    const synSent = { ...masqueraded, status: 0x8, timeoutSeconds: 119, tcp: { ...masqueraded.tcp!, state: 1 } };
    expect(table.timeoutMs(synSent)).toBe(119_000);
  });

  it('keeps an assured UDP stream past the countdown it was read with; a one-off query by it', () => {
    const table = new ConntrackTable(new FakeKernel(), { filter: () => true });
    // a VPN tunnel or a media stream: each packet resets the 120 s, and no event says so
    expect(table.timeoutMs({ ...udp, status: udp.status | 0x4 })).toBe(432_000_000);
    expect(table.timeoutMs({ ...udp, timeoutSeconds: 30 })).toBe(30_000);
  });

  it('is the on-takeover conntrack kind, with the record codec and the timeout in ms', () => {
    const table = new ConntrackTable(new FakeKernel(), { filter: () => true });
    expect([table.kind, table.commitPolicy]).toEqual(['conntrack', 'on-takeover']);
    expect(table.decode(table.encode(masqueraded))).toEqual(masqueraded);
    expect(table.timeoutMs(udp)).toBe(120_000);
  });
});
