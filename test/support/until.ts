// Waiting for a condition of the real world (a daemon's role, an address on a link) by
// polling it, for the tests that drive real daemons.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it yields something other than undefined or false, and resolves
 * with that. On timeout it throws, naming `what`, the probe's last error and what
 * `explain` adds (e.g. the daemons' recent log).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs: number,
  explain?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const context = explain ? `\n${await explain()}` : '';
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}${context}`);
    }
    await sleep(200);
  }
}
