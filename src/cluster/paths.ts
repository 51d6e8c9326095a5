// Which addresses the heartbeat channel uses between the two nodes.
import type { ChannelPath } from './channel.js';

/** A node as the heartbeat paths see it. */
export interface PathEnd {
  name: string;
  address: string;
  privateAddress?: string | undefined;
}

/** The heartbeat paths: the public addresses, and the private ones when both nodes have one. */
export function heartbeatPaths(self: PathEnd, peer: PathEnd): { paths: ChannelPath[]; warning?: string } {
  const paths: ChannelPath[] = [{ local: self.address, remote: peer.address }];
  if (self.privateAddress && peer.privateAddress) {
    paths.push({ local: self.privateAddress, remote: peer.privateAddress });
    return { paths };
  }
  const lonely = self.privateAddress ? self.name : peer.privateAddress ? peer.name : undefined;
  return lonely ? { paths, warning: `only ${lonely} has a private address: the private heartbeat path is not used` } : { paths };
}
