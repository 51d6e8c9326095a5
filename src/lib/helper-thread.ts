// Worker threads the daemon starts for bulk work beside its event loop (the configuration
// loader, the IPVS table planner): where each ranks its own thread, and how it is started
// from the built files or, in benchmarks, from the TypeScript sources.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
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
 * Where a helper thread runs. Beside a raised event loop (real-time, or a negative nice
 * value) it runs one step below it, as the daemon's other helper threads do. Far below it,
 * it stalled the event loop: Node joins a worker's thread when it ends, and a thread at
 * nice 10 on a busy host waits long for a CPU (README "Reload": 39–143 ms a reload, 236 ms
 * in a chaos run). `background`: backgroundNice, beside an event loop at normal priority;
 * `as-started`: as the caller's thread starts it (reset-on-fork: normal scheduling, nice 0).
 */
export type ThreadRank = 'as-started' | 'background' | { realtime: number } | { nice: number };

/** Ranks the calling thread (os.setPriority and chrt act on one thread on Linux); says why it could not. */
export function rankThisThread(wanted: ThreadRank): string | undefined {
  try {
    if (wanted === 'background') setPriority(backgroundNice);
    else if (typeof wanted === 'object' && 'nice' in wanted) setPriority(wanted.nice);
    else if (typeof wanted === 'object') {
      const thread = readlinkSync('/proc/thread-self').split('/').pop() ?? '';
      execFileSync('chrt', ['--rr', '--pid', String(wanted.realtime), thread], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return e.stderr?.toString().trim() || e.message;
  }
}

/** Built, a worker is the .js file at `url`; run from the TypeScript sources (benchmarks,
 *  through tsx), a worker does not inherit tsx's loader, so it registers it first. */
export function startHelperThread(url: URL, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData, ...(resourceLimits && { resourceLimits }) };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${JSON.stringify(url.href)}))`;
  return new Worker(bootstrap, { eval: true, ...options });
}
