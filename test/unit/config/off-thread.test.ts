// The daemon's way of loading (a worker thread) gives what loadConfig gives: the same
// model and warnings, or the same errors, at a priority below the daemon's event loop.
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError, ConfigLoaderThread, loadConfig, loadConfigOffThread } from '../../../src/config/index.js';
import { loaderNice, type LoaderRank } from '../../../src/config/off-thread.js';
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

  it("leaves the load at the caller's priority as started (the daemon's start)", async () => {
    const before = getPriority();
    const earlier = new Set(threadNices().keys());
    const started = new Map<string, number>();
    const loaded = loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank: 'as-started' }).then(() => true);
    const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
    for (let done = false; !done; done = await Promise.race([loaded, aMoment()])) {
      for (const [tid, nice] of threadNices()) if (!earlier.has(tid)) started.set(tid, nice);
    }
    // the worker's thread is among those started
    expect(started.size).toBeGreaterThan(0);
    expect(new Set(started.values())).toEqual(new Set([before]));
  });
});

describe('loadConfigOffThread beside a raised event loop', () => {
  /** The scheduling of every thread the load started, sampled each millisecond until it is done. */
  async function loaderThreads(rank: LoaderRank): Promise<{ seen: Set<string>; warnings: string[] }> {
    const earlier = new Set(threadNices().keys());
    const seen = new Set<string>();
    const loaded = loadConfigOffThread(fixture('seed-001-lvs.cf'), {}, { rank });
    const finished = loaded.then(() => true);
    const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
    for (let done = false; !done; done = await Promise.race([finished, aMoment()]))
      for (const tid of threadNices().keys()) if (!earlier.has(tid)) seen.add(threadScheduling(tid));
    return { seen, warnings: (await loaded).warnings.map((w) => w.message) };
  }

  it('runs the loader one step below an event loop at a negative nice value', async () => {
    // a higher nice value than the test's own needs no privilege
    const { seen } = await loaderThreads({ nice: 7 });
    expect(seen).toContain('nice 7');
  });

  it('runs the loader real-time below a real-time event loop, or says why not', async () => {
    const { seen, warnings } = await loaderThreads({ realtime: 1 });
    if (process.getuid?.() === 0) expect(seen).toContain('rr 1');
    else expect(warnings.join('\n')).toMatch(/the loader thread runs as started/);
  });
});

describe('ConfigLoaderThread', () => {
  /** The threads that appeared while `task` ran, and their scheduling, sampled each millisecond. */
  async function threadsStartedDuring(task: () => Promise<unknown>): Promise<Map<string, string>> {
    const earlier = new Set(threadNices().keys());
    const started = new Map<string, string>();
    const finished = task().then(() => true);
    const aMoment = () => new Promise<false>((resolve) => setTimeout(() => resolve(false), 1));
    for (let done = false; !done; done = await Promise.race([finished, aMoment()]))
      for (const tid of threadNices().keys()) if (!earlier.has(tid)) started.set(tid, threadScheduling(tid));
    return started;
  }

  it('loads on one thread, started once: a reload starts and joins none', async () => {
    const loader = new ConfigLoaderThread('as-started');
    try {
      const file = fixture('seed-001-lvs.cf');
      const first = await threadsStartedDuring(() => loader.load(file));
      expect(first.size).toBeGreaterThan(0);
      const again = await threadsStartedDuring(async () => {
        expect(await loader.load(file)).toEqual(await loadConfig(file));
        await expect(loader.load(fixture('seed-000-missing-port.rules'))).rejects.toBeInstanceOf(ConfigError);
        expect((await loader.load(file)).model).toEqual((await loadConfig(file)).model);
      });
      expect(again.size).toBe(0);
      // still there between loads
      for (const tid of first.keys()) expect(threadScheduling(tid)).not.toBe('ended');
    } finally {
      await loader.close();
    }
  });

  it('ranks its thread again when told, without starting another', async () => {
    const loader = new ConfigLoaderThread('as-started');
    try {
      const started = await threadsStartedDuring(() => loader.load(fixture('seed-001-lvs.cf')));
      loader.rerank({ nice: 7 });
      const again = await threadsStartedDuring(() => loader.load(fixture('seed-001-lvs.cf')));
      expect(again.size).toBe(0);
      expect([...started.keys()].map(threadScheduling)).toContain('nice 7');
    } finally {
      await loader.close();
    }
  });

  it('starts a thread again for the load after one stopped', async () => {
    const loader = new ConfigLoaderThread();
    await loader.load(fixture('seed-001-lvs.cf'));
    await loader.close();
    expect((await loader.load(fixture('seed-001-lvs.cf'))).model).toEqual((await loadConfig(fixture('seed-001-lvs.cf'))).model);
    await loader.close();
  });

  it('does not keep the process alive while idle', async () => {
    const script = `import { ConfigLoaderThread } from './src/config/index.ts';
      const loader = new ConfigLoaderThread();
      await loader.load(${JSON.stringify(fixture('seed-001-lvs.cf'))});
      console.log('loaded');`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 60_000,
    });
    expect(stdout.trim()).toBe('loaded');
  }, 60_000);
});

/** A thread's policy and priority: `rr P` for SCHED_RR, else `nice N` (fields 19, 40 and 41 of its stat). */
function threadScheduling(tid: string): string {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[38] === '2' ? `rr ${fields[37]}` : `nice ${fields[16]}`;
  } catch {
    return 'ended';
  }
}

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
