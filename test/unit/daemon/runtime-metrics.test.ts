// How well the daemon keeps time: its timer's lateness is also the event loop
// delay that status reports.
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../../../src/daemon/runtime-metrics.js';
import { createStats } from '../../../src/lib/stats.js';

describe('runtime metrics', () => {
  let metrics: RuntimeMetrics | undefined;
  afterEach(() => metrics?.close());

  it('reports the event loop delay from the lateness of the daemon timer', () => {
    const stats = createStats();
    metrics = new RuntimeMetrics(stats.timer);
    for (let i = 0; i < 99; i++) metrics.timerFired(0.5, 100);
    metrics.timerFired(40, 100);
    const status = metrics.status();
    expect(status.eventLoopDelay.maxMs).toBeCloseTo(40, 0);
    expect(status.eventLoopDelay.p99Ms).toBeCloseTo(0.5, 0);
    expect(status.timerLateness).toEqual({ lastMs: 40, maxMs: 40, overWarntime: 0 });
  });

  it('counts a timer later than warntime', () => {
    const stats = createStats();
    metrics = new RuntimeMetrics(stats.timer);
    expect(metrics.timerFired(0, 10)).toBe(false);
    expect(metrics.timerFired(0.001, 10)).toBe(false);
    expect(metrics.timerFired(12, 10)).toBe(true);
    expect(metrics.status().timerLateness.overWarntime).toBe(1);
    expect(metrics.status().eventLoopDelay.maxMs).toBeCloseTo(12, 0);
  });
});
