// The event loop's nice value without real-time scheduling: as high as allowed, helper
// threads ranked below it, nothing raised unless what it starts is reset to nice 0.
import { describe, expect, it } from 'vitest';
import { helperNice, niceCandidates, raisePriority, type ThreadScheduler } from '../../../src/daemon/priority.js';

const refused = (code: string) => Object.assign(new Error(`uv_os_setpriority returned ${code}`), { info: { code } });

/**
 * Threads 1 (the event loop), 2 and 3 at `start`; values below `lowestAllowed` are refused as without
 * CAP_SYS_NICE, and a thread in `failing` refuses with that errno.
 */
function fakeThreads({ start = 0, lowestAllowed = -20, chrt = true, failing = new Map<number, string>() } = {}) {
  const nices = new Map([1, 2, 3].map((thread) => [thread, start]));
  const calls: string[] = [];
  const scheduler: ThreadScheduler = {
    eventLoop: 1,
    helpers: () => [2, 3],
    getNice: (thread) => nices.get(thread) ?? 0,
    setNice: (thread, nice) => {
      calls.push(`set ${thread} ${nice}`);
      const errno = failing.get(thread);
      if (errno !== undefined) throw refused(errno);
      if (nice < lowestAllowed && nice < (nices.get(thread) ?? 0)) throw refused('EACCES');
      nices.set(thread, nice);
    },
    resetOnFork: (thread) => {
      calls.push(`reset-on-fork ${thread}`);
      return chrt ? Promise.resolve() : Promise.reject(new Error('spawn chrt ENOENT'));
    },
  };
  return { scheduler, nices, calls };
}

describe('niceCandidates', () => {
  it('tries from the requested value up to the current one, not lowering it', () => {
    expect(niceCandidates(-20, -17)).toEqual([-20, -19, -18]);
    expect(niceCandidates(-20, -20)).toEqual([]);
    expect(niceCandidates(-5, -10)).toEqual([]);
  });
});

describe('helperNice', () => {
  it('ranks helpers one below an event loop that collects garbage alone, level with it otherwise', () => {
    expect(helperNice(-20, true)).toBe(-19);
    expect(helperNice(-20, false)).toBe(-20);
    expect(helperNice(19, true)).toBe(19);
  });
});

describe('raisePriority', () => {
  it('sets reset-on-fork first, then the event loop, then the helpers', async () => {
    const { scheduler, nices, calls } = fakeThreads();
    expect(await raisePriority(-20, { scheduler, collectsAlone: true })).toEqual({ requested: -20, nice: -20, helpers: -19 });
    expect(calls).toEqual(['reset-on-fork 1', 'set 1 -20', 'set 2 -19', 'set 3 -19']);
    expect([...nices.values()]).toEqual([-20, -19, -19]);
  });

  it('takes the highest value allowed and says what was refused', async () => {
    const { scheduler, nices } = fakeThreads({ start: 5, lowestAllowed: -5 });
    const raised = await raisePriority(-20, { scheduler, collectsAlone: true });
    expect(raised).toMatchObject({ requested: -20, nice: -5, helpers: -4 });
    expect(raised.shortfall).toMatch(/^nice -20 refused \(EACCES: no CAP_SYS_NICE/);
    expect(nices.get(1)).toBe(-5);
  });

  it('raises nothing when the programs it starts would inherit the priority', async () => {
    const { scheduler, nices, calls } = fakeThreads({ start: 10, chrt: false });
    const raised = await raisePriority(-20, { scheduler, collectsAlone: true });
    expect(raised).toMatchObject({ requested: -20, nice: 10 });
    expect(raised.helpers).toBeUndefined();
    expect(raised.shortfall).toMatch(/cannot set reset-on-fork \(spawn chrt ENOENT\), so nothing was raised/);
    expect(calls).toEqual(['reset-on-fork 1']);
    expect([...nices.values()]).toEqual([10, 10, 10]);
  });

  it('leaves an event loop already above the requested value where it is', async () => {
    const { scheduler, calls } = fakeThreads({ start: -20 });
    expect(await raisePriority(-10, { scheduler, collectsAlone: false })).toEqual({ requested: -10, nice: -20, helpers: -20 });
    expect(calls).not.toContain('set 1 -10');
  });

  it('passes over a helper thread that ended meanwhile, and reports one it could not rank', async () => {
    const ended = fakeThreads({ failing: new Map([[3, 'ESRCH']]) });
    expect(await raisePriority(-20, { scheduler: ended.scheduler, collectsAlone: true })).toEqual({
      requested: -20,
      nice: -20,
      helpers: -19,
    });
    const { scheduler } = fakeThreads({ failing: new Map([[2, 'EPERM']]) });
    expect(await raisePriority(-20, { scheduler, collectsAlone: true })).toEqual({
      requested: -20,
      nice: -20,
      helpers: -19,
      shortfall: 'helper threads left as they were: thread 2: EPERM',
    });
  });
});
