// Worker threads the daemon starts for bulk work beside its event loop (the configuration
// loader, the IPVS table planner): how each is started, from the built files or, in
// benchmarks, from the TypeScript sources, and ranked by the thread that starts it.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * The nice value (per thread on Linux) of a helper beside an event loop at normal priority.
 * A configuration load is a CPU burst (about a quarter of a second for the lab's small file
 * on a 2-core machine shared with builds), and at the daemon's own priority it took the CPU
 * from the event loop that sends the heartbeats: they came late, and the peer claimed.
 */
export const backgroundNice = 10;

/**
 * Where a helper thread runs. Beside a raised event loop it runs just below it: one nice
 * value higher than a loop at a negative one, at the highest normal weight beside a
 * real-time loop (realtime.ts). Far below it, it stalled the event loop: Node joins a
 * worker's thread when it ends, and a thread at nice 10 on a busy host waits long for a
 * CPU (README "Reload": 39–143 ms a reload, 236 ms in a chaos run). `background`:
 * backgroundNice, beside an event loop at normal priority; `as-started`: as the starting
 * thread makes it (reset-on-fork: normal scheduling, nice 0).
 */
export type ThreadRank = 'as-started' | 'background' | { nice: number };

let helperRank: ThreadRank = 'as-started';

/** Where the helper threads started from now on run: the daemon's, once it has ranked itself. */
export function rankHelperThreads(rank: ThreadRank): void {
  helperRank = rank;
}

/** Where a helper whose own timers matter runs (the balancer's, whose health checks time
 *  out): one step below a raised event loop as the others, but beside one at normal
 *  priority as started, not in the background, where a busy host would fail its checks. */
export function steadyHelperRank(): ThreadRank {
  return helperRank === 'background' ? 'as-started' : helperRank;
}

export interface HelperThreadOptions {
  resourceLimits?: ResourceLimits;
  /** Default: what rankHelperThreads set. */
  rank?: ThreadRank;
  /** Why the thread could not be ranked at `rank` (not root, a restricted container); it runs as started. */
  onRankShortfall?: (why: string, rank: ThreadRank) => void;
}

/**
 * Starts a worker and ranks its thread before the thread has run much of anything. Ranked
 * from inside, it had run as started (normal scheduling) until its isolate was up: beside a
 * real-time event loop on a busy host it sat runnable for 375 ms holding what the event loop
 * then waited for (a futex, the memory-map lock), and heartbeats came late (README "Reload").
 * Built, a worker is the .js file at `url`; run from the TypeScript sources (benchmarks,
 * through tsx), it does not inherit tsx's loader, so it registers it first.
 */
export function startHelperThread(url: URL, workerData: unknown, options: HelperThreadOptions = {}): Worker {
  const { resourceLimits, rank = helperRank, onRankShortfall } = options;
  const settings = { workerData, ...(resourceLimits && { resourceLimits }) };
  const before = rank === 'as-started' ? undefined : threadIds();
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(url.href)}))`;
  // the thread exists once the constructor returns (Node starts it there)
  const worker = url.pathname.endsWith('.ts') ? new Worker(bootstrap, { eval: true, ...settings }) : new Worker(url, settings);
  if (before === undefined || rank === 'as-started') return worker;
  // what appeared meanwhile is the worker's: this thread has been busy here
  for (const thread of threadIds()) {
    if (before.has(thread)) continue;
    const why = rankThread(Number(thread), rank);
    if (why !== undefined) onRankShortfall?.(why, rank);
  }
  return worker;
}

const threadIds = (): Set<string> => new Set(readdirSync('/proc/self/task'));

interface SchedAddon {
  setResetOnFork(tid: number): void;
}

let sched: SchedAddon | undefined;

/** Loaded only for what setpriority cannot do. */
function schedAddon(): SchedAddon {
  sched ??= createRequire(import.meta.url)('../../native/build/Release/tandem_sched.node') as SchedAddon;
  return sched;
}

/** Ranks thread `tid` of this process (os.setPriority acts on one thread on Linux); says why it could not. */
function rankThread(tid: number, rank: Exclude<ThreadRank, 'as-started'>): string | undefined {
  try {
    if (rank === 'background') setPriority(tid, backgroundNice);
    else {
      // a raised thread (the balancer's) starts check programs: they must not inherit it
      if (rank.nice < 0) schedAddon().setResetOnFork(tid);
      setPriority(tid, rank.nice);
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
