/**
 * Signals a whole process group (a child started with `detached: true` leads its own),
 * so a timed-out hook or check program goes together with everything it started.
 */
export function signalProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
