// Measures how late the event loop runs while something else works: the wall-clock delay
// (perf_hooks.monitorEventLoopDelay, which on a shared machine includes time the process
// waited for a CPU) and the longest stretch of CPU work this process did between two
// ticks of a 5 ms timer (what its own code blocked the loop for).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  /** Longest CPU time this process used between two consecutive timer ticks, ms. */
  longestBusy: number;
}

export function measureLoopDelay(): { stop(): LoopDelay } {
  const TICK = 5;
  const histogram = monitorEventLoopDelay({ resolution: TICK });
  histogram.enable();
  let lastCpu = process.cpuUsage();
  let lastWall = performance.now();
  let longestBusy = 0;
  const ticker = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    const wall = performance.now();
    // CPU beyond the tick period, capped by the wall time that passed
    longestBusy = Math.max(longestBusy, Math.min((cpu.user + cpu.system) / 1000, wall - lastWall) - TICK);
    lastCpu = process.cpuUsage();
    lastWall = wall;
  }, TICK);
  return {
    stop() {
      clearInterval(ticker);
      histogram.disable();
      return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, longestBusy: Math.max(0, longestBusy) };
    },
  };
}

export function formatLoopDelay(d: LoopDelay): string {
  return `event-loop delay p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(1)} ms; longest own busy stretch ${d.longestBusy.toFixed(1)} ms`;
}
