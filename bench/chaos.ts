// `npm run bench -- chaos [--minutes N] [--seed S] [--kinds K,…] [--realtime]`: the takeover lab under
// random faults from a seeded generator (test/support/chaos.ts) for N minutes
// (default 60), at keepalive 50 ms / deadtime 200 ms. Prints each violation as it
// happens, then faults by kind with the client's outage per kind, and the seed.
// `--trace DIR` writes each fault's timeline there, and each node's whole log
// (JSON lines with receivedAt, across restarts) as DIR/<node>.log.
import { parseArgs } from 'node:util';
import { formatSummary, type Benchmark } from './benchmark.js';
import { faultKinds, runChaos, type FaultKind, type FaultRecord } from '../test/support/chaos.js';

export const chaosBenchmark: Benchmark = {
  name: 'chaos',
  description: 'random faults against a pair for --minutes N (default 60), invariants checked after each',
  onlyWhenNamed: true,
  async run(args = []) {
    const { values } = parseArgs({
      args,
      options: {
        minutes: { type: 'string', default: '60' },
        kinds: { type: 'string' },
        seed: { type: 'string' },
        realtime: { type: 'boolean', default: false },
        trace: { type: 'string' },
        faults: { type: 'string' },
        each: { type: 'boolean', default: false },
      },
    });
    const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
    const minutes = Number(values.minutes);
    const kinds = values.kinds?.split(',') as FaultKind[] | undefined;
    const unknown = kinds?.filter((kind) => !faultKinds.includes(kind));
    if (unknown?.length) throw new Error(`unknown fault kind(s) ${unknown.join(', ')}; known: ${faultKinds.join(', ')}`);
    console.log(`  seed ${seed}, ${minutes} min, keepalive 50 ms, deadtime 200 ms${values.realtime ? ', --realtime' : ''}`);
    const report = await runChaos({
      seed,
      durationMs: minutes * 60_000,
      ...(kinds && { kinds }),
      ...(values.faults !== undefined && { faults: Number(values.faults) }),
      order: values.each ? 'each' : 'random',
      args: values.realtime ? ['--realtime'] : [],
      ...(values.trace && { traceDir: values.trace }),
      onFault: (record, violations) => {
        for (const v of violations) console.log(`  VIOLATION seed=${v.seed} fault=${v.index} ${v.kind}: ${v.invariant}: ${v.detail}`);
        if (record.index % 25 === 0) console.log(`  … ${record.index + 1} faults`);
        if (values.trace)
          console.log(`  ${record.index} ${record.kind}: outage ${record.outageMs.toFixed(0)} ms, daemons late ${record.daemonLateMs} ms`);
      },
    });
    const byKind = new Map<string, FaultRecord[]>();
    for (const fault of report.faults) byKind.set(fault.kind, [...(byKind.get(fault.kind) ?? []), fault]);
    console.log(`  ${report.faults.length} faults, ${report.violations.length} violations (seed ${seed})`);
    for (const [kind, faults] of [...byKind].sort()) {
      console.log(
        `    ${formatSummary(
          `${kind} (${faults.length}) client outage`,
          faults.map((f) => f.outageMs),
        )}`,
      );
      console.log(
        `      ${formatSummary(
          'daemons late (as logged)',
          faults.map((f) => f.daemonLateMs),
        )}`,
      );
    }
  },
};
