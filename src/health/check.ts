// One compiled check of one real server, what every kind of check shares. Compiling
// (model → Check) happens once per configuration load; running (run-check.ts) every interval.
import type { IpAddress, IpFamily, Milliseconds, StatusRange } from '../config/model.js';
import type { Expectation } from '../lib/expectation.js';

/** Bytes of an answer searched for the expectation; a server that streams more without a match fails. */
export const MAX_RECEIVED_BYTES = 64 * 1024;

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
  | {
      kind: 'http';
      path: string;
      host?: string;
      status: number;
      /** Accepted ranges; when absent, exactly `status`. */
      statusCodes?: StatusRange[];
      body?: Expectation;
      /** MD5 of the whole body, lower-case hex. */
      digest?: string;
      tls: boolean;
    }
  /** `command` has `%h`/`%p` already replaced; run by /bin/sh. */
  | { kind: 'program'; command: string; expect?: Expectation };

export interface Check {
  target: CheckTarget;
  probe: Probe;
  timeout: Milliseconds;
}
