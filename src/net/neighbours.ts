// The peer's neighbour (ARP / NDP) entry on a link that came back. Datagrams sent
// while the link had no carrier leave the entry INCOMPLETE (or FAILED), and the
// kernel asks again only every retrans_time (1 s by default), link up or not: the
// peer would not hear us for up to that long (chaos fault 421). Dropping such an
// entry makes the next datagram ask at once; a resolved entry is left alone.
import { familyOf, ipBytes } from '../lib/address.js';
import { AF_INET, AF_INET6, netlinkErrorCode, openRtnetlink, type RtNetlinkSocket } from './rtnl.js';

export interface NeighbourTarget {
  /** The link's index and name. */
  ifindex: number;
  device: string;
  address: string;
}

/** The state of the entry that was dropped. */
export type UnresolvedState = 'incomplete' | 'failed';

export class NeighbourRefresher {
  constructor(private readonly netlink: RtNetlinkSocket = openRtnetlink()) {}

  /** Drops the entry if it is unresolved; resolves with its state then, undefined when there was nothing to drop. */
  async dropUnresolved({ ifindex, address }: NeighbourTarget): Promise<UnresolvedState | undefined> {
    const key = { family: familyOf(address) === 4 ? AF_INET : AF_INET6, ifindex };
    const attrs = { dst: ipBytes(address) };
    const entries = await this.netlink.getNeighbor(key, attrs).catch((error: unknown) => {
      if (netlinkErrorCode(error) === 'ENOENT') return [];
      throw error;
    });
    const state = entries[0]?.data.state;
    const unresolved = state?.incomplete ? 'incomplete' : state?.failed ? 'failed' : undefined;
    if (unresolved) await this.netlink.delNeighbor(key, attrs);
    return unresolved;
  }

  close(): void {
    this.netlink.socket.close();
  }
}
