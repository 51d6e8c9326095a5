// An lvs.cf's checks behave as Piranha's nanny ran them (nanny.c, as lvsd starts it with
// `-t timeout -a reentry`): the file is loaded and planned, then the plan's policy is fed
// check results in simulated time, one interval apart, and compared with nanny's loop.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { planHealth, type PlannedServer } from '../../../src/health/plan.js';
import type { CheckResult } from '../../../src/health/result.js';
import { effectiveWeight, initialHealth, isUp, observe, type ServerHealth } from '../../../src/health/state.js';

const pass: CheckResult = { outcome: 'pass', message: 'received "HTTP"', durationMs: 3 };
const fail: CheckResult = { outcome: 'fail', reason: 'timeout', message: 'no connection within 6000 ms', durationMs: 6000 };

const lvsCf = (check: string, weight = 1): string => `primary = 10.0.0.1
virtual web {
  active = 1
  address = 192.0.2.80 eth0:1
${check}
  server www1 {
    address = 10.1.0.1
    active = 1
    weight = ${weight}
  }
}
`;

async function plan(check: string, weight?: number): Promise<PlannedServer> {
  const { model } = await parseConfig(lvsCf(check, weight), 'lvs.cf', { hosts: () => Promise.resolve([]) });
  const [planned] = planHealth(model);
  if (planned === undefined) throw new Error('nothing planned');
  return planned;
}

/** Feeds one result per interval (the injected clock), returning the state after each. */
function run(planned: PlannedServer, results: CheckResult[], health: ServerHealth = initialHealth(0)) {
  let now = 0;
  const states: { at: number; up: boolean; health: ServerHealth }[] = [];
  for (const result of results) {
    now += planned.interval;
    health = observe(health, { at: now, result }, planned.policy).health;
    states.push({ at: now, up: isUp(health), health });
  }
  return states;
}

/** nanny's run() loop, reduced to its state: `countThresh = reentry / interval` and the
 *  transitions it makes on each check's result. */
function nanny(countThresh: number) {
  let currCount = countThresh;
  let isActive = false;
  return (isAvail: boolean): boolean => {
    if (isAvail) currCount++;
    if (isAvail && !isActive && currCount >= countThresh) isActive = true;
    else if (!isAvail && isActive) {
      currCount = 0;
      isActive = false;
    } else if (!isAvail && currCount) currCount = 0;
    return isActive;
  };
}

describe("lvs.cf checks run as nanny's", () => {
  it('timeout = 6 is the interval and the limit of a check; one failure takes the server out', async () => {
    const planned = await plan('  port = 80\n  timeout = 6\n  reentry = 15');
    expect(planned.interval).toBe(6000);
    expect(planned.check?.timeout).toBe(6000);
    const states = run(planned, [pass, pass, fail]);
    expect(states.map((s) => [s.at, s.up])).toEqual([
      [6000, true],
      [12_000, true],
      [18_000, false], // the server died after 12 s: out at the next check
    ]);
  });

  it('comes back after reentry / interval good checks in a row (15 / 6: the second)', async () => {
    const planned = await plan('  timeout = 6\n  reentry = 15');
    const states = run(planned, [pass, fail, pass, fail, pass, pass, pass]);
    expect(states.map((s) => s.up)).toEqual([true, false, false, false, false, true, true]);
  });

  it("without reentry: nanny's 180 s, 30 checks at timeout = 6; 18 at the default timeout of 10 s", async () => {
    const six = await plan('  timeout = 6');
    const back = run(six, [fail, ...Array<CheckResult>(30).fill(pass)]);
    expect(back.map((s) => s.up).lastIndexOf(false)).toBe(29);
    const ten = await plan('');
    expect(ten.interval).toBe(10_000);
    expect(ten.policy.reentryChecks).toBe(18);
  });

  it('property: in or out after every check exactly as nanny decides', async () => {
    const cases = await Promise.all(
      [
        [6, 15],
        [6, 180],
        [10, 180],
        [5, 3],
        [2, 20],
      ].map(async ([timeout, reentry]) => ({
        planned: await plan(`  timeout = ${timeout}\n  reentry = ${reentry}`),
        countThresh: Math.floor((reentry ?? 0) / (timeout ?? 1)),
      })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }),
        ({ planned, countThresh }, avail) => {
          const reference = nanny(countThresh);
          const states = run(
            planned,
            avail.map((ok) => (ok ? pass : fail)),
          );
          return avail.every((ok, index) => states[index]?.up === reference(ok));
        },
      ),
    );
  });

  it("a server put back starts at 1/32 of its weight, doubled every 18 s (nanny's weight adjustment at timeout = 6)", async () => {
    const planned = await plan('  timeout = 6\n  reentry = 6', 100);
    const [, back] = run(planned, [fail, pass]);
    const reentered = back?.health;
    expect(reentered?.state).toBe('up');
    const at = (seconds: number): number => effectiveWeight(reentered!, 100, planned.policy, 12_000 + seconds * 1000);
    expect([0, 17, 18, 36, 54, 72, 90, 107, 108].map(at)).toEqual([3, 3, 6, 12, 24, 48, 96, 96, 100]);
  });

  it('a port-80 service without send, expect or send_program gets GET / HTTP/1.0 expecting HTTP', async () => {
    const planned = await plan('  timeout = 6');
    expect(planned.check?.probe).toMatchObject({ kind: 'stream', send: 'GET / HTTP/1.0\r\n\r\n' });
    expect(planned.check?.probe).toHaveProperty('expect.description', '"HTTP"');
    const other = await plan('  port = 8080');
    expect(other.check?.probe).toEqual({ kind: 'stream' });
  });
});
