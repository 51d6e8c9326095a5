// One compiled check of one real server and the dispatcher that runs it. Compiling
// (model → Check) happens once per configuration load; running happens every interval.
import type { IpAddress, IpFamily, Milliseconds } from '../config/model.js';
import type { Expectation } from '../lib/expectation.js';
import { checkHttp } from './http.js';
import { checkProgram } from './program.js';
import type { CheckResult } from './result.js';
import { checkDatagram, checkStream } from './socket.js';

export interface CheckTarget {
  address: IpAddress;
  family: IpFamily;
  port: number;
}

export type Probe =
  /** TCP connect; with `send` and/or `expect`, Piranha's send/expect exchange. */
  | { kind: 'stream'; send?: string; expect?: Expectation }
  /** The same for a UDP service: a datagram out, a reply (or an ICMP unreachable) back. */
  | { kind: 'datagram'; send?: string; expect?: Expectation }
  | { kind: 'http'; path: string; host?: string; status: number; body?: Expectation; tls: boolean }
  /** `command` has `%h`/`%p` already replaced; run by /bin/sh. */
  | { kind: 'program'; command: string; expect?: Expectation };

export interface Check {
  target: CheckTarget;
  probe: Probe;
  timeout: Milliseconds;
}

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
