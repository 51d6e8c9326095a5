// The netlink addon (native/netlink.c, built by `npm run build`): netlink sockets driven
// synchronously (the IPVS driver's channel, conntrack commits) or on a worker thread
// (conntrack dumps), and multicast
// event sockets read when libuv finds them readable (conntrack events). Failures come
// back as Errors with an errno `code`.
import { createRequire } from 'node:module';

/** A poll started by NetlinkAddon.poll. */
export type PollHandle = object;

export interface NetlinkAddon {
  open(protocol: number): number;
  port(fd: number): number;
  /** Sends `request` (unless null), then reads the replies already queued into `replies`
   *  until one ends request `lastSeq`, none is left or the buffer is full; returns the
   *  bytes written (each datagram from a 4-byte boundary). */
  exchange(fd: number, request: Buffer | null, lastSeq: number, replies: Buffer): number;
  /** exchange on a libuv worker thread, for requests whose kernel work is long (a
   *  conntrack dump walks the whole hash table); the socket and Buffers stay untouched
   *  until `done` runs. */
  exchangeAsync(
    fd: number,
    request: Buffer | null,
    lastSeq: number,
    replies: Buffer,
    done: (error: Error | null, used: number) => void,
  ): void;
  /** Sends the dump requests framed in `requests` one after another from byte state[0],
   *  each once the one before has ended, reading their replies into `replies` while it has
   *  room; state[1] is a dump sent but not yet read to its end (0: none). Updates both and
   *  returns the bytes written. */
  dumpEach(fd: number, requests: Buffer, state: Uint32Array, replies: Buffer): number;
  /** Joins multicast group `group` of the socket's protocol. */
  subscribe(fd: number, group: number): void;
  /** Sets the receive buffer (beyond net.core.rmem_max with CAP_NET_ADMIN); returns what
   *  the kernel granted (twice the request, for its bookkeeping). */
  setReceiveBuffer(fd: number, bytes: number): number;
  /** Reads the datagrams queued, without waiting, as exchange does; where the kernel had
   *  dropped datagrams for the socket (ENOBUFS) an NLMSG_OVERRUN header stands instead. */
  receive(fd: number, buffer: Buffer): number;
  /** Calls `onReadable` on the event loop while the socket has datagrams queued (errno 0);
   *  with the errno the socket reported (ENOBUFS: the kernel dropped datagrams for it),
   *  polling on; or once with `stopped` when the poll failed and stopped. */
  poll(fd: number, onReadable: (errno: number, stopped: boolean) => void): PollHandle;
  unpoll(handle: PollHandle): void;
  close(fd: number): void;
}

const ADDON_PATH = '../../native/build/Release/tandem_netlink.node';

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

/** addon.exchangeAsync as a promise of the bytes written. */
export function exchangeOffThread(
  addon: NetlinkAddon,
  fd: number,
  request: Buffer | null,
  lastSeq: number,
  replies: Buffer,
): Promise<number> {
  return new Promise((resolve, reject) => {
    addon.exchangeAsync(fd, request, lastSeq, replies, (error, used) => (error ? reject(error) : resolve(used)));
  });
}
