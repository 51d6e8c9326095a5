// The netlink addon (native/netlink.c, built by `npm run build`): a netlink socket driven
// synchronously, which the IPVS driver's channel uses. Failures come back as Errors with
// an errno `code`.
import { createRequire } from 'node:module';

export interface NetlinkAddon {
  open(protocol: number): number;
  port(fd: number): number;
  /** Sends `request` (unless null), then reads the replies already queued into `replies`
   *  until one ends request `lastSeq`, none is left or the buffer is full; returns the
   *  bytes written (each datagram from a 4-byte boundary). */
  exchange(fd: number, request: Buffer | null, lastSeq: number, replies: Buffer): number;
  close(fd: number): void;
}

const ADDON_PATH = '../../../native/build/Release/tandem_netlink.node';

let addon: NetlinkAddon | undefined;

export function netlinkAddon(): NetlinkAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NetlinkAddon;
    return addon;
  } catch (error) {
    throw new Error(`the netlink addon (native/netlink.c) is not built: run \`npm run build\` (needs g++, make and python3)`, {
      cause: error,
    });
  }
}
