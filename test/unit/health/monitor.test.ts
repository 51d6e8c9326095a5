import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import type { Check } from '../../../src/health/check.js';
import { HealthMonitor, RAMP_TICK_MS, type HealthChange } from '../../../src/health/monitor.js';
import type { CheckResult } from '../../../src/health/result.js';
import { createStats } from '../../../src/lib/stats.js';
import { createLogger } from '../../../src/log.js';
import { healthCheck, modelOf, realServer, virtualService } from '../../support/models.js';

const pass: CheckResult = { outcome: 'pass', message: 'connected', durationMs: 5 };
const refused: CheckResult = { outcome: 'fail', reason: 'refused', message: 'connection refused', durationMs: 1 };

/** A fake network: each target address answers as `answers` says; every check takes `latency` ms. */
class FakeChecks {
  answers = new Map<string, CheckResult>();
  latency = 5;
  started: Array<{ at: number; address: string }> = [];
  inFlight = 0;
  aborted = 0;
  readonly run = (check: Check, signal: AbortSignal): Promise<CheckResult> => {
    this.started.push({ at: Date.now(), address: check.target.address });
    this.inFlight++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.inFlight--;
        resolve(this.answers.get(check.target.address) ?? pass);
      }, this.latency);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        this.inFlight--;
        this.aborted++;
        resolve({ outcome: 'inconclusive', reason: 'cancelled', message: 'cancelled', durationMs: 0 });
      });
    });
  };
}

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ format: 'json', level: 'debug', destination }) };
}

function webModel(count: number, overrides: Parameters<typeof healthCheck>[0] = {}): Model {
  const servers = Array.from({ length: count }, (_, i) =>
    realServer(`10.8.${Math.floor(i / 250)}.${(i % 250) + 1}`, 0, { name: `rs${i}`, weight: 10 }),
  );
  return modelOf([virtualService('web', servers, { healthCheck: healthCheck({ interval: 2000, timeout: 1000, ...overrides }) })]);
}

