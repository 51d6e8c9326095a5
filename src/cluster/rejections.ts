// Why a datagram was dropped. Every reason is counted, and logged at a limited
// rate so a flood of junk cannot flood the journal.

export const rejectReasons = [
  /** Shorter than the smallest valid datagram or longer than the largest. */
  'bad-length',
  /** Not a tandem datagram at all. */
  'bad-magic',
  /** A format version this node does not speak (a newer peer during an upgrade). */
  'unsupported-version',
  /** Signed with a key id that is not in our key file. */
  'unknown-key',
  /** The MAC does not match: forged, corrupted, or a different key with the same id. */
  'bad-mac',
  /** Authentic but the envelope cannot be parsed. */
  'malformed',
  'wrong-cluster',
  /** Not our peer (or a copy of our own datagram sent back to us). */
  'unknown-sender',
  /** Another message kind than this channel carries (judged before the MAC too). */
  'wrong-kind',
  /** Authentic, but sent on another heartbeat path than it arrived on: moved there by someone else. */
  'wrong-path',
  /**
   * Sequence number already seen, or older than the replay window. Judged before
   * the MAC too, so it also counts forgeries that copy an accepted datagram.
   */
  'replay',
  /** From an older boot of the peer than the one we know: a replay across a restart (judged before the MAC too). */
  'stale-boot',
  /** Authentic envelope, but the kind's message is invalid. */
  'bad-payload',
] as const;

export type RejectReason = (typeof rejectReasons)[number];

export type RejectCounters = Record<RejectReason, number>;

export function emptyRejectCounters(): RejectCounters {
  return Object.fromEntries(rejectReasons.map((reason) => [reason, 0])) as RejectCounters;
}

/**
 * Allows the first log line of a reason at once, then at most one per `interval`
 * per reason, reporting how many were suppressed in between.
 */
export class LogRateLimiter<K extends string> {
  private readonly next = new Map<K, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** undefined: stay quiet; otherwise log now, mentioning `suppressed` earlier ones. */
  admit(key: K, now: number): { suppressed: number } | undefined {
    const entry = this.next.get(key);
    if (entry && now < entry.at) {
      entry.suppressed += 1;
      return undefined;
    }
    this.next.set(key, { at: now + this.intervalMs, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }
}
