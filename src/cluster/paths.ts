// Which addresses the heartbeat and sync channels use between the two nodes.
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

/** The connection-sync path: the private addresses when both nodes have one (a dedicated link), else the public ones. */
export function syncPath(self: PathEnd, peer: PathEnd): ChannelPath {
  return self.privateAddress && peer.privateAddress
    ? { local: self.privateAddress, remote: peer.privateAddress }
    : { local: self.address, remote: peer.address };
}