describe('HealthMonitor', () => {
  let checks: FakeChecks;
  let changes: HealthChange[][];
  let log: ReturnType<typeof logSink>;
  let monitor: HealthMonitor | undefined;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    checks = new FakeChecks();
    changes = [];
    log = logSink();
  });
  afterEach(async () => {
    await monitor?.disable();
    monitor = undefined;
    vi.useRealTimers();
  });

  async function start(model: Model, options: { maxConcurrentChecks?: number; random?: () => number } = {}): Promise<HealthMonitor> {
    monitor = new HealthMonitor({ logger: log.logger, now: () => Date.now(), runCheck: checks.run, ...options });
    await monitor.reload(model);
    monitor.onChange((batch) => changes.push(batch));
    monitor.enable();
    return monitor;
  }

  it('checks nothing until enabled; servers not yet checked are up with their weight', async () => {
    const model = webModel(2);
    monitor = new HealthMonitor({ logger: log.logger, now: () => Date.now(), runCheck: checks.run });
    await monitor.reload(model);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(checks.started).toHaveLength(0);
    const [service] = model.virtualServices;
    expect(monitor.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 10 });
  });

  it('spreads the first checks over one interval, then checks each server every interval', async () => {
    let i = 0;
    await start(webModel(100), { random: () => (i++ % 100) / 100 });
    await vi.advanceTimersByTimeAsync(2000);
    const first = checks.started.map((s) => s.at - 1_000_000);
    expect(first).toHaveLength(100);
    expect(Math.min(...first)).toBeLessThan(100);
    expect(Math.max(...first)).toBeGreaterThan(1900);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(checks.started.length).toBeGreaterThanOrEqual(100 * 10);
    expect(checks.started.length).toBeLessThanOrEqual(100 * 11);
  });

  it('never has more than maxConcurrentChecks in flight, and still checks everyone', async () => {
    checks.latency = 300;
    await start(webModel(200), { maxConcurrentChecks: 16, random: () => 0 });
    let peak = 0;
    for (let t = 0; t < 6000; t += 50) {
      await vi.advanceTimersByTimeAsync(50);
      peak = Math.max(peak, checks.inFlight);
    }
    expect(peak).toBe(16);
    expect(monitor!.stats().maxInFlight).toBe(16);
    expect(new Set(checks.started.map((s) => s.address)).size).toBe(200);
  });

  it('counts checks by outcome and each transition, across enables; its stats read those counters', async () => {
    const { health } = createStats();
    checks.answers.set('10.8.0.2', refused);
    monitor = new HealthMonitor({ logger: log.logger, now: () => Date.now(), runCheck: checks.run, random: () => 0, stats: health });
    await monitor.reload(webModel(3, { failures: 1 }));
    monitor.enable();
    await vi.advanceTimersByTimeAsync(100);
    expect(health.transitions.value({ from: 'unknown', to: 'up' })).toBe(2);
    expect(health.transitions.value({ from: 'unknown', to: 'down' })).toBe(1);
    expect(health.checksCompleted.value({ outcome: 'fail' })).toBe(1);
    expect(monitor.stats()).toMatchObject({ started: 3, completed: 3, inconclusive: 0, maxInFlight: 3 });
    await monitor.disable();
    monitor.enable();
    // the counters go on; the high-water mark of checks in flight is the current enable's
    expect(monitor.stats()).toMatchObject({ started: 3, completed: 3, maxInFlight: 0 });
  });

  it('takes a failing server out, tells the listeners once, logs the reason', async () => {
    const model = webModel(3, { failures: 2 });
    checks.answers.set('10.8.0.2', refused);
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    expect(changes).toHaveLength(0); // one failure of two
    await vi.advanceTimersByTimeAsync(2100);
    expect(changes).toEqual([
      [expect.objectContaining({ service: 'web', server: 'rs1', up: false, weight: 0, previous: { up: true, weight: 10 } })],
    ]);
    const [service] = model.virtualServices;
    expect(monitor!.view(service!, service!.realServers[1]!)).toEqual({ up: false, weight: 0 });
    expect(monitor!.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 10 });
    const down = log.lines.filter((l) => l.event === 'health.change' && l.to === 'down');
    expect(down).toEqual([
      expect.objectContaining({
        level: 40,
        service: 'web',
        server: 'rs1',
        target: '10.8.0.2:80',
        from: 'unknown',
        to: 'down',
        reason: 'refused',
        detail: 'connection refused',
        consecutiveFailures: 2,
      }),
    ]);
    expect(down[0]?.msg).toBe('real server rs1 (10.8.0.2:80) of web is down: connection refused');
  });

  it('puts a recovered server back after reentry, with a log event', async () => {
    const model = webModel(1, { reentry: 10_000 });
    checks.answers.set('10.8.0.1', refused);
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    expect(monitor!.status()[0]).toMatchObject({ state: 'down', up: false, lastFailure: { reason: 'refused' } });
    checks.answers.delete('10.8.0.1');
    await vi.advanceTimersByTimeAsync(2000); // first pass: the 10 s run begins
    expect(monitor!.status()[0]).toMatchObject({ state: 'down', consecutiveSuccesses: 1 });
    expect(monitor!.status()[0]?.reentryRemaining).toBeGreaterThan(9800);
    await vi.advanceTimersByTimeAsync(9000); // four more passes: 8 s of the 10 s
    expect(monitor!.status()[0]?.state).toBe('down');
    await vi.advanceTimersByTimeAsync(4000);
    expect(monitor!.status()[0]?.state).toBe('up');
    expect(changes.flat().map((c) => c.up)).toEqual([false, true]);
    const back = log.lines.find((l) => l.event === 'health.change' && l.from === 'down');
    expect(back).toMatchObject({ level: 30, to: 'up', reason: 'reentry' });
    expect(back?.passedForMs).toBeTypeOf('number');
  });

  it('ramps the weight after re-entry with slow start, notifying each step at most once a tick', async () => {
    const model = webModel(1, { slowStart: 9000 });
    checks.answers.set('10.8.0.1', refused);
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    checks.answers.delete('10.8.0.1');
    await vi.advanceTimersByTimeAsync(2000);
    const [service] = model.virtualServices;
    expect(monitor!.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 1 });
    expect(monitor!.status()[0]).toMatchObject({ effectiveWeight: 1 });
    expect(monitor!.status()[0]?.slowStartRemaining).toBeGreaterThan(8800);
    await vi.advanceTimersByTimeAsync(10_000);
    const weights = changes.flat().map((c) => c.weight);
    expect(weights[0]).toBe(0);
    expect(weights.slice(1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(changes.length).toBeLessThanOrEqual(2 + 9000 / RAMP_TICK_MS);
    expect(monitor!.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 10 });
  });

  it("doubles the weight after re-entry with nanny's curve, and stops ramping once it is reached", async () => {
    const model = webModel(1, { slowStart: 12_000, slowStartCurve: 'doubling' });
    checks.answers.set('10.8.0.1', refused);
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    checks.answers.delete('10.8.0.1');
    await vi.advanceTimersByTimeAsync(2000); // back at about 2 s: weight 1, doubled every 2 s
    await vi.advanceTimersByTimeAsync(9000);
    expect(changes.flat().map((c) => c.weight)).toEqual([0, 1, 2, 4, 8, 10]);
    expect(monitor!.status()[0]).toMatchObject({ effectiveWeight: 10 });
    expect(monitor!.status()[0]?.slowStartRemaining).toBeUndefined();
  });

  it('batches the changes of one event-loop turn into one notification', async () => {
    for (let i = 0; i < 10; i++) checks.answers.set(`10.8.0.${i + 1}`, refused);
    await start(webModel(10), { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toHaveLength(10);
  });

  it('disable cancels checks in flight, stops checking, forgets state and sends no change', async () => {
    checks.latency = 800;
    checks.answers.set('10.8.0.1', refused);
    const model = webModel(20);
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(900);
    expect(monitor!.status()[0]?.state).toBe('down');
    await vi.advanceTimersByTimeAsync(2000); // second round in flight
    expect(checks.inFlight).toBe(20);
    const changesBefore = changes.length;
    await monitor!.disable();
    expect(checks.aborted).toBe(20);
    expect(checks.inFlight).toBe(0);
    const startedBefore = checks.started.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(checks.started.length).toBe(startedBefore);
    expect(changes.length).toBe(changesBefore);
    const [service] = model.virtualServices;
    expect(monitor!.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 10 });
    expect(monitor!.status()[0]?.state).toBe('unknown');
  });

  it('a reload keeps the state of servers that still exist, checks new ones, cancels removed ones', async () => {
    checks.latency = 50;
    checks.answers.set('10.8.0.1', refused);
    const model = webModel(3, { reentry: 60_000 });
    await start(model, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(100);
    expect(monitor!.status().map((s) => s.state)).toEqual(['down', 'up', 'up']);
    const [service] = model.virtualServices;
    const reloaded = modelOf([
      {
        ...service!,
        realServers: [
          { ...service!.realServers[0]!, weight: 20 }, // kept (weight changed), still down
          service!.realServers[1]!,
          realServer('10.9.0.1', 0, { name: 'new' }),
        ],
      },
    ]);
    checks.latency = 1500;
    await vi.advanceTimersByTimeAsync(2000); // checks of the old model in flight
    expect(checks.inFlight).toBe(3);
    await monitor!.reload(reloaded);
    await vi.advanceTimersByTimeAsync(5000);
    const status = monitor!.status();
    expect(status.map((s) => [s.server, s.state])).toEqual([
      ['rs0', 'down'],
      ['rs1', 'up'],
      ['new', 'up'],
    ]);
    expect(status[0]?.weight).toBe(20);
    expect(checks.aborted).toBe(1); // rs2's check
    expect(checks.started.filter((s) => s.address === '10.8.0.3' && s.at > 1_000_000 + 2100)).toHaveLength(0);
  });

  it('a reload that changes the check reschedules it; one that does not keeps the rhythm', async () => {
    const offsets = () => checks.started.map((s) => s.at - 1_000_000);
    const near = (ms: number): unknown => expect.closeTo(ms, -1.5); // within ±16 ms (timer and immediate ticks)
    const model = webModel(1);
    await start(model, { random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(1100);
    expect(checks.started).toHaveLength(1);
    await monitor!.reload(webModel(1)); // same check
    await vi.advanceTimersByTimeAsync(2000);
    // first check half an interval in, the next one interval after it finished
    expect(offsets()).toEqual([near(1000), near(3005)]);
    await monitor!.reload(webModel(1, { interval: 10_000 }));
    await vi.advanceTimersByTimeAsync(20_000);
    // rescheduled at half the new interval from the reload (at 3.1 s), then every 10 s
    expect(offsets()).toEqual([near(1000), near(3005), near(8100), near(18105)]);
  });

  it('a reload is planned in chunks: the view answers from the old model until it is complete; a newer reload overtakes it', async () => {
    const model = webModel(10);
    monitor = new HealthMonitor({ logger: log.logger, now: () => Date.now(), runCheck: checks.run });
    await monitor.reload(model);
    const [service] = model.virtualServices;
    const big = (weight: number) =>
      modelOf(
        Array.from({ length: 5 }, (_, s) =>
          virtualService(
            `web${s}`,
            Array.from({ length: 1000 }, (_, i) => realServer(`10.${8 + s}.${Math.floor(i / 250)}.${(i % 250) + 1}`, 0, { weight })),
            { port: 80 + s },
          ),
        ),
      );
    const first = monitor.reload(big(1));
    expect(monitor.stats().servers).toBe(10); // not yet
    const second = monitor.reload(big(7));
    await vi.advanceTimersByTimeAsync(50); // the turns the chunks wait for
    await Promise.all([first, second]);
    expect(monitor.stats().servers).toBe(5000);
    expect(monitor.status()[0]?.weight).toBe(7);
    expect(monitor.view(service!, service!.realServers[0]!)).toEqual({ up: true, weight: 7 }); // same address: found by key
  });

  it('starts check programs one per turn, at most maxConcurrentPrograms at once, without holding up socket checks', async () => {
    checks.latency = 1000;
    const programs = virtualService(
      'scripted',
      Array.from({ length: 20 }, (_, i) => realServer(`10.7.0.${i + 1}`, 0)),
      { port: 81, healthCheck: healthCheck({ kind: 'exec', sendProgram: 'check %h' }) },
    );
    const sockets = virtualService(
      'web',
      Array.from({ length: 20 }, (_, i) => realServer(`10.8.0.${i + 1}`, 0)),
    );
    monitor = new HealthMonitor({
      logger: log.logger,
      now: () => Date.now(),
      runCheck: checks.run,
      random: () => 0,
      maxConcurrentPrograms: 4,
    });
    await monitor.reload(modelOf([programs, sockets]));
    monitor.enable();
    await vi.advanceTimersByTimeAsync(500);
    const started = checks.started.map((s) => s.address);
    expect(started.filter((a) => a.startsWith('10.8.'))).toHaveLength(20);
    expect(started.filter((a) => a.startsWith('10.7.'))).toHaveLength(4);
    const programStarts = checks.started.filter((s) => s.address.startsWith('10.7.')).map((s) => s.at);
    expect(new Set(programStarts).size).toBe(4); // each in a turn of its own
  });

  it('reports inactive servers as out and servers without a check as up', async () => {
    const model = modelOf([
      virtualService('web', [realServer('10.0.0.1', 0, { active: false, weight: 5 }), realServer('10.0.0.2', 0, { weight: 5 })], {
        healthCheck: healthCheck({ kind: 'none' }),
      }),
    ]);
    await start(model);
    const [service] = model.virtualServices;
    expect(monitor!.view(service!, service!.realServers[0]!)).toEqual({ up: false, weight: 0 });
    expect(monitor!.view(service!, service!.realServers[1]!)).toEqual({ up: true, weight: 5 });
    expect(monitor!.status().map((s) => s.state)).toEqual(['inactive', 'unchecked']);
    // a server of another model copy is found by its address
    const copy = structuredClone(service!);
    expect(monitor!.view(copy, copy.realServers[0]!)).toEqual({ up: false, weight: 0 });
  });

  it('logs an invalid check once per load and treats its servers as up', async () => {
    const model = modelOf([
      virtualService('bad', [realServer('10.0.0.1', 0)], {
        healthCheck: healthCheck({ kind: 'send-expect', expect: '[', useRegex: true }),
      }),
    ]);
    await start(model);
    expect(log.lines.filter((l) => l.event === 'health.check-invalid')).toHaveLength(1);
    expect(monitor!.status()[0]).toMatchObject({ state: 'unchecked', up: true });
    expect(monitor!.status()[0]?.note).toContain('invalid regular expression');
  });

  it('checks the director cannot carry out change nothing and are logged at most every 10 s', async () => {
    const noSockets: CheckResult = {
      outcome: 'inconclusive',
      reason: 'local-error',
      message: 'cannot check from this director: EMFILE',
      durationMs: 0,
    };
    for (let i = 0; i < 5; i++) checks.answers.set(`10.8.0.${i + 1}`, noSockets);
    await start(webModel(5), { random: () => 0 });
    await vi.advanceTimersByTimeAsync(12_100);
    expect(monitor!.status().map((s) => s.state)).toEqual(Array(5).fill('unknown'));
    expect(monitor!.status()[0]?.lastCheck).toMatchObject({ outcome: 'inconclusive', reason: 'local-error' });
    expect(monitor!.stats().inconclusive).toBe(35);
    expect(log.lines.filter((l) => l.event === 'health.check-inconclusive')).toHaveLength(2);
    expect(changes).toEqual([]);
  });

  it('a throwing listener is logged and does not stop the others', async () => {
    checks.answers.set('10.8.0.1', refused);
    monitor = new HealthMonitor({ logger: log.logger, now: () => Date.now(), runCheck: checks.run, random: () => 0 });
    await monitor.reload(webModel(1));
    monitor.onChange(() => {
      throw new Error('boom');
    });
    monitor.onChange((batch) => changes.push(batch));
    monitor.enable();
    await vi.advanceTimersByTimeAsync(100);
    expect(changes).toHaveLength(1);
    expect(log.lines.some((l) => l.event === 'health.listener-failed')).toBe(true);
  });
});
