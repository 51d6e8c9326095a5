// Hooks as real processes: strict transition order under a burst while a hook sleeps,
// the event loop never held up, timeouts ending the hook's whole process group.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HooksSpec } from '../../../src/config/model.js';
import { HookRunner, hooksFor, type RoleTransition } from '../../../src/daemon/hooks.js';
import { captureLogger } from '../../support/capture-log.js';

const ROLES = ['active', 'backup', 'fault', 'backup', 'active', 'standby'];
const KEEPALIVE = 50;
/** A heartbeat later than this is logged as late (warntime = 2 × keepalive). */
const WARNTIME = 2 * KEEPALIVE;

/** Running, as opposed to gone or a zombie waiting for its new parent to reap it. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

describe('hooks (real processes)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-hooks-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('runs the hooks of 20 transitions in order while the first sleeps 5 s, without delaying a heartbeat', async () => {
    const log = join(dir, 'order');
    const record = `echo "$TANDEM_TRANSITION $TANDEM_HOOK $TANDEM_PREVIOUS_ROLE>$TANDEM_ROLE $TANDEM_REASON [$TANDEM_ADDRESSES]" >> ${log}`;
    const spec: HooksSpec = {
      activeCmd: `[ "$TANDEM_TRANSITION" = 1 ] && sleep 5; ${record}`,
      inactiveCmd: record,
      notify: record,
      timeout: 10_000,
    };
    const { logger, records } = captureLogger();
    const runner = new HookRunner({ spec, identity: { cluster: 'lab', node: 'ifw01' }, logger });

    // a stand-in heartbeat: how late does a 50 ms timer fire while hooks run?
    let lateness = 0;
    let last = performance.now();
    const heartbeat = setInterval(() => {
      const now = performance.now();
      lateness = Math.max(lateness, now - last - KEEPALIVE);
      last = now;
    }, KEEPALIVE);

    const expected: string[] = [];
    let role = 'backup';
    const queuedAt = performance.now();
    for (let i = 0; i < 20; i++) {
      const to = ROLES[i % ROLES.length]!;
      const transition: RoleTransition = { from: role, to, reason: `step-${i + 1}`, addresses: ['192.0.2.100/24'], at: Date.now() };
      runner.transition(transition);
      expected.push(...hooksFor(transition, spec).map((h) => `${i + 1} ${h.kind} ${role}>${to} step-${i + 1} [192.0.2.100/24]`));
      role = to;
    }
    const queueing = performance.now() - queuedAt;
    await runner.idle();
    clearInterval(heartbeat);

    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(expected);
    expect(queueing).toBeLessThan(KEEPALIVE);
    expect(lateness).toBeLessThan(WARNTIME);
    const exits = records.filter((r) => r.event === 'hook.exit');
    expect(exits).toHaveLength(expected.length);
    expect(exits[0]).toMatchObject({ hook: 'active', transition: 1, exitCode: 0, timedOut: false });
    expect(exits[0]!.durationMs as number).toBeGreaterThanOrEqual(5000);
  });

  it('ends a hook that overruns its timeout, with everything it started, and goes on', async () => {
    const pidFile = join(dir, 'pid');
    const after = join(dir, 'after');
    const spec: HooksSpec = {
      activeCmd: `sleep 30 & echo $! > ${pidFile}; wait`,
      notify: `echo "$TANDEM_HOOK ran" > ${after}`,
      timeout: 300,
    };
    const { logger, records } = captureLogger();
    const runner = new HookRunner({ spec, identity: { cluster: 'lab', node: 'ifw01' }, logger });
    runner.transition({ from: 'backup', to: 'active', reason: 'peer-dead', addresses: [], at: Date.now() });
    await runner.idle();
    const exit = records.find((r) => r.event === 'hook.exit' && r.hook === 'active');
    expect(exit).toMatchObject({ timedOut: true, level: 40, msg: 'active hook timed out after 300 ms' });
    expect(exit!.durationMs as number).toBeLessThan(300 + 2000);
    expect(await alive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
    expect(await readFile(after, 'utf8')).toBe('notify ran\n');
  });

  it('is done when the hook exits, even if something it started keeps its output open', async () => {
    const pidFile = join(dir, 'pid');
    const spec: HooksSpec = { notify: `sleep 5 & echo $! > ${pidFile}; echo started`, timeout: 10_000 };
    const { logger, records } = captureLogger();
    const runner = new HookRunner({ spec, identity: { cluster: 'lab', node: 'ifw01' }, logger });
    runner.transition({ from: 'init', to: 'backup', reason: 'start', addresses: [], at: Date.now() });
    await runner.idle();
    const pid = Number(await readFile(pidFile, 'utf8'));
    try {
      expect(records.find((r) => r.event === 'hook.exit')).toMatchObject({ exitCode: 0, timedOut: false, stdout: 'started' });
      expect(await alive(pid)).toBe(true); // not a timeout: what the hook started on purpose stays
    } finally {
      process.kill(pid, 'SIGTERM');
    }
  });
});
