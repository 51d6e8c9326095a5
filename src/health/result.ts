// What one check of one real server found, in terms an operator reads in a log line.

export type FailureReason =
  /** The server answered the connection attempt with a reset (nothing listens on the port). */
  | 'refused'
  /** No route to the server, or it did not answer ARP/ND. */
  | 'unreachable'
  /** No connection, answer or exit within the check's timeout. */
  | 'timeout'
  /** The server reset an established connection. */
  | 'reset'
  /** The answer (or a program's output) did not contain what `expect` asks for. */
  | 'expect-mismatch'
  /** HTTP status other than the expected one. */
  | 'bad-status'
  /** Not a valid HTTP/TLS answer. */
  | 'bad-response'
  /** The check program exited non-zero or was killed by a signal. */
  | 'exit-status'
  | 'error';

/** Evidence kept with a result for the log event and `tandem status`. */
export interface CheckEvidence {
  /** What the server sent (or the program printed), printable and truncated. */
  received?: string;
  status?: number;
  exitCode?: number;
  signal?: string;
}

export interface CheckPass extends CheckEvidence {
  outcome: 'pass';
  message: string;
  durationMs: number;
}

export interface CheckFailure extends CheckEvidence {
  outcome: 'fail';
  reason: FailureReason;
  message: string;
  durationMs: number;
}

/**
 * The check could not be carried out for a reason on this director (out of file
 * descriptors, ephemeral ports or memory) or was cancelled. It says nothing about the
 * real server, so it neither counts as a failure nor as a success: a director short of
 * sockets must not take every real server out of the table.
 */
export interface CheckInconclusive {
  outcome: 'inconclusive';
  reason: 'local-error' | 'cancelled';
  message: string;
  durationMs: number;
}

export type CheckResult = CheckPass | CheckFailure | CheckInconclusive;

const localErrors = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EAGAIN']);

/** Maps a socket error to a result: errno codes about the server fail, local shortages are inconclusive. */
export function socketErrorResult(error: NodeJS.ErrnoException, durationMs: number, evidence: CheckEvidence = {}): CheckResult {
  const code = error.code ?? '';
  if (localErrors.has(code)) {
    return { outcome: 'inconclusive', reason: 'local-error', message: `cannot check from this director: ${error.message}`, durationMs };
  }
  const fail = (reason: FailureReason, message: string): CheckFailure => ({ outcome: 'fail', reason, message, durationMs, ...evidence });
  switch (code) {
    case 'ECONNREFUSED':
      return fail('refused', 'connection refused');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return fail('unreachable', `server unreachable (${code})`);
    case 'ECONNRESET':
    case 'EPIPE':
      return fail('reset', 'connection reset by the server');
    case 'ETIMEDOUT':
      return fail('timeout', 'connection timed out');
    default:
      return fail('error', error.message);
  }
}
