// The socket side of the secure channel: one UDP socket per path, bound to this
// node's address on that path and connected to the peer's, so the kernel drops
// datagrams from anywhere else before they take room in the receive buffer.
// Every message goes to the peer on every path. Whatever arrives goes through the
// endpoint's checks; rejects are counted per path and reason and logged at a
// limited rate. Nothing a datagram contains can throw out of the receive handler.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createStats, type ChannelStats } from '../lib/stats.js';
import type { Logger } from '../log.js';
import type { Accepted, ChannelEndpoint } from './endpoint.js';
import type { Decoded } from './proto.js';
import { LogRateLimiter, type RejectReason } from './rejections.js';

export interface ChannelPath {
  /** This node's address on the path (the socket binds to it). */
  local: string;
  /** The peer's address on the path. */
  remote: string;
}

export interface ChannelMessage<T> extends Omit<Accepted, 'payload'> {
  /** The kind's message, decoded and validated. */
  message: T;
  /** Index into the channel's paths. */
  path: number;
  /** Monotonic ms when the datagram was handed to us. */
  receivedAt: number;
}

export interface SecureChannelOptions<T> {
  endpoint: ChannelEndpoint;
  /** The kind's decoder; an invalid message counts as `bad-payload`. */
  decode: (payload: Uint8Array) => Decoded<T>;
  paths: ChannelPath[];
  /** UDP port, the same on both nodes. */
  port: number;
  logger: Logger;
  /** Monotonic clock in ms. */
  now: () => number;
  onMessage: (message: ChannelMessage<T>) => void;
  /** Where the datagrams are counted per path; default: counters of its own. */
  stats?: ChannelStats;
  /** What the channel carries, for messages about its sockets; default: heartbeat. */
  purpose?: 'heartbeat' | 'sync';
}

const logIntervalMs = 10_000;
/**
 * The receive buffer asked for per socket (the kernel books twice as much). A
 * flood shares it with the genuine heartbeats, and whatever arrives while it is
 * full is lost: it must hold what arrives while the event loop is busy elsewhere
 * (tens of ms of a flood of small datagrams), yet drain in a few ms when full,
 * or the heartbeats queued behind the flood come too late.
 */
export const receiveBufferBytes = 1 << 20;
/** A path whose socket could not be connected (its link down at start) tries again after this long. */
const connectRetryMs = 1000;

interface PathSocket {
  socket: Socket;
  /** The peer's address on the socket's path. */
  remote: string;
  /** Once Node says so: the channel never disconnects a socket, so it is not asked again. */
  connected: boolean;
  connecting: boolean;
  /** Monotonic ms before which no new connect is tried. */
  retryConnectAt: number;
  /** The send callback, one per path: it counts send errors. */
  sent: (error: Error | null) => void;
}

export class SecureChannel<T> {
  private readonly sockets: PathSocket[];
  private readonly stats: ChannelStats;
  private readonly rateLimiter = new LogRateLimiter<RejectReason | 'send-error' | 'connect-error'>(logIntervalMs);

  private constructor(
    private readonly options: SecureChannelOptions<T>,
    sockets: Socket[],
  ) {
    this.stats = options.stats ?? createStats().heartbeat;
    this.sockets = sockets.map((socket, path) => {
      const remote = options.paths[path]?.remote ?? '';
      socket.on('message', (datagram, from) => this.receive(path, datagram, from.address));
      socket.on('error', (error) => this.socketError(path, error));
      const sent = (error: Error | null) => {
        if (error) this.sendFailed(path, error);
      };
      return { socket, remote, connected: false, connecting: false, retryConnectAt: 0, sent };
    });
  }

  /** Binds one socket per path; fails with a message naming the address when it is not on this host. */
  static async open<T>(options: SecureChannelOptions<T>): Promise<SecureChannel<T>> {
    const sockets: Socket[] = [];
    try {
      for (const path of options.paths) {
        const socket = createSocket({ type: isIPv6(path.local) ? 'udp6' : 'udp4' });
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: path.local, port: options.port, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      }
    } catch (error) {
      sockets.forEach((socket) => socket.close());
      const address = options.paths[sockets.length - 1]?.local;
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRNOTAVAIL'
          ? 'the address is not configured on this host'
          : code === 'EADDRINUSE'
            ? 'the port is in use (another tandem?)'
            : (error as Error).message;
      throw new Error(`cannot bind the ${options.purpose ?? 'heartbeat'} socket to ${address}:${options.port}: ${why}`);
    }
    const channel = new SecureChannel(options, sockets);
    channel.sockets.forEach((path, index) => channel.enlargeReceiveBuffer(path, index));
    await Promise.all(channel.sockets.map((path, index) => channel.connect(path, index)));
    return channel;
  }

  /** Sends the payload to the peer on every path, each copy with its own sequence number. */
  send(payload: Uint8Array): void {
    this.sockets.forEach((path, index) => {
      const { datagram } = this.options.endpoint.seal(payload, index);
      // asking Node (getpeername) for every datagram cost a tenth of an idle node's CPU
      path.connected ||= isConnected(path.socket);
      if (path.connected) {
        path.socket.send(datagram, path.sent);
      } else {
        path.socket.send(datagram, this.options.port, path.remote, path.sent);
        void this.connect(path, index);
      }
      this.stats.sent.inc({ path: index });
    });
  }

