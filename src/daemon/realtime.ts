// `tandem run --realtime`: real-time round-robin scheduling for the daemon, as
// keepalived does for its VRRP process, so a CPU saturated by other processes
// cannot make our heartbeats late (bench/failover.ts measures the difference).
// Node has no sched_setscheduler, so util-linux's chrt sets it on every thread
// of this process; threads started later inherit it.
import { execa } from 'execa';

export const defaultRealtimePriority = 10;

/** Resolves with what was set; rejects with chrt's complaint (not root, no chrt). */
export async function enableRealtime(priority: number): Promise<string> {
  if (!Number.isInteger(priority) || priority < 1 || priority > 99) throw new Error(`real-time priority ${priority} is not between 1 and 99`);
  try {
    await execa('chrt', ['--all-tasks', '--rr', '--pid', String(priority), String(process.pid)]);
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string; message: string };
    throw new Error(`cannot set real-time scheduling: ${e.stderr?.trim() || e.shortMessage || e.message}`);
  }
  return `SCHED_RR priority ${priority}`;
}
