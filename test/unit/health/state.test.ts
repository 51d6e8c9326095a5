import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../src/health/result.js';
import {
  effectiveWeight,
  initialHealth,
  isRamping,
  isUp,
  observe,
  type HealthPolicy,
  type HealthTransition,
  type ServerHealth,
} from '../../../src/health/state.js';

const pass: CheckResult = { outcome: 'pass', message: 'connected', durationMs: 1 };
const refused: CheckResult = { outcome: 'fail', reason: 'refused', message: 'connection refused', durationMs: 1 };
const timeout: CheckResult = { outcome: 'fail', reason: 'timeout', message: 'no connection within 6000 ms', durationMs: 6000 };
const noSockets: CheckResult = { outcome: 'inconclusive', reason: 'local-error', message: 'EMFILE', durationMs: 0 };

/** Feeds results one `interval` apart from `start`; returns the final health and every transition. */
function simulate(policy: HealthPolicy, results: CheckResult[], { interval = 2000, start = 0, health = initialHealth(start) } = {}) {
  const transitions: HealthTransition[] = [];
  let now = start;
  for (const result of results) {
    now += interval;
    const step = observe(health, { at: now, result }, policy);
    health = step.health;
    if (step.transition) transitions.push(step.transition);
  }
  return { health, transitions, now };
}

const piranha: HealthPolicy = { failures: 1, reentry: 15_000, slowStart: 0 };

