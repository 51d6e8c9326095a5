// conntrack through ctnetlink in ct- namespaces (test/lab/sync/ct-lab.ts), the compiled
// table (dist/) in an agent process per namespace: for 10,000 and 100,000 masqueraded TCP
// flows, commit (CT_NEW batches) and dump speed with the longest event-loop stall, the
// lag from a flow's creation in the kernel to its event's callback (p50/p99, flows
// created at full speed in batches of 64), and the memory 100,000 entries take held as
// objects and as encoded records. The machine is shared: the figures are indicative.
import { CtLab, type CtAgent } from '../test/lab/sync/ct-lab.js';
import type { Benchmark } from './benchmark.js';

interface Timed {
  ms: number;
  maxBlockedMs: number;
}

const rate = (count: number, ms: number) => `${Math.round(count / (ms / 1000)).toLocaleString('en')} entries/s`;
const stall = (timed: Timed) => `event loop blocked ≤ ${timed.maxBlockedMs.toFixed(0)} ms`;

async function flush(lab: CtLab, netns: string): Promise<void> {
  await lab.exec(netns, 'conntrack', ['-F']).catch(() => undefined);
}

async function tandemFigures(lab: CtLab, netns: string, agent: CtAgent): Promise<void> {
  for (const count of [10_000, 100_000]) {
    await flush(lab, netns);
    const commit = await agent.call<Timed & { written: number; failed: number; firstError?: string }>('synthesize', { count });
    if (commit.failed > 0) throw new Error(`commit of ${count}: ${commit.failed} failed (${commit.firstError ?? ''})`);
    const dump = await agent.call<Timed & { count: number }>('dumpCount');
    if (dump.count !== count) throw new Error(`dumped ${dump.count} of ${count} entries`);
    console.log(
      `${count.toLocaleString('en')} flows: commit ${(commit.ms / 1000).toFixed(2)} s (${rate(count, commit.ms)}, ${stall(commit)}); ` +
        `dump ${(dump.ms / 1000).toFixed(2)} s (${rate(count, dump.ms)}, ${stall(dump)})`,
    );
    if (count === 100_000) {
      const memory = await agent.call<{ count: number; objectsBytes: number; recordsBytes: number }>('heldMemory');
      const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
      console.log(
        `memory for 100,000 entries held: ${mb((memory.objectsBytes * 100_000) / memory.count)} as entry objects, ` +
          `${mb((memory.recordsBytes * 100_000) / memory.count)} as encoded records`,
      );
    }
  }
  await flush(lab, netns);
}

/** Flows created by one agent, their events watched by another (as on the active, where
 *  the kernel makes flows and tandem only watches): creation → callback, p50/p99. */
async function eventLag(lab: CtLab, netns: string, creator: CtAgent, watcher: CtAgent, pace: Pace): Promise<void> {
  await watcher.call('record');
  const sent = await creator.call<Array<[string, number]>>('createTimed', { ...pace });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { arrived, lost } = await watcher.call<{ arrived: Array<[string, number]>; lost: number }>('recorded');
  const arrivals = new Map(arrived);
  const lags = sent.flatMap(([key, at]) => {
    const arrival = arrivals.get(key);
    return arrival === undefined ? [] : [arrival - at];
  });
  const { median, p99, max } = quantiles(lags);
  console.log(
    `event lag, flow created in the kernel → watch callback (${pace.label}): ` +
      `p50 ${median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; ` +
      `${lags.length} of ${sent.length} seen${lost > 0 ? `, events lost ${lost} times` : ''}`,
  );
  await flush(lab, netns);
}

interface Pace {
  label: string;
  count: number;
  batch: number;
  pauseMs?: number;
}

const paces: Pace[] = [
  { label: '2,000 flows, 8 every 5 ms', count: 2_000, batch: 8, pauseMs: 5 },
  { label: '10,000 flows at full speed, 64 per batch', count: 10_000, batch: 64 },
];

function quantiles(samples: number[]): { median: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { median: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN };
}

export const conntrackBenchmark: Benchmark = {
  name: 'conntrack',
  description: 'conntrack via ctnetlink: commit and dump of 10k/100k flows, event lag p50/p99, memory per 100k entries',
  async run() {
    const lab = new CtLab();
    try {
      const netns = await lab.addNamespace('bench');
      const agent = await lab.agent(netns, { built: true, nodeArgs: ['--expose-gc'] });
      const idle = await agent.call<Timed>('idle');
      console.log(`(shared machine: figures are indicative; an idle agent's event loop waited up to ${idle.maxBlockedMs.toFixed(0)} ms)`);
      await tandemFigures(lab, netns, agent);
      const watcher = await lab.agent(netns, { built: true });
      for (const pace of paces) await eventLag(lab, netns, agent, watcher, pace);
    } finally {
      await lab.destroy();
    }
  },
};
