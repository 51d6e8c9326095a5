// `npm run demo` as an operator runs it (bootstrap and build included): it shows
// what it promises, and leaves no namespace, link or process behind — also when
// interrupted with Ctrl-C.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireRoot, run } from '../../support/netns.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  lab: string;
}

/** Runs the demo in a process group of its own; `interruptWhen` sends that group SIGINT, as Ctrl-C does. */
function demo(interruptWhen?: RegExp): Promise<DemoRun> {
  const id = randomBytes(3).toString('hex');
  const child = spawn('npm', ['run', 'demo'], {
    cwd: root,
    env: { ...process.env, TANDEM_DEMO_ID: id },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let interrupted = false;
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (interruptWhen && !interrupted && interruptWhen.test(output)) {
      interrupted = true;
      process.kill(-child.pid!, 'SIGINT');
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, output, lab: `tdemo${id}` })));
}

async function rootLinks(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return stdout.split('\n').flatMap((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? []);
}

/** Processes whose command line names this run's lab or files. */
async function leftovers(markers: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (markers.some((m) => cmdline.includes(m))) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

async function expectNothingLeft(result: DemoRun, linksBefore: string[]): Promise<void> {
  const work = /files in (\/tmp\/tandem-demo\.\w+)/.exec(result.output)?.[1];
  expect(work, result.output).toBeDefined();
  const { stdout: namespaces } = await run('ip', ['netns', 'list']);
  expect(namespaces.split('\n').filter((line) => line.startsWith(result.lab))).toEqual([]);
  expect((await rootLinks()).filter((link) => !linksBefore.includes(link))).toEqual([]);
  expect(await leftovers([work!, result.lab])).toEqual([]);
  expect(existsSync(work!)).toBe(false);
}

describe('npm run demo', () => {
  it('shows status, a manual failover and a hard kill moving the VIP, then removes everything', async () => {
    requireRoot();
    const linksBefore = await rootLinks();
    const result = await demo();
    expect(result.code, result.output).toBe(0);
    const { output } = result;
    expect(output).toMatch(/ifw01 \(cluster demo\): ACTIVE, term 1/);
    expect(output).toContain('192.0.2.10/24 on eth0 as eth0:1 (vip echo)');
    expect(output).toMatch(/failover: done: the peer is ACTIVE after \d+ ms/);
    expect(output).toMatch(/ifw02 +\[[\d:.]+\] INFO: role\.change BACKUP -> ACTIVE reason=operator-failover/);
    expect(output).toContain("xcl01's neighbour entry: 192.0.2.10 is at 02:00:00:00:02:01 (ifw02)");
    expect(output).toMatch(/ifw01 +\[[\d:.]+\] INFO: role\.change BACKUP -> ACTIVE reason=peer-dead/);
    expect(output.slice(output.indexOf('hard kill'))).toContain("xcl01's neighbour entry: 192.0.2.10 is at 02:00:00:00:01:01 (ifw01)");
    expect(output).toMatch(/ifw02 +\[[\d:.]+\] WARN: removed 2 address\(es\) an earlier run left behind/);
    expect(output).toContain('done: no namespace, link or process of the demo is left.');
    await expectNothingLeft(result, linksBefore);
  }, 600_000);

  it('Ctrl-C in the middle tears the lab down too', async () => {
    requireRoot();
    const linksBefore = await rootLinks();
    const result = await demo(/== manual failover/);
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toContain('cleaned up');
    await expectNothingLeft(result, linksBefore);
  }, 600_000);
});
