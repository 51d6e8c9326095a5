// `tandem cleanup` after a hard kill: the killed director still holds the VIP and
// the NAT gateway while its peer has taken them over; cleanup takes them off it,
// does nothing after a clean stop (--after-stop), and leaves a running daemon alone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireRoot } from '../../support/netns.js';
import { cli } from '../../support/director-pair.js';
import { TakeoverLab } from '../../support/takeover-lab.js';

describe('tandem cleanup (keepalive 50ms, deadtime 200ms)', () => {
  let current: TakeoverLab | undefined;

  beforeEach(async () => {
    requireRoot();
    current = await TakeoverLab.create({ keepalive: '50ms', deadtime: '200ms' });
    await current.pair.startBoth();
  });

  afterEach(async () => {
    await current?.pair.destroy();
  });

  it('removes what a killed daemon left, only when it did not stop cleanly, never under a running daemon', async () => {
    const lab = current!;
    const [active, backup] = await lab.settled();
    const killedAt = await lab.pair.kill(active);
    await lab.pair.roleChange(backup, 'ACTIVE', killedAt - 1);
    expect(await lab.managed(active)).toHaveLength(2);
    const cleanup = (socket: string, env: string[] = [], args: string[] = []) =>
      lab.pair.lab.exec(active.host, 'env', [
        ...env,
        process.execPath,
        cli,
        'cleanup',
        '--config',
        active.config,
        '--socket',
        socket,
        ...args,
      ]);

    await cleanup(active.socket, ['SERVICE_RESULT=success', 'EXIT_CODE=exited', 'EXIT_STATUS=0'], ['--after-stop']);
    expect(await lab.managed(active)).toHaveLength(2);

    await expect(cleanup(backup.socket)).rejects.toThrow(/a daemon is running/);
    expect(await lab.managed(active)).toHaveLength(2);

    await cleanup(active.socket, ['SERVICE_RESULT=signal', 'EXIT_CODE=killed', 'EXIT_STATUS=KILL'], ['--after-stop']);
    expect(await lab.managed(active)).toEqual([]);
    expect(await lab.managed(backup)).toHaveLength(2);
  });
});
