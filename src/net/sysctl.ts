// Kernel parameters under /proc/sys, named by path segments rather than the dotted
// form, because link names may contain dots (`eth0.100`). Per network namespace for
// everything under net/.
//
// Read and written synchronously: procfs is kernel memory, a read takes microseconds,
// while the thread pool's open/read/close round trips of fs/promises took 2–12 ms on
// a loaded machine — on the critical path of a claim (the forwarding check).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sysctlPath = (segments: string[]) => join('/proc/sys', ...segments);

export function readSysctl(segments: string[]): string {
  return readFileSync(sysctlPath(segments), 'utf8').trim();
}

export function writeSysctl(segments: string[], value: string): void {
  writeFileSync(sysctlPath(segments), `${value}\n`);
}
