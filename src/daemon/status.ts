// Role changes as the control socket and the log show them.
import type { Transition } from '../cluster/index.js';
import type { TransitionRecord } from '../control/index.js';

/** Monotonic ms (performance.now()) as a wall-clock time. */
export const wallClock = (monotonic: number): Date => new Date(performance.timeOrigin + monotonic);

export function transitionRecord(transition: Transition, at: Date): TransitionRecord {
  const { from, to, reason, term, peer, timings } = transition;
  return {
    at: at.toISOString(),
    from,
    to,
    reason,
    term,
    ...(peer && { peer: peer.name }),
    ...(peer?.role && { peerRole: peer.role }),
    ...(peer?.term !== undefined && { peerTerm: peer.term }),
    inPreviousRoleMs: timings.inPreviousRoleMs,
    ...(timings.peerSilentMs !== undefined && { peerSilentMs: timings.peerSilentMs }),
  };
}
