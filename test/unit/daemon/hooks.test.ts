import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HooksSpec } from '../../../src/config/model.js';
import {
  enqueue,
  finish,
  hookEnvironment,
  HookRunner,
  runHookProcess,
  hooksFor,
  type HookJob,
  type HookResult,
  type RoleTransition,
} from '../../../src/daemon/hooks.js';
import { createStats } from '../../../src/lib/stats.js';
import { captureLogger } from '../../support/capture-log.js';

const spec: HooksSpec = { activeCmd: '/etc/tandem/up', inactiveCmd: '/etc/tandem/down', notify: '/etc/tandem/notify', timeout: 1000 };
const transition = (from: string, to: string, reason = 'peer-dead'): RoleTransition => ({
  from,
  to,
  reason,
  term: 7,
  peer: 'ifw02',
  addresses: ['192.0.2.100/24', '2001:db8::100/64'],
  at: Date.UTC(2025, 0, 1),
});
const job = (transition: number, kind: HookJob['kind'] = 'notify'): HookJob => ({ transition, kind, command: 'true', env: {} });

describe('hooksFor', () => {
  it('runs active_cmd on becoming active, inactive_cmd on leaving it, notify always', () => {
    expect(hooksFor(transition('backup', 'active'), spec).map((h) => h.kind)).toEqual(['active', 'notify']);
    expect(hooksFor(transition('ACTIVE', 'FAULT', 'link-down'), spec).map((h) => h.kind)).toEqual(['inactive', 'notify']);
    expect(hooksFor(transition('init', 'backup'), spec).map((h) => h.kind)).toEqual(['notify']);
    expect(hooksFor(transition('backup', 'active'), { timeout: 1000 })).toEqual([]);
  });
});

describe('hookEnvironment', () => {
  it('tells the hook what happened', () => {
    expect(hookEnvironment('active', transition('BACKUP', 'ACTIVE'), 3, { cluster: 'lvs', node: 'ifw01' })).toEqual({
      TANDEM_HOOK: 'active',
      TANDEM_ROLE: 'active',
      TANDEM_PREVIOUS_ROLE: 'backup',
      TANDEM_REASON: 'peer-dead',
      TANDEM_ADDRESSES: '192.0.2.100/24 2001:db8::100/64',
      TANDEM_CLUSTER: 'lvs',
      TANDEM_NODE: 'ifw01',
      TANDEM_PEER: 'ifw02',
      TANDEM_TERM: '7',
      TANDEM_TRANSITION: '3',
      TANDEM_TIME: '2025-01-01T00:00:00.000Z',
    });
  });
});

describe('hook queue', () => {
  it('starts a job at once when idle and holds the rest', () => {
    const first = enqueue({ waiting: [] }, [job(1, 'active'), job(1)]);
    expect(first.start).toEqual(job(1, 'active'));
    const second = enqueue(first.queue, [job(2)]);
    expect(second.start).toBeUndefined();
    expect(second.queue.waiting.map((j) => j.transition)).toEqual([1, 2]);
    const third = finish(second.queue);
    expect(third.start).toEqual(job(1));
    expect(finish(finish(third.queue).queue)).toEqual({ queue: { waiting: [] } });
  });

  it('runs every job exactly once, one at a time, in the order queued', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 3 }).map((n) => ({ add: n })),
            fc.constant({ add: -1 }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          let queue = { waiting: [] as HookJob[] } as ReturnType<typeof finish>['queue'];
          const started: number[] = [];
          let next = 0;
          let running = 0;
          for (const op of ops) {
            const step =
              op.add >= 0
                ? enqueue(
                    queue,
                    Array.from({ length: op.add }, () => job(next++)),
                  )
                : queue.running
                  ? finish(queue)
                  : { queue };
            if (op.add < 0 && queue.running) running--;
            queue = step.queue;
            if (step.start) {
              started.push(step.start.transition);
              running++;
            }
            expect(running).toBeLessThanOrEqual(1);
            expect(Boolean(queue.running)).toBe(running === 1);
          }
          while (queue.running) {
            const step = finish(queue);
            queue = step.queue;
            if (step.start) started.push(step.start.transition);
          }
          expect(started).toEqual(Array.from({ length: next }, (_, i) => i));
        },
      ),
    );
  });
});

