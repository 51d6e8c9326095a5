// The daemon's way of loading (a worker thread) gives what loadConfig gives: the same
// model and warnings, or the same errors, at a priority below the daemon's event loop.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigOffThread } from '../../../src/config/index.js';
import { realtimeWorkerRank } from '../../../src/daemon/realtime.js';
import { backgroundNice, rankHelperThreads } from '../../../src/lib/helper-thread.js';
import { threadScheduling } from '../../support/thread-scheduling.js';
import { fixture } from './helpers.js';

describe('loadConfigOffThread', () => {
  it('loads the same model as loadConfig', async () => {
    const file = fixture('seed-001-lvs.cf');
    const [inWorker, here] = await Promise.all([loadConfigOffThread(file), loadConfig(file)]);
    expect(inWorker).toEqual(here);
  });

  it("takes the running model's services where they are unchanged, and the file's where they changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-off-thread-'));
    try {
      const rules = (middleWeight: number) =>
        [1, 2, 3].flatMap((n) => [
          `-A -t 10.0.0.${n}:80 -s wlc`,
          `-a -t 10.0.0.${n}:80 -r 10.1.0.${n}:80 -m -w ${n === 2 ? middleWeight : 1}`,
        ]);
      const file = join(dir, 'rules');
      writeFileSync(file, `${rules(1).join('\n')}\n`);
      const running = (await loadConfigOffThread(file)).model;
      writeFileSync(file, `${rules(5).join('\n')}\n`);
      const { model } = await loadConfigOffThread(file, {}, { previous: running.virtualServices });
      expect(model).toEqual((await loadConfig(file)).model);
      const [first, second, third] = model.virtualServices;
      expect(first).toBe(running.virtualServices[0]);
      expect(second).not.toBe(running.virtualServices[1]);
      expect(second?.realServers[0]?.weight).toBe(5);
      expect(third).toBe(running.virtualServices[2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws a ConfigError with the same diagnostics', async () => {
    const file = fixture('seed-000-missing-port.rules');
    const here = await loadConfig(file).catch((error: unknown) => error);
    const inWorker = await loadConfigOffThread(file).catch((error: unknown) => error);
    expect(here).toBeInstanceOf(ConfigError);
    expect(inWorker).toBeInstanceOf(ConfigError);
    expect((inWorker as ConfigError).diagnostics).toEqual((here as ConfigError).diagnostics);
    expect((inWorker as ConfigError).message).toBe((here as ConfigError).message);
  });

  it('runs the load in a thread of lower priority, leaving the caller as it was', async () => {
    const before = getPriority();
    const { seen } = await threadsStartedDuring(() => loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank: 'background' }));
    expect(seen).toEqual(new Set([`nice ${backgroundNice}`]));
    expect(getPriority()).toBe(before);
  });

  it("leaves the load at the caller's priority as started (the daemon's start)", async () => {
    const before = getPriority();
    const { seen } = await threadsStartedDuring(() => loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank: 'as-started' }));
    expect(seen).toEqual(new Set([`nice ${before}`]));
  });

  it('ends its thread before it answers', async () => {
    // the loader's thread is there as the call returns; threads that come later are not its
    // (from the sources, tsx's loader adds one inside it; the process's libuv pool is shared)
    const { startedFirst } = await threadsStartedDuring(() => loadConfigOffThread(fixture('seed-001-lvs.cf')));
    expect(startedFirst.size).toBeGreaterThan(0);
    for (const tid of startedFirst) expect(threadScheduling(tid)).toBe('ended');
  });

  it('runs where the daemon ranked its helper threads', async () => {
    rankHelperThreads({ nice: 6 });
    try {
      const { seen } = await threadsStartedDuring(() => loadConfigOffThread(fixture('seed-001-lvs.cf')));
      expect(seen).toEqual(new Set(['nice 6']));
    } finally {
      rankHelperThreads('as-started');
    }
  });
});

describe('loadConfigOffThread beside a raised event loop', () => {
  // the rank is set as the thread starts: no sample ever finds it as started
  it('runs the loader one step below an event loop at a negative nice value, from its start', async () => {
    // a higher nice value than the test's own needs no privilege
    const { seen } = await threadsStartedDuring(() => loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank: { nice: 7 } }));
    expect(seen).toEqual(new Set(['nice 7']));
  });

  it('runs the loader at the highest normal weight beside a real-time event loop from its start, or says why not', async () => {
    let loaded: ReturnType<typeof loadConfigOffThread> | undefined;
    const { first } = await threadsStartedDuring(
      () => (loaded = loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank: realtimeWorkerRank })),
    );
    const warnings = (await loaded!).warnings.map((w) => w.message);
    // (from the sources, tsx's loader adds a thread of its own later, at nice 0)
    if (process.getuid?.() === 0) expect(first).toEqual(new Set(['nice -20']));
    else expect(warnings.join('\n')).toMatch(/the loader thread runs as started, not at {"nice":-20}/);
  });
});

/** The threads that appeared while `task` ran, every scheduling they were seen with (sampled
 *  each millisecond), and those there in the turn that started the task with their schedulings. */
async function threadsStartedDuring(
  task: () => Promise<unknown>,
): Promise<{ started: Set<string>; seen: Set<string>; startedFirst: Set<string>; first: Set<string> }> {
  const earlier = new Set(readdirSync('/proc/self/task'));
  const started = new Set<string>();
  const seen = new Set<string>();
  const sample = () => {
    for (const tid of readdirSync('/proc/self/task')) {
      if (earlier.has(tid)) continue;
      const scheduling = threadScheduling(tid);
      if (scheduling === 'ended') continue;
      started.add(tid);
      seen.add(scheduling);
    }
  };
  const finished = task().then(() => true);
  // right after the task started its thread, in the same turn: before anything else ran here
  sample();
  const [startedFirst, first] = [new Set(started), new Set(seen)];
  const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
  for (let done = false; !done; done = await Promise.race([finished, aMoment()])) sample();
  return { started, seen, startedFirst, first };
}
