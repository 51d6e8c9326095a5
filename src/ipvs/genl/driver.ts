// The kernel's IPVS table over generic netlink (the `IPVS` family), with the `netlink`
// package for sockets and framing. Replaces what ipvsadm does through libipvs.
import { execFile } from 'node:child_process';
import { getSystemErrorMap, getSystemErrorName, promisify } from 'node:util';
import {
  createGenericNetlink,
  FlagsGet,
  formatGenlHeader,
  genl as genericNetlink,
  GENL_HEADER_LENGTH,
  MessageType,
  readS32,
  type GenericNetlinkSocket,
  type NetlinkMessage,
} from 'netlink';
import { describeOperation, type IpvsDriver, type IpvsOperation, type OperationFailure } from '../operations.js';
import { describeService, type IpvsDestination, type IpvsService, type ServiceIdentity } from '../table.js';
import {
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  putDaemon,
  putDestination,
  putService,
  putTimeouts,
  type IpvsInfo,
  type IpvsTimeouts,
  type SyncDaemon,
  type SyncDaemonState,
} from './codec.js';
import { forEachInChunks } from '../chunks.js';
import { SerialQueue } from '../../lib/serial-queue.js';
import type { Logger } from '../../log.js';
import { AttributeWriter } from '../../lib/netlink-attributes.js';
import { Command, IPVS_GENL_NAME, IPVS_GENL_VERSION } from './uapi.js';

