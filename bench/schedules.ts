// `npm run bench -- schedules [--count N] [--workers W] [--seed S] [--minutes M]`: the
// property suite of the election in simulated time at volume (issue 12: 10^6 schedules),
// the same random schedules and invariants as test/unit/cluster/election.property.test.ts,
// in batches of 1000 spread over worker threads. With --minutes it starts no batch after
// M minutes (the long mode on a shared machine). Prints how many ran, each failure with
// the seed and path fast-check replays it from as it is found, and the time per schedule.
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { scheduleArb, simulate } from '../test/unit/cluster/schedules.js';
import type { Benchmark } from './benchmark.js';

const batchSize = 1000;

interface BatchResult {
  ran: number;
  failure?: string;
}

function runBatch(seed: number, count: number): BatchResult {
  const details = fc.check(
    fc.property(scheduleArb, ([options, operations]) => simulate(options, operations).problems.length === 0),
    { numRuns: count, seed, endOnFailure: true },
  );
  if (!details.failed) return { ran: details.numRuns };
  const problems = details.counterexample ? simulate(...details.counterexample[0]).problems : [String(details.errorInstance)];
  return {
    ran: details.numRuns,
    failure: `seed ${seed} path ${details.counterexample ? details.counterexamplePath : ''}: ${problems.join('; ')}`,
  };
}

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs a whole number`);
  return value;
}

async function run(args: string[]): Promise<void> {
  const count = option(args, 'count', 10_000);
  const workers = Math.max(1, option(args, 'workers', availableParallelism()));
  const firstSeed = option(args, 'seed', Date.now() % 1_000_000_000);
  const minutes = option(args, 'minutes', 0);
  const batches = Array.from({ length: Math.ceil(count / batchSize) }, (_, i) => ({
    seed: firstSeed + i,
    count: Math.min(batchSize, count - i * batchSize),
  }));
  console.log(
    `${count} schedules in ${batches.length} batches of up to ${batchSize}, seeds ${firstSeed}.., ${workers} worker(s)` +
      (minutes > 0 ? `, no batch started after ${minutes} min` : ''),
  );
  const started = performance.now();
  const deadline = minutes > 0 ? started + minutes * 60_000 : Infinity;
  const cpuBefore = process.cpuUsage();
  let ran = 0;
  const failures: string[] = [];
  let next = 0;
  let lastReport = started;
  await Promise.all(
    Array.from({ length: Math.min(workers, batches.length) }, async () => {
      // tsx's loader hooks do not reach worker threads on their own in Node 20: register them there first
      const worker = new Worker(
        `import('tsx/esm/api').then(({ register }) => register()).then(() => import(${JSON.stringify(import.meta.url)}))`,
        { eval: true, workerData: { schedulesWorker: true } },
      );
      try {
        for (let batch = batches[next++]; batch && performance.now() < deadline; batch = batches[next++]) {
          const result = await new Promise<BatchResult>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
            worker.postMessage(batch);
          });
          ran += result.ran;
          if (result.failure) {
            failures.push(result.failure);
            console.log(`  FAILED ${result.failure}`);
          }
          if (performance.now() - lastReport > 10_000) {
            lastReport = performance.now();
            const cpu = process.cpuUsage(cpuBefore);
            console.log(
              `  ${ran} ran, ${failures.length} failed batch(es), ${((lastReport - started) / 1000).toFixed(0)} s, ` +
                `${((cpu.user + cpu.system) / 1000 / ran).toFixed(1)} ms of CPU per schedule`,
            );
          }
        }
      } finally {
        await worker.terminate();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // CPU time of all threads: on a shared machine wall time says more about the neighbours
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMsPerSchedule = (cpu.user + cpu.system) / 1000 / Math.max(1, ran);
  console.log(`schedules ran: ${ran}; failed: ${failures.length}`);
  for (const failure of failures) console.log(`  FAILED ${failure}`);
  console.log(
    `time: ${seconds.toFixed(1)} s wall, ${cpuMsPerSchedule.toFixed(1)} ms of CPU per schedule: ` +
      `10^6 take ${((cpuMsPerSchedule * 1e6) / 3.6e6).toFixed(1)} CPU-hours (divide by the workers for the wall time on idle cores)`,
  );
  if (failures.length > 0) process.exitCode = 1;
}

if (!isMainThread && (workerData as { schedulesWorker?: boolean } | null)?.schedulesWorker) {
  parentPort?.on('message', ({ seed, count }: { seed: number; count: number }) => parentPort?.postMessage(runBatch(seed, count)));
}

export const schedulesBenchmark: Benchmark = {
  name: 'schedules',
  description: 'the election property suite at volume: random schedules in simulated time (--count N, default 10^4)',
  run,
};
