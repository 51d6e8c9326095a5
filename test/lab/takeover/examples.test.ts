// README's "Trying the pair on one machine", run as written: its shell blocks, in order,
// with `tandem` the built CLI and the namespaces prefixed ops-. Both directors run
// deploy/examples/tandem.yaml; `tandem failover` moves the role, and the role change is
// read from the daemons' journal-formatted output.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../support/director-pair.js';
import { Collector, requireRoot, run, stopChild } from '../../support/netns.js';
import { readme } from '../../support/readme.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** The `sh` blocks of README's subsection `### <title>`. */
function shellBlocks(title: string): string[] {
  const start = readme.indexOf(`\n### ${title}\n`);
  expect(start, `README.md has a "### ${title}" section`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n#', start + 1);
  return [...readme.slice(start, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

/** A journal-formatted line: `<priority>` and the JSON object. */
interface JournalLine {
  priority: number;
  event?: string;
  [field: string]: unknown;
}

function parseJournalLine(line: string): JournalLine {
  const match = /^<(\d)>(\{.*\})$/.exec(line);
  if (!match) throw new Error(`not a journal-formatted line: ${line}`);
  return { ...(JSON.parse(match[2]!) as Record<string, unknown>), priority: Number(match[1]) };
}

describe("README's pair from deploy/examples", () => {
  const [setup, start, operate, teardown] = shellBlocks('Trying the pair on one machine');
  const lab = `ops-${randomBytes(2).toString('hex')}`;
  let bin: string;
  let dir = '';
  const daemons: ChildProcess[] = [];
  const logs = { ifw01: new Collector<JournalLine>('ifw01'), ifw02: new Collector<JournalLine>('ifw02') };

  /** Runs shell text as the README's reader would, with `tandem` the built CLI. */
  const shell = (text: string) => run('bash', ['-euc', `lab=${lab} dir=${dir}\n${text}`]);

  beforeAll(async () => {
    requireRoot();
    bin = await mkdtemp(join(tmpdir(), 'ops-bin-'));
    await writeFile(join(bin, 'tandem'), `#!/bin/sh\nexec ${process.execPath} --single-threaded-gc ${cli} "$@"\n`);
    await chmod(join(bin, 'tandem'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    process.chdir(root);
  });

  afterAll(async () => {
    await Promise.all(daemons.map((daemon) => stopChild(daemon)));
    for (const netns of ['ifw01', 'ifw02', 'sw']) await run('ip', ['netns', 'del', `${lab}-${netns}`]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(bin, { recursive: true, force: true });
  });

  it('starts both directors, fails over, and logs the role change with its priority', async () => {
    expect([setup, start, operate, teardown].every(Boolean), 'four shell blocks').toBe(true);
    // the setup makes $dir with mktemp: keep it for the blocks that follow
    dir = (await shell(`${setup!.replace(/\bdir=\$\(mktemp -d\)/, `dir=$(mktemp -d "${tmpdir()}/ops-pair.XXXXXX")`)}\necho "$dir"`)).stdout
      .trim()
      .split('\n')
      .pop()!;
    expect(dir).toMatch(/ops-pair\./);

    const starts = start!.split('\n').filter((line) => line.trim());
    expect(starts).toHaveLength(2);
    for (const [i, line] of starts.entries()) {
      const node = i === 0 ? 'ifw01' : 'ifw02';
      expect(line).toContain(`$lab-${node} `);
      const daemon = spawn('bash', ['-euc', `lab=${lab} dir=${dir}\nexec ${line.replace(/\s*&\s*$/, '')}`], { stdio: 'pipe' });
      daemons.push(daemon);
      createInterface({ input: daemon.stdout }).on('line', (text) => logs[node].push(parseJournalLine(text)));
    }
    await logs.ifw01.waitFor((e) => e.event === 'role.change' && e.to === 'ACTIVE', 30_000);
    await logs.ifw02.waitFor((e) => e.event === 'role.change' && e.to === 'BACKUP', 30_000);

    const [status1, status2, failover] = operate!.split('\n').filter((line) => line.trim());
    expect((await shell(status1!)).stdout).toMatch(/^ifw01 \(cluster lic\): ACTIVE/);
    expect((await shell(status2!)).stdout).toMatch(/^ifw02 \(cluster lic\): BACKUP/);
    expect((await shell(failover!)).stdout).toMatch(/done: the peer is ACTIVE/);

    const byFailover = (e: JournalLine) => e.event === 'role.change' && e.reason === 'operator-failover';
    const claimed = await logs.ifw02.waitFor(byFailover, 10_000);
    expect(claimed).toMatchObject({ priority: 6, from: 'BACKUP', to: 'ACTIVE', node: 'ifw02' });
    const released = await logs.ifw01.waitFor(byFailover, 10_000);
    expect(released).toMatchObject({ priority: 6, from: 'ACTIVE', to: 'BACKUP', node: 'ifw01' });
    const { stdout: held } = await run('ip', ['-n', `${lab}-ifw02`, '-o', 'addr', 'show']);
    expect(held).toContain(' 198.51.100.10/');
    expect(held).toContain(' 192.168.3.254/24');

    // the end: a graceful stop of both, then the teardown's other lines
    await Promise.all(daemons.map((daemon) => stopChild(daemon)));
    expect(logs.ifw01.items.every((e) => e.priority >= 0 && e.priority <= 7)).toBe(true);
    await shell(teardown!.replace(/^kill .*\n/m, ''));
    const { stdout: namespaces } = await run('ip', ['netns', 'list']);
    expect(namespaces).not.toContain(lab);
    dir = '';
  });
});