describe('HookRunner', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the hooks of a burst of transitions in order, never two at once, whatever they take', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('active', 'backup', 'fault', 'standby'), fc.integer({ min: 0, max: 3000 })), {
          minLength: 1,
          maxLength: 20,
        }),
        async (steps) => {
          const ran: string[] = [];
          let concurrent = 0;
          const durations = steps.map(([, ms]) => ms);
          const execute = async (j: HookJob): Promise<HookResult> => {
            concurrent++;
            expect(concurrent).toBe(1);
            await new Promise((resolve) => setTimeout(resolve, durations[Number(j.env.TANDEM_TRANSITION) - 1]));
            ran.push(`${j.env.TANDEM_TRANSITION}:${j.kind}`);
            concurrent--;
            return { exitCode: 0, timedOut: false, durationMs: 0, stdout: '', stderr: '' };
          };
          const runner = new HookRunner({ spec, identity: { cluster: 'lvs', node: 'ifw01' }, logger: captureLogger().logger, execute });
          let role = 'backup';
          const expected: string[] = [];
          steps.forEach(([to], i) => {
            const t = transition(role, to);
            expected.push(...hooksFor(t, spec).map((h) => `${i + 1}:${h.kind}`));
            runner.transition(t);
            role = to;
          });
          const idle = runner.idle();
          await vi.runAllTimersAsync();
          await idle;
          expect(ran).toEqual(expected);
          expect(runner.pending).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('logs exit status and duration, and goes on after a hook that throws', async () => {
    const { logger, records } = captureLogger();
    const results: Array<HookResult | Error> = [
      new Error('spawn /bin/sh ENOENT'),
      { exitCode: 3, timedOut: false, durationMs: 12, stdout: '', stderr: 'boom' },
      { signal: 'SIGTERM', timedOut: true, durationMs: 1000, stdout: '', stderr: '' },
      { exitCode: 0, timedOut: false, durationMs: 5, stdout: 'ok', stderr: '' },
    ];
    const execute = () => {
      const result = results.shift()!;
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    };
    const { hooks } = createStats();
    const runner = new HookRunner({ spec, identity: { cluster: 'lvs', node: 'ifw01' }, logger, execute, stats: hooks });
    runner.transition(transition('backup', 'active'));
    runner.transition(transition('active', 'backup'));
    await runner.idle();
    const exits = records.filter((r) => r.event === 'hook.exit');
    expect(exits.map((r) => [r.hook, r.transition, r.level, r.msg])).toEqual([
      ['active', 1, 40, 'active hook could not run: spawn /bin/sh ENOENT'],
      ['notify', 1, 40, 'notify hook exited with 3'],
      ['inactive', 2, 40, 'inactive hook timed out after 1000 ms'],
      ['notify', 2, 30, 'notify hook exited with 0'],
    ]);
    expect(exits[1]).toMatchObject({ exitCode: 3, durationMs: 12, stderr: 'boom' });
    expect([hooks.run.sum(), hooks.failed.sum(), hooks.timedOut.sum()]).toEqual([4, 3, 1]);
    expect(hooks.failed.value({ hook: 'notify' })).toBe(1);
  });
});

describe('runHookProcess', () => {
  const job = (command: string): HookJob => ({ transition: 1, kind: 'notify', command, env: { TANDEM_ROLE: 'active' } });

  it('runs the command with /bin/sh in the daemon environment plus the hook variables', async () => {
    process.env.TANDEM_TEST_INHERITED = 'kept';
    try {
      const result = await runHookProcess(job('echo "$TANDEM_ROLE $TANDEM_TEST_INHERITED"; echo oops >&2; exit 3'), 5000);
      expect(result).toMatchObject({ exitCode: 3, timedOut: false, stdout: 'active kept', stderr: 'oops' });
    } finally {
      delete process.env.TANDEM_TEST_INHERITED;
    }
  });

  it('ends the whole process group on timeout', async () => {
    const result = await runHookProcess(job('sleep 30 & wait'), 100);
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    expect(result.durationMs).toBeLessThan(5000);
  });
});
