// The socket side of the secure channel: one UDP socket per path, bound to this
// node's address on that path, sending every message to the peer's address on
// every path. Whatever arrives goes through the endpoint's checks; rejects are
// counted per path and reason and logged at a limited rate. Nothing a datagram
// contains can throw out of the receive handler.
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
}

const logIntervalMs = 10_000;

interface BoundSocket {
  socket: Socket;
  /** The peer's address on the socket's path. */
  remote: string;
}

export class SecureChannel<T> {
  private readonly stats: ChannelStats;
  private readonly rejectLog = new LogRateLimiter<RejectReason | 'send-error'>(logIntervalMs);

  private constructor(
    private readonly options: SecureChannelOptions<T>,
    /** One per path, in the order of the paths. */
    private readonly sockets: BoundSocket[],
  ) {
    this.stats = options.stats ?? createStats().heartbeat;
    sockets.forEach(({ socket }, path) => {
      socket.on('message', (datagram, from) => this.receive(path, datagram, from.address));
      socket.on('error', (error) => options.logger.error({ event: 'channel.socket-error', path, err: error }, 'heartbeat socket error'));
    });
  }

  /** Binds one socket per path; fails with a message naming the address when it is not on this host. */
  static async open<T>(options: SecureChannelOptions<T>): Promise<SecureChannel<T>> {
    const sockets: BoundSocket[] = [];
    let binding = '';
    try {
      for (const path of options.paths) {
        binding = path.local;
        const socket = createSocket({ type: isIPv6(path.local) ? 'udp6' : 'udp4' });
        sockets.push({ socket, remote: path.remote });
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: path.local, port: options.port, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      }
    } catch (error) {
      sockets.forEach(({ socket }) => socket.close());
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRNOTAVAIL'
          ? 'the address is not configured on this host'
          : code === 'EADDRINUSE'
            ? 'the port is in use (another tandem?)'
            : (error as Error).message;
      throw new Error(`cannot bind the heartbeat socket to ${binding}:${options.port}: ${why}`);
    }
    return new SecureChannel(options, sockets);
  }

  /** Sends the payload to the peer on every path, each copy with its own sequence number. */
  send(payload: Uint8Array): void {
    this.sockets.forEach(({ socket, remote }, path) => {
      const { datagram } = this.options.endpoint.seal(payload);
      socket.send(datagram, this.options.port, remote, (error) => {
        if (!error) return;
        this.stats.sendErrors.inc({ path });
        const admitted = this.rejectLog.admit('send-error', this.options.now());
        if (admitted) {
          this.options.logger.warn(
            { event: 'channel.send-error', path, remote, err: error, suppressed: admitted.suppressed },
            `cannot send on path ${path}: ${error.message}`,
          );
        }
      });
      this.stats.sent.inc({ path });
    });
  }

  get paths(): readonly ChannelPath[] {
    return this.options.paths;
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map(({ socket }) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private receive(path: number, datagram: Buffer, from: string): void {
    const receivedAt = this.options.now();
    try {
      const opened = this.options.endpoint.open(datagram);
      if (!opened.ok) {
        this.reject(path, opened.reason, opened.detail, from, receivedAt);
        return;
      }
      if (opened.bootChange) this.logBootChange(opened);
      const { payload, ...accepted } = opened;
      const decoded = this.options.decode(payload);
      if (!decoded.ok) {
        this.reject(path, 'bad-payload', decoded.error, from, receivedAt);
        return;
      }
      this.stats.accepted.inc({ path });
      this.options.onMessage({ ...accepted, message: decoded.value, path, receivedAt });
    } catch (error) {
      // A bug, not the packet's fault; still, the packet must not take the daemon down.
      this.options.logger.error({ event: 'channel.receive-error', path, err: error }, 'error while handling a datagram');
    }
  }

  private reject(path: number, reason: RejectReason, detail: string, from: string, now: number): void {
    this.stats.rejected.inc({ path, reason });
    const admitted = this.rejectLog.admit(reason, now);
    if (admitted) {
      this.options.logger.warn(
        { event: 'packet.rejected', reason, detail, path, from, suppressed: admitted.suppressed },
        `rejected datagram from ${from} on path ${path}: ${reason} (${detail})`,
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
