import { performance } from 'node:perf_hooks';
import type { CheckResult } from './result.js';

/** One check in progress: settles exactly once, by its own outcome, its deadline or cancellation. */
export interface Attempt {
  elapsed(): number;
  settle(result: CheckResult): void;
  /** Runs when the attempt settles, whichever way (close sockets, kill processes). */
  onSettle(release: () => void): void;
  readonly settled: boolean;
}

/**
 * Runs `body` under a deadline of `timeoutMs` and an optional cancellation signal. When
 * the deadline passes first, the result is `onTimeout(elapsed)`. The returned promise
 * never rejects: whatever `body` throws synchronously becomes an `error` failure.
 */
export function runAttempt(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  onTimeout: (elapsedMs: number) => CheckResult,
  body: (attempt: Attempt) => void,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const releases: Array<() => void> = [];
    let settled = false;
    const elapsed = () => Math.round(performance.now() - startedAt);
    const onAbort = () => settle({ outcome: 'inconclusive', reason: 'cancelled', message: 'check cancelled', durationMs: elapsed() });
    const timer = setTimeout(() => settle(onTimeout(elapsed())), timeoutMs);
    function settle(result: CheckResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      for (const release of releases) release();
      resolve(result);
    }
    const attempt: Attempt = {
      elapsed,
      settle,
      onSettle: (release) => (settled ? release() : releases.push(release)),
      get settled() {
        return settled;
      },
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      body(attempt);
    } catch (error) {
      settle({ outcome: 'fail', reason: 'error', message: (error as Error).message, durationMs: elapsed() });
    }
  });
}
