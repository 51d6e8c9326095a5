// The host side of a takeover, for the daemon's controller: addresses (claim,
// release, reconcile), announcements (gratuitous ARP / unsolicited NA), link
// monitoring and the forwarding check for NAT.
export {
  AddressManager,
  devicesHolding,
  planAddresses,
  type AddressFailure,
  type AddressManagerOptions,
  type AddressPlan,
  type DesiredAddresses,
  type HostView,
  type OnPresent,
  type PlacedAddress,
  type ReconcileReport,
  type RemovedAddress,
} from './addresses.js';
export { Announcer, type AnnounceTarget, type AnnouncerOptions } from './garp.js';
export { LinkMonitor, type LinkCondition, type LinkEvent, type LinkState } from './links.js';
export { checkForwarding, forwardingSettings, ForwardingError, type ForwardingSetting } from './forwarding.js';
export { PacketSocket, peerCredentials, type FrameSender, type PeerCredentials } from './packet.js';
export { NeighbourRefresher, type NeighbourTarget, type UnresolvedState } from './neighbours.js';
export { openRtnetlink } from './rtnl.js';
export { readSysctl, writeSysctl } from './sysctl.js';
