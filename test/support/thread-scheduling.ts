// How a thread is scheduled, read from its stat: the tests that check where the daemon
// ranks its helper threads (a loader's, under --realtime) read it here.
import { readFileSync } from 'node:fs';

/** A thread's policy and priority: `rr P` for SCHED_RR, else `nice N` (fields 41, 40 and 19 of
 *  its stat); `ended` once it is gone. `pid`: the process it belongs to (default this one). */
export function threadScheduling(tid: string, pid: number | 'self' = 'self'): string {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[38] === '2' ? `rr ${fields[37]}` : `nice ${fields[16]}`;
  } catch {
    return 'ended';
  }
}
