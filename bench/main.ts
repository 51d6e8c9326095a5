// `npm run bench [-- NAME... [--OPTION VALUE...]]`: runs the benchmarks (all, or the named
// ones) and prints their figures; the options go to each benchmark run. Benchmarks that need the kernel run in namespaces (or the
// IPVS VM) they create themselves, like the lab tests.
import type { Benchmark } from './benchmark.js';
import { chaosBenchmark } from './chaos.js';
import { bigBenchmark } from './big.js';
import { configBenchmark } from './config.js';
import { conntrackBenchmark } from './conntrack.js';
import { failoverBenchmark } from './failover.js';
import { floodBenchmark } from './flood.js';
import { fuzzBenchmark } from './fuzz.js';
import { healthBenchmark } from './health.js';
import { idleBenchmark } from './idle.js';
import { ipvsBenchmark } from './ipvs.js';
import { ipvsSyncBenchmark } from './ipvs-sync.js';
import { schedulesBenchmark } from './schedules.js';
import { netBenchmark } from './net.js';
import { takeoverBenchmark } from './takeover.js';

const benchmarks: Benchmark[] = [
  configBenchmark,
  netBenchmark,
  healthBenchmark,
  ipvsBenchmark,
  ipvsSyncBenchmark,
  bigBenchmark,
  failoverBenchmark,
  takeoverBenchmark,
  floodBenchmark,
  chaosBenchmark,
  conntrackBenchmark,
  schedulesBenchmark,
  fuzzBenchmark,
  idleBenchmark,
];

// Names first, then options for them: `npm run bench -- chaos --minutes 5`.
const args = process.argv.slice(2);
const firstOption = args.findIndex((arg) => arg.startsWith('--'));
const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
const options = firstOption < 0 ? [] : args.slice(firstOption);
const unknown = wanted.filter((name) => !benchmarks.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
for (const benchmark of benchmarks) {
  if (wanted.length > 0 ? !wanted.includes(benchmark.name) : benchmark.onlyWhenNamed) continue;
  console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
  await benchmark.run(options);
}
