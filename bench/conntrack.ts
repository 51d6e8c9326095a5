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
  const lag = await agent.call<{ samples: number; p50: number; p99: number; max: number; lost: number }>('lag', { count: 10_000 });
  console.log(
    `event lag, kernel entry created → watch callback (10,000 flows in batches of 64): ` +
      `p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms ` +
      `(${lag.samples} samples${lag.lost > 0 ? `, events lost ${lag.lost} times` : ''})`,
  );
  await flush(lab, netns);
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
    } finally {
      await lab.destroy();
    }
  },
};
