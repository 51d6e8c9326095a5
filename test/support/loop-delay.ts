// Measures how late the event loop runs while something else works: the wall-clock delay
// (perf_hooks.monitorEventLoopDelay, which on a shared machine includes time the process
// waited for a CPU) and the longest stretch of CPU work the main thread did between two
// ticks of a 5 ms timer (what this process's own code blocked the loop for; read from
// the kernel's per-thread schedstat, so GC helper threads and other processes do not count).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  /** Longest CPU time the main thread used between two consecutive timer ticks, ms. */
  longestBusy: number;
}

export function measureLoopDelay(): { stop(): LoopDelay } {
  const TICK = 5;
  const histogram = monitorEventLoopDelay({ resolution: TICK });
  histogram.enable();
  let lastCpu = mainThreadCpu();
  let longestBusy = 0;
  const ticker = setInterval(() => {
    const cpu = mainThreadCpu();
    longestBusy = Math.max(longestBusy, cpu - lastCpu);
    lastCpu = cpu;
  }, TICK);
  return {
    stop() {
      clearInterval(ticker);
      histogram.disable();
      return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, longestBusy };
    },
  };
}

/** CPU time the main thread (whose thread id is the process id) has run, ms. */
function mainThreadCpu(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

export function formatLoopDelay(d: LoopDelay): string {
  return `event-loop delay p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(1)} ms; longest main-thread busy stretch ${d.longestBusy.toFixed(1)} ms`;
}
