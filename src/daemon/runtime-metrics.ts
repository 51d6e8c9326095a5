// How well this process keeps time, for status: how late the daemon's own timer
// fires, how long the event loop was blocked, and the garbage collection pauses
// that add to both.
import { createHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { DaemonStatus } from '../control/index.js';
import type { TimerStats } from '../lib/stats.js';

export type RuntimeStatus = Pick<DaemonStatus, 'timerLateness' | 'eventLoopDelay' | 'gcPauses'>;

/** Receives each keepalive's timer lateness and longest event-loop block, in ms (the metrics histograms). */
export interface RuntimeObserver {
  timerLateness(ms: number): void;
  eventLoopDelay(ms: number): void;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

export class RuntimeMetrics {
  private readonly lateness = { lastMs: 0, maxMs: 0 };
  private readonly gc = { count: 0, totalMs: 0, maxMs: 0 };
  /**
   * Sampled at each of the daemon's timer deadlines (every keepalive or sooner):
   * a monitor of its own (monitorEventLoopDelay) woke the process another 100
   * times a second, a third of an idle node's wakeups at 10 ms heartbeats.
   */
  private readonly loopDelay = createHistogram();
  private readonly gcObserver = new PerformanceObserver((entries) => {
    for (const entry of entries.getEntries()) {
      this.gc.count += 1;
      this.gc.totalMs += entry.duration;
      this.gc.maxMs = Math.max(this.gc.maxMs, entry.duration);
    }
  });

  /** Reset every keepalive: its max is the longest block since the last one. */
  private readonly intervalLoopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(
    private readonly stats: TimerStats,
    private readonly observer?: RuntimeObserver,
  ) {
    this.gcObserver.observe({ entryTypes: ['gc'] });
    if (observer) this.intervalLoopDelay.enable();
  }

  /** Records how late the daemon's timer fired; true when later than warntime. */
  timerFired(lateMs: number, warntime: number): boolean {
    if (this.observer) {
      this.observer.timerLateness(lateMs);
      this.observer.eventLoopDelay(this.intervalLoopDelay.max / 1e6);
      this.intervalLoopDelay.reset();
    }
    // the histogram counts whole nanoseconds from 1
    this.loopDelay.record(Math.max(1, Math.round(lateMs * 1e6)));
    this.lateness.lastMs = lateMs;
    this.lateness.maxMs = Math.max(this.lateness.maxMs, lateMs);
    if (lateMs <= warntime) return false;
    this.stats.late.inc();
    return true;
  }

  status(): RuntimeStatus {
    return {
      timerLateness: { ...this.lateness, overWarntime: this.stats.late.value() },
      eventLoopDelay: { p99Ms: round(this.loopDelay.percentile(99) / 1e6), maxMs: round(this.loopDelay.max / 1e6) },
      gcPauses: { count: this.gc.count, totalMs: round(this.gc.totalMs), maxMs: Math.round(this.gc.maxMs * 100) / 100 },
    };
  }

  close(): void {
    this.gcObserver.disconnect();
    this.intervalLoopDelay.disable();
  }
}
