// The IPVS connection table as a SyncedTable: the kernel's own sync daemons do the
// kernel work, but only on `lo`, so nothing on the network can reach them. On the active
// the master daemon multicasts its messages on lo, where tandem reads them (watch); the
// whole table comes from /proc/net/ip_vs_conn (dump). On the backup tandem writes
// version-1 messages to the backup daemon, which listens on lo only (commit). Between
// the nodes the records travel over tandem's authenticated channel (the engine's part).
import { createSocket, type Socket } from 'node:dgram';
import { createReadStream, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { IpvsKernelSyncSpec } from '../../config/model.js';
import type { IpFamily } from '../../lib/address.js';
import { IpvsError, IpvsNetlink, readTable, type IpvsService, type SyncDaemon, type SyncDaemonState } from '../../ipvs/index.js';
import { openRtnetlink, writeSysctl } from '../../net/index.js';
import type { CommitResult, SyncedTable, TableChange } from '../table.js';
import { connectionKey, type IpvsConnection } from './connection.js';
import { forwardingLookup, parseProcLine, toConnection } from './proc.js';
import { kernelSyncSettings } from './settings.js';
import { decodeRecord, encodeRecord, packMessages, parseMessage } from './sync-message.js';
import { udpSocketStats, type UdpSocketStats } from './udp-stats.js';

/** The backup daemon listens this far above the master's ports (the kernel allows at
 *  most 64 ports per daemon), so both can run in one namespace. */
export const backupPortOffset = 64;
/** The messages tandem writes, and the backup daemon's buffer (at most 255 records:
 *  ~9 KB of IPv4 ones). */
const commitMessageLength = 16384;
/** Bytes sent before tandem waits for the backup daemon's queue to drain below it: the
 *  socket's default receive buffer (rmem_default, ~208 KiB of truesize) never fills. */
const pacingBytes = 32 * 1024;
const lossPollMs = 1000;
const loopbackIndex = 1;
const loopbackAddress = '127.0.0.1';
/** The firewall mark of the hook anchor ("tand"): no packet carries it. */
export const hookAnchorMark = 0x74616e64;

/** A service that never matches a packet. The kernel runs IPVS's netfilter hooks only while
 *  a service of the family exists; a backup whose balancer removed its services would not
 *  use its synced connections when a takeover places the addresses (and announces them)
 *  before the services are in: the flows' packets reach the local stack, which resets them. */
function hookAnchor(family: IpFamily): IpvsService {
  return {
    family,
    protocol: 'tcp',
    address: family === 6 ? '::' : '0.0.0.0',
    port: 0,
    fwmark: hookAnchorMark,
    scheduler: 'rr',
    onePacket: false,
    schedulerFlags: 0,
    destinations: [],
  };
}

export interface IpvsTableOptions {
  readonly settings: IpvsKernelSyncSpec;
  /** The sync id the daemons run with (`sync.sync_id`); messages carry it. */
  readonly syncId: number;
  readonly logger: Logger;
  /** One rows of the whole table per chunk of dump(). */
  readonly chunkSize?: number;
  readonly openKernel?: () => Promise<IpvsNetlink>;
  /** Where the kernel prints its tables (a test reads another namespace's through /proc/PID/net). */
  readonly procNet?: string;
}

/** Removes the hook anchors of these families (`tandem cleanup` after a daemon died too). */
export async function removeHookAnchors(kernel: Pick<IpvsNetlink, 'perform'>, families: Iterable<IpFamily> = [4, 6]): Promise<void> {
  for (const family of families) {
    const { protocol, address, port, fwmark } = hookAnchor(family);
    await kernel.perform({ kind: 'delete-service', service: { family, protocol, address, port, fwmark } }).catch(() => undefined);
  }
}

export class IpvsSyncTable implements SyncedTable<IpvsConnection> {
  readonly kind = 'ipvs';
  readonly commitPolicy = 'write-through';
  private readonly logger: Logger;
  private kernel: Promise<IpvsNetlink> | undefined;
  private prepared: Promise<void> | undefined;
  private readonly daemons = new Map<SyncDaemonState, Promise<void>>();
  private sender: Promise<Socket> | undefined;
  private readonly stops = new Set<() => void>();
  /** Families whose hook anchor this table added (and removes on close). */
  private readonly anchored = new Set<IpFamily>();

  constructor(private readonly options: IpvsTableOptions) {
    this.logger = options.logger.child({ component: 'sync-ipvs' });
  }

  key(entry: IpvsConnection): string {
    return connectionKey(entry);
  }

  encode(entry: IpvsConnection): Uint8Array {
    return encodeRecord(entry);
  }

  decode(bytes: Uint8Array): IpvsConnection {
    return decodeRecord(bytes);
  }

  timeoutMs(entry: IpvsConnection): number {
    return entry.timeoutSeconds * 1000;
  }

  async *dump(): AsyncIterable<readonly IpvsConnection[]> {
    const forwarding = forwardingLookup(await readTable(await this.openKernel()));
    const lines = createInterface({ input: createReadStream(`${this.procNet()}/ip_vs_conn`), crlfDelay: Infinity });
    const chunkSize = this.options.chunkSize ?? 1000;
    let chunk: IpvsConnection[] = [];
    let lineNumber = 0;
    for await (const line of lines) {
      const parsed = parseProcLine(line, ++lineNumber);
      if (!parsed) continue;
      chunk.push(toConnection(parsed, forwarding));
      if (chunk.length >= chunkSize) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  watch(onChanges: (changes: readonly TableChange<IpvsConnection>[]) => void, onLost: () => void): () => void {
    const { group, port, ports } = this.options.settings;
    const sockets: Socket[] = [];
    let stopped = false;
    let drops = 0;
    const checkDrops = () => {
      const now = this.socketDrops(port, ports);
      if (now > drops) {
        this.logger.warn({ event: 'sync.ipvs-dropped', socket: 'watch', dropped: now - drops }, 'tandem dropped master sync messages');
        onLost();
      }
      drops = now;
    };
    const poll = setInterval(checkDrops, lossPollMs);
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(poll);
      for (const socket of sockets) socket.close();
      this.stops.delete(stop);
      void this.stopDaemon('master');
    };
    this.stops.add(stop);
    const receive = (datagram: Buffer) => {
      try {
        const { connections } = parseMessage(datagram);
        if (connections.length > 0) onChanges(connections.map((entry) => ({ type: 'upsert', entry })));
      } catch (error) {
        this.logger.warn({ event: 'sync.ipvs-malformed', err: error }, 'a master sync message tandem could not read');
      }
    };
    void (async () => {
      for (let index = 0; index < ports; index++) {
        const socket = createSocket({ type: 'udp4', reuseAddr: true });
        sockets.push(socket);
        socket.on('message', receive);
        socket.on('error', (error) => this.logger.error({ event: 'sync.ipvs-socket-error', err: error }, 'a sync socket failed'));
        await new Promise<void>((resolve) => socket.bind({ address: group, port: port + index }, resolve));
        socket.addMembership(group, loopbackAddress);
      }
      drops = this.socketDrops(port, ports);
      if (!this.stops.has(stop)) return;
      await this.startDaemon({ state: 'master', interface: 'lo', syncId: this.options.syncId, group, port, ttl: 1 });
    })().catch((error: unknown) => {
      this.logger.error({ event: 'sync.ipvs-daemon-failed', err: error, role: 'master' }, 'cannot start the master sync daemon on lo');
      onLost();
    });
    return stop;
  }

  async commit(entries: readonly IpvsConnection[]): Promise<CommitResult> {
    const { group, port, ports } = this.options.settings;
    const { syncId } = this.options;
    const base = port + backupPortOffset;
    await this.startDaemon({ state: 'backup', interface: 'lo', syncId, group, port: base, maxLength: commitMessageLength });
    await this.anchorHooks(new Set(entries.map((entry) => entry.family)));
    // One connection always goes to the same port: the daemon's threads would reorder it.
    const byPort = Array.from({ length: ports }, () => [] as IpvsConnection[]);
    for (const entry of entries) byPort[ports === 1 ? 0 : hash(connectionKey(entry)) % ports]?.push(entry);
    const messages = byPort.flatMap((list, index) =>
      packMessages(list, syncId, commitMessageLength).map((message) => ({ message, port: base + index })),
    );
    let dropped = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      const before = this.socketDrops(base, ports);
      await this.sendPaced(messages, base, ports);
      dropped = this.socketDrops(base, ports) - before;
      if (dropped === 0) return { written: entries.length, failed: 0 };
      this.logger.warn(
        { event: 'sync.ipvs-dropped', socket: 'commit', dropped, attempt },
        'the backup sync daemon dropped messages; resending',
      );
    }
    // Which messages were lost is unknown: count the records of as many of the largest.
    const failed = Math.min(entries.length, dropped * 255);
    return { written: entries.length - failed, failed, firstError: `the backup sync daemon dropped ${dropped} message(s)` };
  }

  close(): void {
    for (const stop of [...this.stops]) stop();
    void this.sender?.then((sender) => sender.close());
    this.sender = undefined;
    void this.stopDaemon('backup')
      .then(() => this.releaseAnchors())
      .finally(() => {
        // a kernel that never opened (no IPVS) has nothing to close
        void this.kernel?.then(
          (kernel) => kernel.close(),
          () => undefined,
        );
      });
  }

  private procNet(): string {
    return this.options.procNet ?? '/proc/net';
  }

  private openKernel(): Promise<IpvsNetlink> {
    this.kernel ??= (this.options.openKernel ?? (() => IpvsNetlink.open()))();
    return this.kernel;
  }

  /** lo carries multicast only with the flag set; the knobs must be set before a daemon
   *  starts (sync_ports is refused while one runs). Once per table. */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      const rtnl = openRtnetlink();
      try {
        await rtnl.setLink({ index: loopbackIndex, flags: { multicast: true }, change: { multicast: true } });
      } finally {
        rtnl.socket.close();
      }
      for (const [name, value] of kernelSyncSettings(this.options.settings)) {
        try {
          writeSysctl(['net', 'ipv4', 'vs', name], value);
        } catch (error) {
          this.logger.warn({ event: 'sync.ipvs-knob-failed', knob: name, value, err: error }, `cannot set net.ipv4.vs.${name}`);
        }
      }
    })();
    return this.prepared;
  }

  /** Starts a daemon on lo unless the same one runs; one with other settings (a
   *  leftover, or the wire sync of `sync.enabled`) is replaced. */
  private startDaemon(daemon: SyncDaemon): Promise<void> {
    const running = this.daemons.get(daemon.state);
    if (running) return running;
    const started = (async () => {
      await this.prepare();
      const kernel = await this.openKernel();
      const existing = (await kernel.listDaemons()).find((candidate) => candidate.state === daemon.state);
      if (existing && existing.interface === 'lo' && existing.group === daemon.group && existing.port === daemon.port) return;
      if (existing) await kernel.stopDaemon(daemon.state);
      await kernel.startDaemon(daemon);
    })();
    started.catch(() => this.daemons.delete(daemon.state));
    this.daemons.set(daemon.state, started);
    return started;
  }

  private async anchorHooks(families: ReadonlySet<IpFamily>): Promise<void> {
    for (const family of families) {
      if (this.anchored.has(family)) continue;
      this.anchored.add(family);
      try {
        await (await this.openKernel()).perform({ kind: 'add-service', service: hookAnchor(family) });
      } catch (error) {
        // EEXIST: an anchor of an earlier run; it serves as well
        if (error instanceof IpvsError && error.code === 'EEXIST') continue;
        this.anchored.delete(family);
        this.logger.warn({ event: 'sync.ipvs-anchor-failed', family, err: error }, 'cannot keep the IPVS hooks running on this backup');
      }
    }
  }

  private async releaseAnchors(): Promise<void> {
    if (this.anchored.size > 0) await removeHookAnchors(await this.openKernel(), this.anchored);
    this.anchored.clear();
  }

  private async stopDaemon(state: SyncDaemonState): Promise<void> {
    const started = this.daemons.get(state);
    if (!started) return;
    this.daemons.delete(state);
    try {
      await started;
      await (await this.openKernel()).stopDaemon(state);
    } catch {
      // not running, or never started: nothing to stop
    }
  }

  private socketDrops(port: number, ports: number): number {
    return this.udpTotal(port, ports, 'drops');
  }

  private receiveQueue(port: number, ports: number): number {
    return this.udpTotal(port, ports, 'receiveQueue');
  }

  /** One figure of /proc/net/udp summed over the sockets on the group's ports port.. port+ports-1. */
  private udpTotal(port: number, ports: number, figure: keyof UdpSocketStats): number {
    const text = readFileSync(`${this.procNet()}/udp`, 'utf8');
    let total = 0;
    for (let index = 0; index < ports; index++) total += udpSocketStats(text, this.options.settings.group, port + index)?.[figure] ?? 0;
    return total;
  }

  private async sendPaced(messages: ReadonlyArray<{ message: Buffer; port: number }>, base: number, ports: number): Promise<void> {
    const sender = await this.openSender();
    let sinceCheck = 0;
    for (const { message, port } of messages) {
      if (sinceCheck >= pacingBytes) {
        while (this.receiveQueue(base, ports) >= pacingBytes) await sleep(1);
        sinceCheck = 0;
      }
      await new Promise<void>((resolve, reject) =>
        sender.send(message, port, this.options.settings.group, (error) => (error ? reject(error) : resolve())),
      );
      sinceCheck += message.length;
    }
  }

  private openSender(): Promise<Socket> {
    this.sender ??= (async () => {
      const sender = createSocket('udp4');
      await new Promise<void>((resolve) => sender.bind({ address: loopbackAddress, port: 0 }, resolve));
      sender.setMulticastInterface(loopbackAddress);
      sender.setMulticastLoopback(false);
      return sender;
    })();
    return this.sender;
  }
}

function hash(text: string): number {
  let value = 0;
  for (let index = 0; index < text.length; index++) value = (Math.imul(value, 31) + text.charCodeAt(index)) >>> 0;
  return value;
}