describe('health state machine', () => {
  it('starts unknown, which counts as up, and the first pass makes it up', () => {
    const start = initialHealth(0);
    expect(start.state).toBe('unknown');
    expect(isUp(start)).toBe(true);
    const { health, transitions } = simulate(piranha, [pass]);
    expect(health.state).toBe('up');
    expect(transitions).toEqual([expect.objectContaining({ from: 'unknown', to: 'up', at: 2000 })]);
  });

  it('goes down after `failures` consecutive failures, with the failure that did it', () => {
    const policy = { failures: 3, reentry: 0, slowStart: 0 };
    const { health, transitions } = simulate(policy, [pass, refused, refused, timeout]);
    expect(health.state).toBe('down');
    expect(health.since).toBe(8000);
    expect(transitions.at(-1)).toMatchObject({ from: 'up', to: 'down', at: 8000, failure: timeout, consecutiveFailures: 3 });
    expect(health.lastFailure).toEqual({ at: 8000, result: timeout });
  });

  it('a pass between failures resets the count (no down)', () => {
    const policy = { failures: 2, reentry: 0, slowStart: 0 };
    const { health, transitions } = simulate(policy, [refused, pass, refused, pass, refused]);
    expect(health.state).toBe('up');
    expect(health.consecutiveFailures).toBe(1);
    expect(transitions.map((t) => t.to)).toEqual(['up']);
  });

  it('an unchecked server can go down before it ever passed', () => {
    const { health, transitions } = simulate(piranha, [refused]);
    expect(health.state).toBe('down');
    expect(transitions).toEqual([expect.objectContaining({ from: 'unknown', to: 'down' })]);
  });

  it('comes back only after passing checks for `reentry` ms (Piranha: reentry = 15 s, interval 2 s)', () => {
    const down = simulate(piranha, [refused]);
    // passes at 4 s, 6 s, … : the run starts at the first pass (4 s) and must last 15 s
    const back = simulate(piranha, Array<CheckResult>(9).fill(pass), { health: down.health, start: down.now });
    expect(back.transitions).toHaveLength(1);
    expect(back.transitions[0]).toMatchObject({ from: 'down', to: 'up', at: 20_000, passedFor: 16_000, downFor: 18_000 });
    const early = simulate(piranha, Array<CheckResult>(8).fill(pass), { health: down.health, start: down.now });
    expect(early.health.state).toBe('down');
    expect(early.health.passingSince).toBe(4000);
  });

  it('with reentry 0 the first pass puts a down server back', () => {
    const policy = { failures: 1, reentry: 0, slowStart: 0 };
    const { transitions } = simulate(policy, [refused, pass]);
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['unknown>down', 'down>up']);
  });

  it('a failure during reentry starts the run again: a flapping server stays out', () => {
    // fails once every 10 s, passes in between: never 15 s of passes in a row
    const flapping = Array.from({ length: 300 }, (_, i) => (i % 5 === 4 ? refused : pass));
    const { health, transitions } = simulate(piranha, flapping);
    expect(transitions.map((t) => t.to)).toEqual(['up', 'down']);
    expect(health.state).toBe('down');
  });

  it('flapping under the failure threshold never takes a server out', () => {
    const policy = { failures: 3, reentry: 15_000, slowStart: 0 };
    const flapping = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? refused : pass));
    expect(simulate(policy, flapping).transitions.map((t) => t.to)).toEqual(['up']);
  });

  it('inconclusive results (the director is out of sockets) move nothing', () => {
    const policy = { failures: 2, reentry: 6000, slowStart: 0 };
    const up = simulate(policy, [pass, refused, noSockets, noSockets]);
    expect(up.health).toMatchObject({ state: 'up', consecutiveFailures: 1 });
    const down = simulate(policy, [refused, refused]);
    const passing = simulate(policy, [pass, noSockets, pass, noSockets, pass], { health: down.health, start: down.now });
    expect(passing.transitions).toEqual([expect.objectContaining({ to: 'up', passedFor: 8000 })]);
  });

  describe('slow start', () => {
    const policy: HealthPolicy = { failures: 1, reentry: 0, slowStart: 60_000 };
    const reentered = (): ServerHealth => simulate(policy, [refused, pass], { interval: 1000 }).health; // up again at 2 s

    it('ramps the effective weight from 1 to the configured weight over the period', () => {
      const health = reentered();
      expect(health.rampStartedAt).toBe(2000);
      const at = (elapsed: number) => effectiveWeight(health, 100, policy, 2000 + elapsed);
      expect(at(0)).toBe(1);
      expect(at(15_000)).toBe(25); // 1 + floor(99 × 0.25)
      expect(at(30_000)).toBe(50);
      expect(at(59_999)).toBe(99);
      expect(at(60_000)).toBe(100);
      expect(at(600_000)).toBe(100);
      expect(isRamping(health, policy, 2000 + 59_999)).toBe(true);
      expect(isRamping(health, policy, 2000 + 60_000)).toBe(false);
    });

    it('is monotonic and bounded by [1, weight] for every weight', () => {
      const health = reentered();
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 1000 }),
          fc.integer({ min: 0, max: 70_000 }),
          fc.integer({ min: 0, max: 70_000 }),
          (weight, a, b) => {
            const [early, late] = a <= b ? [a, b] : [b, a];
            const w1 = effectiveWeight(health, weight, policy, 2000 + early);
            const w2 = effectiveWeight(health, weight, policy, 2000 + late);
            return w1 >= 1 && w2 <= weight && w1 <= w2;
          },
        ),
      );
    });

    it('does not apply to the first pass of an unchecked server, nor to weight 0', () => {
      const first = simulate(policy, [pass]).health;
      expect(first.rampStartedAt).toBeUndefined();
      expect(effectiveWeight(first, 100, policy, 2000)).toBe(100);
      expect(effectiveWeight(reentered(), 0, policy, 3000)).toBe(0);
    });

    it('a failure during the ramp takes the server out and drops the ramp', () => {
      const health = observe(reentered(), { at: 10_000, result: refused }, policy).health;
      expect(health.state).toBe('down');
      expect(health.rampStartedAt).toBeUndefined();
      expect(effectiveWeight(health, 100, policy, 10_000)).toBe(0);
    });
  });

  it('property: never up while the last `failures` conclusive results all failed; never back up without `reentry` ms of passes', () => {
    const result = fc.constantFrom(pass, refused, timeout, noSockets);
    fc.assert(
      fc.property(
        fc.record({ failures: fc.integer({ min: 1, max: 4 }), reentry: fc.integer({ min: 0, max: 20_000 }), slowStart: fc.constant(0) }),
        fc.array(fc.tuple(result, fc.integer({ min: 1, max: 5000 })), { maxLength: 200 }),
        (policy, steps) => {
          let health = initialHealth(0);
          let now = 0;
          const conclusive: Array<{ at: number; ok: boolean }> = [];
          for (const [r, gap] of steps) {
            now += gap;
            const step = observe(health, { at: now, result: r }, policy);
            if (r.outcome !== 'inconclusive') conclusive.push({ at: now, ok: r.outcome === 'pass' });
            const lastN = conclusive.slice(-policy.failures);
            if (lastN.length === policy.failures && lastN.every((c) => !c.ok) && step.health.state !== 'down') return false;
            if (step.transition?.from === 'down') {
              // the passes since the last failure span at least `reentry`
              const lastFailure = conclusive.findLastIndex((c) => !c.ok);
              const firstPass = conclusive[lastFailure + 1];
              if (!firstPass || now - firstPass.at < policy.reentry) return false;
            }
            health = step.health;
          }
          return true;
        },
      ),
    );
  });
});
