// A flood of conntrack events beyond a small event socket buffer, while the watcher's event
// loop is held: the kernel drops events (ENOBUFS). The watcher survives it (the netlink
// package aborted the process here), counts the loss, reports it (onLost, which makes the
// sync engine start a bulk resync), and the resync's dump has every flow; events go on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConntrackEntry } from '../../../src/sync/conntrack/index.js';
import { CtLab, type CtAgent } from './ct-lab.js';

const FLOWS = 5_000;

describe('conntrack events lost (lab)', () => {
  const lab = new CtLab();
  let watcher: CtAgent;
  let creator: CtAgent;
  let netns: string;

  beforeAll(async () => {
    netns = await lab.addNamespace('flood');
    // the smallest buffer the kernel grants (a few KiB): some tens of events
    watcher = await lab.agent(netns, { eventBufferBytes: 4096 });
    creator = await lab.agent(netns);
    await watcher.call('watch');
  });
  afterAll(async () => lab.destroy());

  it('survives the loss, counts it, reports it for a resync, and the resync sees every flow', async () => {
    const held = watcher.call('busy', { ms: 1500 });
    const committed = await creator.call<{ written: number; failed: number }>('synthesize', { count: FLOWS });
    expect(committed).toMatchObject({ written: FLOWS, failed: 0 });
    await held;

    await watcher.events.waitFor((event) => event.event === 'lost', 10_000);
    const stats = await watcher.call<{ overruns: number; events: number }>('stats');
    expect(stats.overruns).toBeGreaterThanOrEqual(1);
    expect(stats.events).toBeLessThan(FLOWS); // some were dropped by the kernel, as it said

    const resync = await watcher.call<ConntrackEntry[]>('dump');
    expect(resync).toHaveLength(FLOWS);

    // still watching after the loss
    await lab.exec(netns, 'conntrack', [
      '-I',
      '-p',
      'udp',
      '-s',
      '192.0.2.7',
      '-d',
      '192.0.2.8',
      '--sport',
      '5000',
      '--dport',
      '53',
      '-t',
      '60',
    ]);
    await watcher.events.waitFor(
      (event) =>
        event.event === 'changes' &&
        (event.changes as Array<{ entry: ConntrackEntry }>).some(({ entry }) => entry.original.source === '192.0.2.7'),
      10_000,
    );
  });
});