/** The kernel refused an IPVS request; the message names the operation and object. */
export class IpvsError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly operation: string;

  constructor(operation: string, errno: number, explanation?: string) {
    const code = errnoName(errno);
    super(`${operation}: ${code} (${explanation ?? getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error'})`);
    this.name = 'IpvsError';
    this.errno = errno;
    this.code = code;
    this.operation = operation;
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

// What an errno means for each request, in an operator's words (as ipvsadm's
// ipvs_strerror does); other errnos fall back to strerror's text.
const explanations: Record<string, Record<string, string>> = {
  'add-service': { EEXIST: 'the service already exists', ENOENT: 'no such scheduler or persistence engine module' },
  'edit-service': { ESRCH: 'no such service', ENOENT: 'no such scheduler or persistence engine module' },
  'delete-service': { ESRCH: 'no such service' },
  'add-destination': { ESRCH: 'no such service', EEXIST: 'the destination already exists' },
  'edit-destination': { ESRCH: 'no such service', ENOENT: 'no such destination' },
  'delete-destination': { ESRCH: 'no such service', ENOENT: 'no such destination' },
  'start-daemon': { EEXIST: 'a sync daemon in this state is already running', ENODEV: 'no such interface' },
  'stop-daemon': { ESRCH: 'no sync daemon in this state is running' },
  any: {
    EPERM: 'needs CAP_NET_ADMIN: run tandem as root',
    EINVAL: 'the kernel rejected the arguments (weight, thresholds, address or netmask out of range?)',
    EAFNOSUPPORT: 'the kernel has no IPv6 support in IPVS',
  },
};

function kernelError(kind: string, operation: string, errno: number): IpvsError {
  const code = errnoName(errno);
  return new IpvsError(operation, errno, explanations[kind]?.[code] ?? explanations.any?.[code]);
}

export interface IpvsNetlinkOptions {
  /** Requests in flight while applying a batch (bounded so acknowledgements never
   *  overflow the socket's receive buffer). */
  window?: number;
  /** Give up on a single request after this long (ms). */
  requestTimeout?: number;
  /** Where an error of the netlink socket itself is logged (`ipvs.socket-error`). */
  logger?: Logger;
}

interface Request {
  /** Picks the explanation of an errno (see `explanations`). */
  kind: string;
  /** The operation and object, for error messages (only built when one is needed). */
  describe: () => string;
  command: number;
  build?: (out: AttributeWriter) => void;
  dump?: boolean;
}

const operationCommands: Record<IpvsOperation['kind'], number> = {
  'add-service': Command.newService,
  'edit-service': Command.setService,
  'delete-service': Command.delService,
  'add-destination': Command.newDest,
  'edit-destination': Command.setDest,
  'delete-destination': Command.delDest,
};

/** The requests awaiting a reply. When the socket fails their replies will never come:
 *  they fail at once with its error rather than at their timeouts. */
class AwaitedReplies {
  private readonly abandons = new Set<(error: Error) => void>();

  get size(): number {
    return this.abandons.size;
  }

  async await<T>(request: Promise<T>): Promise<T> {
    let abandon: (error: Error) => void = () => undefined;
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    this.abandons.add(abandon);
    try {
      return await Promise.race([request, abandoned]);
    } finally {
      this.abandons.delete(abandon);
    }
  }

  abandonAll(error: Error): void {
    for (const abandon of this.abandons) abandon(error);
    this.abandons.clear();
  }
}

const NLMSG_ERROR: number = MessageType.ERROR;
/** Replies decoded between two yields to the event loop while reading a large table. */
const DECODE_CHUNK = 256;

export class IpvsNetlink implements IpvsDriver {
  /** One request or batch at a time: a dump's parts must not interleave with other replies. */
  private readonly queue = new SerialQueue();
  private readonly window: number;
  private readonly requestTimeout: number;
  private readonly localPort: number;

  private constructor(
    private readonly genl: GenericNetlinkSocket,
    private readonly familyId: number,
    private readonly replies: AwaitedReplies,
    options: IpvsNetlinkOptions,
  ) {
    this.window = options.window ?? 64;
    this.requestTimeout = options.requestTimeout ?? 30_000;
    // given with every request, or the netlink package asks the socket for it each time
    this.localPort = genl.socket.address().port;
  }

  /** Opens a socket and resolves the IPVS family, loading ip_vs first if the kernel has
   *  not (as ipvsadm does). Throws when the kernel has no IPVS at all. */
  static async open(options: IpvsNetlinkOptions = {}): Promise<IpvsNetlink> {
    const genl = createGenericNetlink();
    const replies = new AwaitedReplies();
    // An unhandled 'error' event would end the process.
    genl.socket.on('error', (error: Error) => {
      options.logger?.error({ event: 'ipvs.socket-error', err: error, failedRequests: replies.size }, 'IPVS netlink socket error');
      replies.abandonAll(error);
    });
    try {
      let familyId = await resolveFamily(genl, replies);
      if (familyId === undefined) {
        await promisify(execFile)('modprobe', ['ip_vs']).catch(() => undefined);
        familyId = await resolveFamily(genl, replies);
      }
      if (familyId === undefined) {
        throw new Error('the kernel has no IPVS (generic netlink family "IPVS" not found; is the ip_vs module available?)');
      }
      return new IpvsNetlink(genl, familyId, replies, options);
    } catch (error) {
      genl.socket.close();
      throw error;
    }
  }

  close(): void {
    this.genl.socket.close();
  }

  async info(): Promise<IpvsInfo> {
    return this.queue.run(async () =>
      decodeInfo(first(await this.request({ kind: 'get-info', describe: () => 'read IPVS info', command: Command.getInfo }))),
    );
  }

  listServices(): Promise<IpvsService[]> {
    return this.queue.run(async () => {
      const replies = await this.request({
        kind: 'list-services',
        describe: () => 'list services',
        command: Command.getService,
        dump: true,
      });
      return decodeInChunks(replies, decodeService);
    });
  }

  getService(service: ServiceIdentity): Promise<IpvsService | undefined> {
    return this.queue.run(async () => {
      try {
        const replies = await this.request({
          kind: 'get-service',
          describe: () => `read service ${describeService(service)}`,
          command: Command.getService,
          build: (out) => putService(out, service, false),
        });
        return decodeService(first(replies));
      } catch (error) {
        if (error instanceof IpvsError && error.code === 'ESRCH') return undefined;
        throw error;
      }
    });
  }

  listDestinations(service: ServiceIdentity): Promise<IpvsDestination[]> {
    return this.queue.run(async () => {
      const replies = await this.request({
        kind: 'list-destinations',
        describe: () => `list destinations of ${describeService(service)}`,
        command: Command.getDest,
        build: (out) => putService(out, service, false),
        dump: true,
      });
      return decodeInChunks(replies, (reply) => decodeDestination(reply, service.family));
    });
  }

  /** Sends the operations in order, keeping up to `window` requests in flight: the
   *  kernel handles requests of one socket in the order they were sent. */
  apply(operations: readonly IpvsOperation[]): Promise<OperationFailure[]> {
    return this.queue.run(async () => {
      const failures: Array<OperationFailure & { index: number }> = [];
      // one iterator shared by the senders: each takes the next operation not yet sent
      const unsent = operations.entries();
      const sender = async () => {
        for (const [index, operation] of unsent) {
          try {
            await this.send(operation);
          } catch (error) {
            failures.push({ index, operation, error: error as Error });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.window, operations.length) }, sender));
      return failures.sort((a, b) => a.index - b.index).map(({ operation, error }) => ({ operation, error }));
    });
  }

  /** Applies one operation; throws an IpvsError when the kernel refuses it. */
  async perform(operation: IpvsOperation): Promise<void> {
    const [failure] = await this.apply([operation]);
    if (failure) throw failure.error;
  }

  /** Removes every service of this network namespace, tandem's or not (ipvsadm -C). */
  flush(): Promise<void> {
    return this.queue.run(async () => {
      await this.request({ kind: 'flush', describe: () => 'flush the IPVS table', command: Command.flush });
    });
  }

  getTimeouts(): Promise<IpvsTimeouts> {
    return this.queue.run(async () =>
      decodeTimeouts(first(await this.request({ kind: 'get-timeouts', describe: () => 'read IPVS timeouts', command: Command.getConfig }))),
    );
  }

  /** Sets the given timeouts (seconds; 0 = the protocol's default); others are kept. */
  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void> {
    const described = Object.entries(timeouts)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ');
    return this.queue.run(async () => {
      await this.request({
        kind: 'set-timeouts',
        describe: () => `set IPVS timeouts (${described})`,
        command: Command.setConfig,
        build: (out) => putTimeouts(out, timeouts),
      });
    });
  }

  listDaemons(): Promise<SyncDaemon[]> {
    return this.queue.run(async () =>
      (await this.request({ kind: 'list-daemons', describe: () => 'list sync daemons', command: Command.getDaemon, dump: true })).map(
        decodeDaemon,
      ),
    );
  }

  startDaemon(daemon: SyncDaemon): Promise<void> {
    const what = `start the ${daemon.state} sync daemon on ${daemon.interface} (sync id ${daemon.syncId})`;
    return this.queue.run(async () => {
      await this.request({
        kind: 'start-daemon',
        describe: () => what,
        command: Command.newDaemon,
        build: (out) => putDaemon(out, daemon),
      });
    });
  }

  stopDaemon(state: SyncDaemonState): Promise<void> {
    return this.queue.run(async () => {
      await this.request({
        kind: 'stop-daemon',
        describe: () => `stop the ${state} sync daemon`,
        command: Command.delDaemon,
        build: (out) => putDaemon(out, { state }),
      });
    });
  }

  private send(operation: IpvsOperation): Promise<Buffer[]> {
    const { kind } = operation;
    const describe = () => describeOperation(operation);
    const command = operationCommands[kind];
    if (kind === 'add-service' || kind === 'edit-service' || kind === 'delete-service') {
      return this.request({ kind, describe, command, build: (out) => putService(out, operation.service, kind !== 'delete-service') });
    }
    return this.request({
      kind,
      describe,
      command,
      build: (out) => {
        putService(out, operation.service, false);
        putDestination(out, operation.destination, kind !== 'delete-destination');
      },
    });
  }

  /** One request; resolves with the payloads (after the genl header) of the replies. */
  private async request({ kind, describe, command, build, dump = false }: Request): Promise<Buffer[]> {
    const attributes = new AttributeWriter();
    build?.(attributes);
    let messages: NetlinkMessage[];
    try {
      [messages] = await this.replies.await(
        this.genl.socket.request(this.familyId, [formatGenlHeader({ cmd: command, version: IPVS_GENL_VERSION }), attributes.toBuffer()], {
          flags: dump ? FlagsGet.DUMP : 0,
          checkError: false,
          timeout: this.requestTimeout,
          localPort: this.localPort,
        }),
      );
    } catch (error) {
      throw new Error(`${describe()}: ${(error as Error).message}`);
    }
    const payloads: Buffer[] = [];
    for (const message of messages) {
      if (message.type === NLMSG_ERROR) {
        const errno = -readS32.call(message.data, 0);
        if (errno !== 0) throw kernelError(kind, describe(), errno);
      } else if (message.type === this.familyId) {
        payloads.push(message.data.subarray(GENL_HEADER_LENGTH));
      }
    }
    return payloads;
  }
}

async function resolveFamily(genl: GenericNetlinkSocket, replies: AwaitedReplies): Promise<number | undefined> {
  try {
    const [family] = await replies.await(genl.ctrlRequest(genericNetlink.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }));
    return family?.familyId;
  } catch (error) {
    if (/ENOENT/.test((error as Error).message)) return undefined;
    throw new Error(`resolve the IPVS generic netlink family: ${(error as Error).message}`);
  }
}

function first(replies: Buffer[]): Buffer {
  const [reply] = replies;
  if (!reply) throw new Error('the kernel sent no reply');
  return reply;
}

async function decodeInChunks<T>(replies: Buffer[], decode: (reply: Buffer) => T): Promise<T[]> {
  const decoded: T[] = [];
  await forEachInChunks(replies, DECODE_CHUNK, (reply) => decoded.push(decode(reply)));
  return decoded;
}
