// `tandem run --realtime`: real-time round-robin scheduling for the daemon, as
// keepalived does for its VRRP process, so a CPU saturated by other processes
// cannot make our heartbeats late (bench/failover.ts measures the difference).
// Node has no sched_setscheduler, so util-linux's chrt sets it. The main thread
// (the event loop, which sends the heartbeats) gets the priority; V8's and
// libuv's helper threads one below it: above every normal process, so the main
// thread never waits for a starved helper during garbage collection, but below
// the main thread, so a helper compiling or marking cannot hold the CPU for a
// round-robin time slice (100 ms) while a heartbeat is due. Reset-on-fork: what
// the daemon starts (hooks, check programs) runs with normal scheduling, so a busy
// hook cannot take the CPU from the heartbeats it must never delay.
import { execa } from 'execa';

export const defaultRealtimePriority = 10;

/** Resolves with what was set; rejects with chrt's complaint (not root, no chrt). */
export async function enableRealtime(priority: number): Promise<string> {
  if (!Number.isInteger(priority) || priority < 2 || priority > 99) throw new Error(`real-time priority ${priority} is not between 2 and 99`);
  try {
    await execa('chrt', ['--all-tasks', '--rr', '--reset-on-fork', '--pid', String(priority - 1), String(process.pid)]);
    await execa('chrt', ['--rr', '--reset-on-fork', '--pid', String(priority), String(process.pid)]);
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string; message: string };
    throw new Error(`cannot set real-time scheduling: ${e.stderr?.trim() || e.shortMessage || e.message}`);
  }
  return `SCHED_RR priority ${priority} (helper threads ${priority - 1})`;
}
