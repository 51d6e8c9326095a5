// The health of one real server as a pure state machine: fed check results with their
// timestamps, it returns the new state and the transition (if any). No timers, no I/O;
// the monitor drives it, tests drive it in simulated time.
//
//   unknown ──pass──► up                 never checked yet: counts as up (alive until proven dead)
//   unknown/up ──`failures` consecutive fails──► down
//   down ──passes for `reentry` ms, and `reentryChecks` of them, without a failure──► up
//          (slow start ramp begins)
import type { Milliseconds, SlowStartCurve } from '../config/model.js';
import type { CheckFailure, CheckResult } from './result.js';

export type HealthState = 'unknown' | 'up' | 'down';

export interface HealthPolicy {
  /** Consecutive failed checks that take a server out (≥ 1). */
  failures: number;
  /** How long a down server must pass every check before it is put back (0: the first pass). */
  reentry: Milliseconds;
  /** Passing checks in a row a down server needs as well (Piranha's nanny counts; default 1). */
  reentryChecks?: number;
  /** After re-entry, the weight ramps up to the configured weight over this period (0: off). */
  slowStart: Milliseconds;
  /** Default linear. */
  slowStartCurve?: SlowStartCurve;
}

export interface Observation<R extends CheckResult = CheckResult> {
  /** When the check finished (the monitor's monotonic clock, ms). */
  at: number;
  result: R;
}

export interface ServerHealth {
  readonly state: HealthState;
  /** When the current state began. */
  readonly since: number;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /** While down: when the current run of passing checks began. */
  readonly passingSince?: number;
  /** Set on re-entry when slow start is on: the ramp runs from here for `slowStart` ms. */
  readonly rampStartedAt?: number;
  readonly lastResult?: Observation;
  /** The latest failed check (why the server is, or last was, down). */
  readonly lastFailure?: Observation<CheckFailure>;
}

export interface HealthTransition {
  from: HealthState;
  to: HealthState;
  at: number;
  /** up → down: the failure that took the server out. */
  failure?: CheckFailure;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** down → up: how long the server passed checks before it was put back. */
  passedFor?: Milliseconds;
  /** down → up: how long it was out. */
  downFor?: Milliseconds;
}

export function initialHealth(now: number): ServerHealth {
  return { state: 'unknown', since: now, consecutiveFailures: 0, consecutiveSuccesses: 0 };
}

export function observe(
  health: ServerHealth,
  observation: Observation,
  policy: HealthPolicy,
): { health: ServerHealth; transition?: HealthTransition } {
  const { at, result } = observation;
  switch (result.outcome) {
    case 'inconclusive':
      // Says nothing about the server: no counter moves, a reentry run is not broken.
      return { health: { ...health, lastResult: observation } };
    case 'fail': {
      const failures = health.consecutiveFailures + 1;
      const failed: ServerHealth = {
        state: health.state,
        since: health.since,
        consecutiveFailures: failures,
        consecutiveSuccesses: 0,
        lastResult: observation,
        lastFailure: { at, result },
      };
      if (health.state === 'down' || failures < Math.max(1, policy.failures)) return { health: failed };
      return {
        health: { ...failed, state: 'down', since: at },
        transition: { from: health.state, to: 'down', at, failure: result, consecutiveFailures: failures, consecutiveSuccesses: 0 },
      };
    }
    case 'pass': {
      const passed: ServerHealth = {
        ...health,
        consecutiveFailures: 0,
        consecutiveSuccesses: health.consecutiveSuccesses + 1,
        lastResult: observation,
      };
      if (health.state === 'up') return { health: passed };
      if (health.state === 'unknown') {
        return { health: { ...passed, state: 'up', since: at }, transition: transitionOf(health, passed, 'up', at) };
      }
      const passingSince = health.passingSince ?? at;
      if (at - passingSince < policy.reentry || passed.consecutiveSuccesses < (policy.reentryChecks ?? 1))
        return { health: { ...passed, passingSince } };
      const up: ServerHealth = {
        state: 'up',
        since: at,
        consecutiveFailures: 0,
        consecutiveSuccesses: passed.consecutiveSuccesses,
        lastResult: observation,
        ...(health.lastFailure !== undefined ? { lastFailure: health.lastFailure } : {}),
        ...(policy.slowStart > 0 ? { rampStartedAt: at } : {}),
      };
      return {
        health: up,
        transition: { ...transitionOf(health, passed, 'up', at), passedFor: at - passingSince, downFor: at - health.since },
      };
    }
  }
}

function transitionOf(before: ServerHealth, after: ServerHealth, to: HealthState, at: number): HealthTransition {
  return { from: before.state, to, at, consecutiveFailures: after.consecutiveFailures, consecutiveSuccesses: after.consecutiveSuccesses };
}

/** A down server counts as out of the table; unknown (not yet checked) counts as up. */
export function isUp(health: ServerHealth): boolean {
  return health.state !== 'down';
}

/** Steps of the doubling ramp: 1/32 of any weight up to 65535, doubled 6 times, reaches it. */
const doublingSteps = 6;

/**
 * The weight the server should carry at `now`: 0 when down; during slow start a ramp
 * (linear from 1, or doubling from 1/32 of `weight`) that reaches `weight` after
 * `slowStart` ms; otherwise `weight`. A configured weight of 0 (drained by the operator)
 * stays 0.
 */
export function effectiveWeight(health: ServerHealth, weight: number, policy: HealthPolicy, now: number): number {
  if (health.state === 'down') return 0;
  if (!isRamping(health, policy, now) || weight <= 1) return weight;
  const elapsed = Math.max(0, now - (health.rampStartedAt ?? now));
  if (policy.slowStartCurve === 'doubling') {
    const step = Math.floor((doublingSteps * elapsed) / policy.slowStart);
    return Math.min(weight, Math.max(1, Math.floor(weight / 32)) * 2 ** step);
  }
  return 1 + Math.floor(((weight - 1) * elapsed) / policy.slowStart);
}

export function isRamping(health: ServerHealth, policy: HealthPolicy, now: number): boolean {
  return (
    health.state === 'up' && health.rampStartedAt !== undefined && policy.slowStart > 0 && now - health.rampStartedAt < policy.slowStart
  );
}
