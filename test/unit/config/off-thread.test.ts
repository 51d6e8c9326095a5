// The daemon's way of loading (a worker thread) gives what loadConfig gives: the same
// model and warnings, or the same errors, at a priority below the daemon's event loop.
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadConfigOffThread } from '../../../src/config/index.js';
import { loaderNice } from '../../../src/config/off-thread.js';
import { fixture } from './helpers.js';

describe('loadConfigOffThread', () => {
  it('loads the same model as loadConfig', async () => {
    const file = fixture('seed-001-lvs.cf');
    const [inWorker, here] = await Promise.all([loadConfigOffThread(file), loadConfig(file)]);
    expect(inWorker).toEqual(here);
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
    const seen = new Set<number>();
    const loaded = loadConfigOffThread(fixture('seed-001-lvs.cf')).then(() => true);
    const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
    for (let done = false; !done; done = await Promise.race([loaded, aMoment()])) for (const nice of threadNiceValues()) seen.add(nice);
    expect([...seen]).toContain(loaderNice);
    expect(getPriority()).toBe(before);
  });

  it("leaves the load at the caller's priority when it is not in the background (the daemon's start)", async () => {
    const before = getPriority();
    const earlier = new Set(threadNices().keys());
    const started = new Map<string, number>();
    const loaded = loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { background: false }).then(() => true);
    const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
    for (let done = false; !done; done = await Promise.race([loaded, aMoment()])) {
      for (const [tid, nice] of threadNices()) if (!earlier.has(tid)) started.set(tid, nice);
    }
    // the worker's thread is among those started
    expect(started.size).toBeGreaterThan(0);
    expect(new Set(started.values())).toEqual(new Set([before]));
  });
});

/** The nice values of this process's threads (field 19 of /proc/self/task/TID/stat). */
function threadNiceValues(): number[] {
  return [...threadNices().values()];
}

/** Each thread's nice value, by thread ID. */
function threadNices(): Map<string, number> {
  const nices = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      nices.set(tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread has ended
    }
  }
  return nices;
}
