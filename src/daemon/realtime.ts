// `tandem run --realtime`: real-time round-robin scheduling for the daemon, as
// keepalived can for its VRRP process, so a CPU saturated by other processes
// cannot make our heartbeats late (bench/failover.ts measures the difference).
// Node has no sched_setscheduler, so util-linux's chrt sets it.
//
// Which threads get which priority depends on the garbage collector. With
// parallel GC (Node's default) the event loop thread waits for V8's helper
// threads (cppgc's incremental sweeping spins until the concurrent sweepers are
// done), so the helpers must never rank below it: every thread gets the same
// priority and round-robin guarantees progress — at the cost of waiting up to a
// time slice (100 ms) behind a helper on a busy CPU. With --single-threaded-gc
// (as the tandem command starts node) the event loop waits for no helper, so it
// gets the priority and the helpers one below: a compiling helper can no longer
// hold the CPU while a heartbeat is due. (A helper ranked below an event loop that
// waits for it livelocks: seen with parallel GC, two daemons spinning on both CPUs.)
// Reset-on-fork: what the daemon starts (hooks, check programs) runs with normal
// scheduling, so a busy hook cannot take the CPU from the heartbeats it must not delay.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ThreadRank } from '../lib/helper-thread.js';

const run = promisify(execFile);

export const defaultRealtimePriority = 10;

/** Whether this process runs garbage collection on the event loop thread only. */
export const singleThreadedGc = (): boolean =>
  process.execArgv.includes('--single-threaded-gc') || process.execArgv.includes('--single-threaded');

/** Runs util-linux chrt; rejects with its complaint (not root, no chrt). */
export async function chrt(args: string[]): Promise<void> {
  try {
    await run('chrt', args);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(e.stderr?.trim() || e.message);
  }
}

/**
 * chrt --all-tasks for this process: it fails with "No such process" when a thread ends
 * while it walks them (the start's loader thread did, and the daemon ran without real-time
 * scheduling), so then it is asked again.
 */
export async function chrtAllTasks(args: string[], run: (args: string[]) => Promise<void> = chrt, attempts = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run(['--all-tasks', ...args, String(process.pid)]);
      return;
    } catch (error) {
      if (attempt >= attempts || !(error as Error).message.includes('No such process')) throw error;
    }
  }
}

/** The real-time priority of the helper threads beside an event loop at `priority`. */
const realtimeHelperPriority = (priority: number): number => (singleThreadedGc() ? priority - 1 : priority);

/**
 * Where the daemon's worker threads (the configuration loader, the table planner, the
 * balancer's thread) run beside a real-time event loop: normal scheduling at the highest
 * weight, ahead of the host's other work and never ahead of the event loop. Real-time one
 * step below it, a worker busy for seconds (loading 100,000 services) used up the kernel's
 * real-time share of its CPU (sched_rt_runtime_us, 95 % of a second): normal threads then
 * had that CPU for their 5 %, and the event loop, woken there, waited 18–46 ms for it.
 */
export const realtimeWorkerRank: ThreadRank = { nice: -20 };

/** Resolves with what was set; rejects with chrt's complaint (not root, no chrt). */
export async function enableRealtime(priority: number): Promise<string> {
  if (!Number.isInteger(priority) || priority < 2 || priority > 99)
    throw new Error(`real-time priority ${priority} is not between 2 and 99`);
  const helpers = realtimeHelperPriority(priority);
  try {
    await chrtAllTasks(['--rr', '--reset-on-fork', '--pid', String(helpers)]);
    await chrt(['--rr', '--reset-on-fork', '--pid', String(priority), String(process.pid)]);
  } catch (error) {
    // helpers left real-time (the main thread refused after them) would outrank the event loop
    const undone = await chrtAllTasks(['--other', '--reset-on-fork', '--pid', '0']).then(
      () => '',
      (undo: unknown) => `; helper threads may still be real-time: ${(undo as Error).message}`,
    );
    throw new Error(`cannot set real-time scheduling: ${(error as Error).message}${undone}`);
  }
  return `SCHED_RR priority ${priority} (helper threads ${helpers})`;
}
