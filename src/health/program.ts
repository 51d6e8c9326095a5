// Piranha's send_program: an external program decides. Without `expect` its exit status
// does (0 = up, keepalived's MISC_CHECK); with `expect` its output is matched and the exit
// status is not looked at (Piranha's convention: the documented check scripts print "OK"
// or "FAIL" and exit 0 either way).
import type { execa } from 'execa';
import { signalProcessGroup } from '../process-group.js';
import { runAttempt } from './attempt.js';
import { MAX_RECEIVED_BYTES, type Probe } from './check.js';
import { printable } from '../lib/printable.js';
import { socketErrorResult, type CheckResult } from './result.js';

type ProgramProbe = Extract<Probe, { kind: 'program' }>;

/** Loaded with the first program check: a daemon without one never carries execa's hundred-odd modules. */
let execaLoaded: Promise<typeof execa> | undefined;
const loadExeca = (): Promise<typeof execa> => (execaLoaded ??= import('execa').then((module) => module.execa));

export function checkProgram(probe: ProgramProbe, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
  const onTimeout = (durationMs: number): CheckResult => ({
    outcome: 'fail',
    reason: 'timeout',
    message: `program did not finish within ${timeoutMs} ms and was killed`,
    durationMs,
  });
  // the deadline starts once execa is loaded: its first load is not the program's time
  return loadExeca().then((execa) =>
    runAttempt(timeoutMs, signal, onTimeout, (attempt) => {
      // Its own process group, so a timeout kills the shell and everything it started
      // (a pipeline, a hung `nc`), not only the shell.
      const subprocess = execa(probe.command, {
        shell: true,
        detached: true,
        stdin: 'ignore',
        all: true,
        reject: false,
        maxBuffer: MAX_RECEIVED_BYTES,
      });
      let exited = false;
      subprocess.once('exit', () => (exited = true));
      attempt.onSettle(() => {
        if (!exited) signalProcessGroup(subprocess.pid, 'SIGKILL');
      });
      void subprocess.then((result) => {
        const durationMs = attempt.elapsed();
        const output = typeof result.all === 'string' ? result.all : '';
        const evidence = { received: printable(output), ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }) };
        if (result.code && result.exitCode === undefined && result.signal === undefined) {
          attempt.settle(socketErrorResult(Object.assign(new Error(result.shortMessage), { code: result.code }), durationMs));
          return;
        }
        if (result.isMaxBuffer && !probe.expect?.matches(output)) {
          const message = `program printed more than ${MAX_RECEIVED_BYTES} characters and was stopped`;
          attempt.settle({
            outcome: 'fail',
            reason: probe.expect ? 'expect-mismatch' : 'exit-status',
            message,
            durationMs,
            ...evidence,
          });
          return;
        }
        if (result.signal && !result.isMaxBuffer) {
          attempt.settle({
            outcome: 'fail',
            reason: 'exit-status',
            message: `program killed by ${result.signal}`,
            durationMs,
            signal: result.signal,
            ...evidence,
          });
          return;
        }
        if (probe.expect) {
          attempt.settle(
            probe.expect.matches(output)
              ? { outcome: 'pass', message: `program printed ${probe.expect.description}`, durationMs, ...evidence }
              : {
                  outcome: 'fail',
                  reason: 'expect-mismatch',
                  message: `program output lacks ${probe.expect.description}`,
                  durationMs,
                  ...evidence,
                },
          );
          return;
        }
        attempt.settle(
          result.exitCode === 0
            ? { outcome: 'pass', message: 'program exited 0', durationMs, ...evidence }
            : { outcome: 'fail', reason: 'exit-status', message: `program exited ${result.exitCode}`, durationMs, ...evidence },
        );
      });
    }),
  );
}
