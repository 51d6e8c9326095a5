// Runs a compiled check with the checker of its kind.
import type { Check } from './check.js';
import { checkHttp } from './http.js';
import { checkProgram } from './program.js';
import type { CheckResult } from './result.js';
import { checkDatagram, checkStream } from './socket.js';

/** Runs one check to its result; never rejects. Aborting `signal` ends it at once (sockets closed, program killed). */
export function runCheck(check: Check, signal?: AbortSignal): Promise<CheckResult> {
  const { target, probe, timeout } = check;
  switch (probe.kind) {
    case 'stream':
      return checkStream(target, probe, timeout, signal);
    case 'datagram':
      return checkDatagram(target, probe, timeout, signal);
    case 'http':
      return checkHttp(target, probe, timeout, signal);
    case 'program':
      return checkProgram(probe, timeout, signal);
  }
}
