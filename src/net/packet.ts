// The one thing Node cannot do itself: put a raw Ethernet frame on a link. A small
// N-API addon (native/packet.c, built by `npm run build`) opens a send-only AF_PACKET
// socket; the README's "Gratuitous ARP" section has the measurements behind this
// choice over running arping. Failures come back as Errors with an errno `code`.
import { createRequire } from 'node:module';

/** Sends a complete Ethernet frame out of the link with index `ifindex`; throws on failure. */
export interface FrameSender {
  send(ifindex: number, frame: Buffer): void;
}

interface PacketAddon {
  open(): number;
  send(fd: number, ifindex: number, frame: Buffer): void;
  close(fd: number): void;
  peerCredentials(fd: number): PeerCredentials;
}

/** Who connected a unix socket, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

const ADDON_PATH = '../../native/build/Release/tandem_packet.node';

let addon: PacketAddon | undefined;

function loadAddon(): PacketAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as PacketAddon;
    return addon;
  } catch (error) {
    throw new Error(`the packet addon (native/packet.c) is not built: run \`npm run build\` (needs g++, make and python3)`, {
      cause: error,
    });
  }
}

/**
 * A send-only packet socket in the network namespace of this process. Opening needs
 * CAP_NET_RAW. Sending never blocks: a full device queue is an EAGAIN error.
 */
export class PacketSocket implements FrameSender {
  private fd: number | undefined;
  private readonly native: PacketAddon;

  constructor() {
    this.native = loadAddon();
    this.fd = this.native.open();
  }

  send(ifindex: number, frame: Buffer): void {
    if (this.fd === undefined) throw new Error('packet socket is closed');
    this.native.send(this.fd, ifindex, frame);
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.native.close(fd);
  }
}

/** SO_PEERCRED of a connected unix socket's descriptor; throws with an errno `code` on failure. */
export function peerCredentials(fd: number): PeerCredentials {
  return loadAddon().peerCredentials(fd);
}
