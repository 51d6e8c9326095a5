// `tandem run` without real-time scheduling (not asked for, or refused): the event loop
// thread, which sends the heartbeats, gets the highest weight normal scheduling allows
// (nice -20 unless told otherwise), so on a saturated CPU it runs before busy processes
// at nice 0. On Linux a nice value belongs to one thread: setpriority of the process ID
// changes the event loop thread alone, and what that thread starts later (processes,
// threads) inherits its value unless it has SCHED_RESET_ON_FORK, which starts them at
// nice 0. So reset-on-fork comes first, and without it nothing is raised: a busy hook or
// check program at -20 would take the CPU from the heartbeats it must not delay.
// Helper threads (V8's, libuv's) are ranked as under --realtime (realtime.ts): one below
// the event loop with --single-threaded-gc, which waits for none of them; level with it
// otherwise, since a parallel collection waits for its helpers.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { chrt, singleThreadedGc } from './realtime.js';

export const defaultNice = -20;
const lowestPriorityNice = 19;

/** The nice values to try for the event loop, the highest weight first, none below the one it has. */
export function niceCandidates(requested: number, current: number): number[] {
  const candidates: number[] = [];
  for (let nice = requested; nice < current; nice++) candidates.push(nice);
  return candidates;
}

/** The helper threads' nice value beside an event loop at `eventLoop`. */
export const helperNice = (eventLoop: number, collectsAlone: boolean): number =>
  collectsAlone ? Math.min(eventLoop + 1, lowestPriorityNice) : eventLoop;

/** The thread-level calls raisePriority makes (Linux's by default). */
export interface ThreadScheduler {
  /** The event loop thread's ID (on Linux the process ID). */
  readonly eventLoop: number;
  /** The process's other threads. */
  helpers(): number[];
  getNice(thread: number): number;
  /** Throws when refused (EACCES: no CAP_SYS_NICE and RLIMIT_NICE too low) or the thread is gone (ESRCH). */
  setNice(thread: number, nice: number): void;
  /** Normal scheduling with SCHED_RESET_ON_FORK: what the thread starts begins at nice 0. */
  resetOnFork(thread: number): Promise<void>;
}

export const linuxThreads: ThreadScheduler = {
  eventLoop: process.pid,
  helpers: () =>
    readdirSync('/proc/self/task')
      .map(Number)
      .filter((thread) => thread !== process.pid),
  getNice: (thread) => getPriority(thread),
  setNice: (thread, nice) => {
    setPriority(thread, nice);
  },
  resetOnFork: async (thread) => {
    await chrt(['--other', '--reset-on-fork', '--pid', '0', String(thread)]);
  },
};

export interface RaisedPriority {
  requested: number;
  /** The event loop's nice value now. */
  nice: number;
  /** The helper threads' nice value; undefined when they were left alone. */
  helpers?: number;
  /** Why the event loop or a helper thread is not where it was asked to be. */
  shortfall?: string;
}

/** The errno name of os.setPriority's error (EACCES, ESRCH), else its message. */
const errnoOf = (error: unknown) => (error as { info?: { code?: string } }).info?.code ?? (error as Error).message;

/** Raises the event loop thread to `requested` or as near as allowed, and ranks the helper threads below it. */
export async function raisePriority(
  requested: number,
  { scheduler = linuxThreads, collectsAlone = singleThreadedGc() }: { scheduler?: ThreadScheduler; collectsAlone?: boolean } = {},
): Promise<RaisedPriority> {
  const current = scheduler.getNice(scheduler.eventLoop);
  try {
    await scheduler.resetOnFork(scheduler.eventLoop);
  } catch (error) {
    return {
      requested,
      nice: current,
      shortfall: `cannot set reset-on-fork (${(error as Error).message}), so nothing was raised: the programs it starts would inherit the priority`,
    };
  }
  let nice = current;
  let refusal: string | undefined;
  for (const candidate of niceCandidates(requested, current)) {
    try {
      scheduler.setNice(scheduler.eventLoop, candidate);
      nice = candidate;
      break;
    } catch (error) {
      refusal ??= `nice ${candidate} refused (${errnoOf(error)}: no CAP_SYS_NICE, and RLIMIT_NICE does not allow it)`;
    }
  }
  const helpers = helperNice(nice, collectsAlone);
  const unchanged: string[] = [];
  for (const thread of scheduler.helpers()) {
    try {
      scheduler.setNice(thread, helpers);
    } catch (error) {
      // a thread that ended meanwhile needs no rank
      if (errnoOf(error) !== 'ESRCH') unchanged.push(`thread ${thread}: ${errnoOf(error)}`);
    }
  }
  const shortfalls = [
    ...(nice > requested && refusal !== undefined ? [refusal] : []),
    ...(unchanged.length > 0 ? [`helper threads left as they were: ${unchanged.join(', ')}`] : []),
  ];
  return { requested, nice, helpers, ...(shortfalls.length > 0 && { shortfall: shortfalls.join('; ') }) };
}
