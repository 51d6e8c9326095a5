// `npm run bench [-- NAME...]`: runs the benchmarks (all, or the named ones) and
// prints their figures. Benchmarks that need the kernel run in namespaces (or the
// IPVS VM) they create themselves, like the lab tests.
import type { Benchmark } from './benchmark.js';
import { configBenchmark } from './config.js';
import { failoverBenchmark } from './failover.js';
import { floodBenchmark } from './flood.js';
import { healthBenchmark } from './health.js';
import { ipvsBenchmark } from './ipvs.js';
import { ipvsSyncBenchmark } from './ipvs-sync.js';
import { netBenchmark } from './net.js';
import { takeoverBenchmark } from './takeover.js';

const benchmarks: Benchmark[] = [
  configBenchmark,
  netBenchmark,
  healthBenchmark,
  ipvsBenchmark,
  ipvsSyncBenchmark,
  failoverBenchmark,
  takeoverBenchmark,
  floodBenchmark,
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benchmarks.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
for (const benchmark of benchmarks) {
  if (wanted.length > 0 && !wanted.includes(benchmark.name)) continue;
  console.log(`\n== ${benchmark.name}: ${benchmark.description}`);
  await benchmark.run();
}