  get paths(): readonly ChannelPath[] {
    return this.options.paths;
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private enlargeReceiveBuffer({ socket }: PathSocket, index: number): void {
    try {
      socket.setRecvBufferSize(receiveBufferBytes);
    } catch {
      // Reported below with the size the socket has.
    }
    const granted = socket.getRecvBufferSize() / 2;
    if (granted >= receiveBufferBytes) return;
    this.options.logger.warn(
      { event: 'channel.receive-buffer', path: index, bytes: granted, wanted: receiveBufferBytes },
      `the receive buffer of ${this.options.purpose ?? 'heartbeat'} path ${index} is ${granted} bytes, not ${receiveBufferBytes}: ` +
        `raise net.core.rmem_max to ${receiveBufferBytes} (sysctl) so that a flood cannot crowd out the heartbeats`,
    );
  }

  /**
   * Connects the path's socket to the peer's address and port. Until it is
   * (it fails while no route leads there, e.g. the link is down at start), the
   * path sends with an explicit address and tries again on a later send.
   */
  private connect(path: PathSocket, index: number): Promise<void> {
    const now = this.options.now();
    if (path.connecting || path.connected || now < path.retryConnectAt) return Promise.resolve();
    path.connecting = true;
    const { remote } = path;
    return new Promise((resolve) => {
      path.socket.connect(this.options.port, remote, (error?: Error) => {
        path.connecting = false;
        if (error) {
          path.retryConnectAt = now + connectRetryMs;
          const admitted = this.rateLimiter.admit('connect-error', now);
          if (admitted) {
            this.options.logger.warn(
              { event: 'channel.connect-failed', path: index, remote, err: error, suppressed: admitted.suppressed },
              `cannot connect the socket of path ${index} to ${remote} yet (${error.message}): it accepts datagrams from any source meanwhile`,
            );
          }
        }
        resolve();
      });
    });
  }

  private socketError(index: number, error: Error): void {
    // A connected socket reports an ICMP error for an earlier datagram (the peer's
    // port closed while tandem is not running there) on its next receive.
    if ((error as NodeJS.ErrnoException).syscall === 'recvmsg') this.sendFailed(index, error);
    else
      this.options.logger.error(
        { event: 'channel.socket-error', path: index, err: error },
        `${this.options.purpose ?? 'heartbeat'} socket error`,
      );
  }

  private sendFailed(index: number, error: Error): void {
    const remote = this.sockets[index]?.remote;
    if (remote === undefined) return;
    this.stats.sendErrors.inc({ path: index });
    const admitted = this.rateLimiter.admit('send-error', this.options.now());
    if (admitted) {
      this.options.logger.warn(
        { event: 'channel.send-error', path: index, remote, err: error, suppressed: admitted.suppressed },
        `cannot send on path ${index}: ${error.message}`,
      );
    }
  }

  private receive(index: number, datagram: Buffer, from: string): void {
    const receivedAt = this.options.now();
    try {
      const message = this.admit(index, datagram, from, receivedAt);
      if (message) this.options.onMessage(message);
    } catch (error) {
      // A bug, not the packet's fault; still, the packet must not take the daemon down.
      this.stats.receiveErrors.inc({ path: index });
      this.options.logger.error({ event: 'channel.receive-error', path: index, err: error }, 'error while handling a datagram');
    }
  }

  /** The datagram's message if it passes every check; otherwise counts and logs why not. */
  private admit(index: number, datagram: Buffer, from: string, receivedAt: number): ChannelMessage<T> | undefined {
    const opened = this.options.endpoint.open(datagram, index);
    if (!opened.ok) {
      this.reject(index, opened.reason, opened.detail, from, receivedAt);
      return undefined;
    }
    if (opened.bootChange) this.logBootChange(opened);
    const decoded = this.options.decode(opened.payload);
    if (!decoded.ok) {
      this.reject(index, 'bad-payload', decoded.error, from, receivedAt);
      return undefined;
    }
    this.stats.accepted.inc({ path: index });
    // field by field: a rest-and-spread copy took V8's slow path for every datagram
    const { seq, bootId, keyId, echoesUs, proven, bootChange } = opened;
    const message = { ok: true, seq, bootId, keyId, echoesUs, proven, message: decoded.value, path: index, receivedAt } as const;
    return bootChange ? { ...message, bootChange } : message;
  }

  private reject(index: number, reason: RejectReason, detail: string, from: string, now: number): void {
    this.stats.rejected.inc({ path: index, reason });
    const admitted = this.rateLimiter.admit(reason, now);
    if (admitted) {
      this.options.logger.warn(
        { event: 'packet.rejected', reason, detail, path: index, from, suppressed: admitted.suppressed },
        `rejected datagram from ${from} on path ${index}: ${reason} (${detail})`,
      );
    }
  }

  private logBootChange(message: Accepted): void {
    const { logger } = this.options;
    if (message.bootChange === 'first-contact') {
      logger.info({ event: 'peer.first-contact', bootId: message.bootId }, 'heard the peer for the first time');
    } else {
      logger.warn(
        { event: 'peer.restarted', bootId: message.bootId, clockWentBack: message.bootChange === 'restarted-clock-back' },
        'peer restarted',
      );
    }
  }
}

/** Node's own view, so that a send never disagrees with it about passing an address. */
function isConnected(socket: Socket): boolean {
  try {
    socket.remoteAddress();
    return true;
  } catch {
    return false;
  }
}
