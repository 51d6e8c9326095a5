// Kernel parameters under /proc/sys, named by path segments rather than the dotted
// form, because link names may contain dots (`eth0.100`). Per network namespace for
// everything under net/.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const sysctlPath = (segments: string[]) => join('/proc/sys', ...segments);

export async function readSysctl(segments: string[]): Promise<string> {
  return (await readFile(sysctlPath(segments), 'utf8')).trim();
}

export async function writeSysctl(segments: string[], value: string): Promise<void> {
  await writeFile(sysctlPath(segments), `${value}\n`);
}
