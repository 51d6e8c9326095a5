// An internal error in `tandem run`: the daemon releases what it holds before it exits,
// so the peer taking over does not find the addresses still here. What it releases is
// the configuration it runs, not a file a reload refused. The crash comes from outside:
// a module node preloads (NODE_OPTIONS) turns SIGUSR2 into an uncaught exception.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import { natGateway, TakeoverLab, vip } from '../../support/takeover-lab.js';

const movedVip = '192.0.2.101';

describe('a crash (keepalive 50ms, deadtime 200ms)', () => {
  let lab: TakeoverLab | undefined;

  afterEach(async () => {
    await lab?.destroy();
  });

  it('after a refused reload releases the addresses the daemon runs with, not those of the refused file', async () => {
    requireRoot();
    lab = await TakeoverLab.create({ keepalive: '50ms', deadtime: '200ms' });
    const crashOnSignal = join(lab.pair.dir, 'crash-on-sigusr2.mjs');
    await writeFile(crashOnSignal, `process.on('SIGUSR2', () => { throw new Error('crash test'); });\n`);
    await lab.pair.startBoth({ prefix: ['env', `NODE_OPTIONS=--import=${crashOnSignal}`] });
    const [active, backup] = await lab.settled();

    // a new heartbeat port needs a restart: the reload is refused, the VIP stays where it is
    const original = await readFile(active.config, 'utf8');
    await writeFile(active.config, original.replace('port: 539', 'port: 540').replaceAll(vip, movedVip));
    const reload = await lab.pair.tandem(active, ['reload', '--json']);
    expect(JSON.parse(reload.stdout)).toMatchObject({ ok: false, code: 'restart-needed' });

    const child = active.process!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const crashedAt = Date.now();
    child.kill('SIGUSR2');
    expect(await exited).toBe(1);
    expect(active.logs.items.find((e) => e.event === 'daemon.crash')).toMatchObject({ msg: 'internal error: crash test' });
    expect(active.logs.items.find((e) => e.event === 'daemon.crash-release')).toMatchObject({
      removed: [`${vip}/24 eth0`, `${natGateway}/24 eth1`],
      failed: [],
    });
    expect(await lab.managed(active)).toEqual([]);
    await lab.pair.roleChange(backup, 'ACTIVE', crashedAt - 1);
  });
});
