// The kernel's IPVS table over generic netlink (the `IPVS` family), on a socket of our
// own (channel.ts). Replaces what ipvsadm does through libipvs, faster on large tables:
// a batch of changes travels in one datagram with one acknowledgement, and a service's
// destinations are dumped in one call, without a wait on the event loop (libipvs opens
// a socket and resolves the family for every request).
import { execFile } from 'node:child_process';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { getSystemErrorMap, getSystemErrorName, promisify } from 'node:util';
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
import { SerialQueue } from '../../lib/serial-queue.js';
import type { Logger } from '../../log.js';
import { AttributeReader, AttributeWriter, GENL_HEADER } from '../../lib/netlink-attributes.js';
import { NetlinkChannel, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, type Exchange } from '../../lib/netlink-channel.js';
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
  /** Changes sent in one datagram, acknowledged once: bounded so the kernel's error
   *  replies to a whole batch fit the socket's receive buffer, and so a batch holds the
   *  event loop (the heartbeat's) for little time. */
  batch?: number;
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
}

const operationCommands: Record<IpvsOperation['kind'], number> = {
  'add-service': Command.newService,
  'edit-service': Command.setService,
  'delete-service': Command.delService,
  'add-destination': Command.newDest,
  'edit-destination': Command.setDest,
  'delete-destination': Command.delDest,
};

/** The generic netlink controller, which names families (linux/genetlink.h). */
const NETLINK_GENERIC = 16;
const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_MAX = 2;
/** Bytes a framed change takes at most (an IPv6 destination edit with a tunnel: ~170). */
const CHANGE_BYTES = 256;
/** Bytes a framed GET_DEST dump request takes at most (an IPv6 service: 68). */
const DUMP_REQUEST_BYTES = 80;
/** Services whose destinations one framed buffer asks for: the addon reads the answers of
 *  as many as its reply buffer holds per call, returning to the event loop in between. */
const DUMPS_PER_EXCHANGE = 1000;

export class IpvsNetlink implements IpvsDriver {
  /** One request or batch at a time: each starts from what the previous one left. */
  private readonly queue = new SerialQueue();
  private readonly batch: number;

  private constructor(
    private readonly channel: NetlinkChannel,
    private readonly familyId: number,
    private readonly options: IpvsNetlinkOptions,
  ) {
    this.batch = options.batch ?? 256;
  }

  /** Opens a socket and resolves the IPVS family, loading ip_vs first if the kernel has
   *  not (as ipvsadm does). Throws when the kernel has no IPVS at all. */
  static async open(options: IpvsNetlinkOptions = {}): Promise<IpvsNetlink> {
    const channel = new NetlinkChannel({ protocol: NETLINK_GENERIC, familyHeader: GENL_HEADER, timeout: options.requestTimeout ?? 30_000 });
    try {
      let familyId = await resolveFamily(channel);
      if (familyId === undefined) {
        await promisify(execFile)('modprobe', ['ip_vs']).catch(() => undefined);
        familyId = await resolveFamily(channel);
      }
      if (familyId === undefined) {
        throw new Error('the kernel has no IPVS (generic netlink family "IPVS" not found; is the ip_vs module available?)');
      }
      return new IpvsNetlink(channel, familyId, options);
    } catch (error) {
      channel.close();
      throw error;
    }
  }

  close(): void {
    this.channel.close();
  }

  async info(): Promise<IpvsInfo> {
    return this.queue.run(async () =>
      decodeInfo(first(await this.request({ kind: 'get-info', describe: () => 'read IPVS info', command: Command.getInfo }))),
    );
  }

  listServices(): Promise<IpvsService[]> {
    return this.queue.run(() => {
      const services: IpvsService[] = [];
      const request = { kind: 'list-services', describe: () => 'list services', command: Command.getService };
      return this.dump(request, (buffer, start, end) => services.push(decodeService(buffer, start, end))).then(() => services);
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
    return this.queue.run(() => {
      const destinations: IpvsDestination[] = [];
      const request = {
        kind: 'list-destinations',
        describe: () => `list destinations of ${describeService(service)}`,
        command: Command.getDest,
        build: (out: AttributeWriter) => putService(out, service, false),
      };
      return this.dump(request, (buffer, start, end) => destinations.push(decodeDestination(buffer, service.family, start, end))).then(
        () => destinations,
      );
    });
  }

  /** The destinations of each service (in the same order), many dumps to one call of the
   *  addon: per service, ipvsadm opens a socket and resolves the family. */
  listDestinationsOf(services: readonly ServiceIdentity[]): Promise<IpvsDestination[][]> {
    return this.queue.run(async () => {
      const lists = services.map((): IpvsDestination[] => []);
      for (let offset = 0; offset < services.length; offset += DUMPS_PER_EXCHANGE) {
        await this.dumpDestinations(services.slice(offset, offset + DUMPS_PER_EXCHANGE), lists, offset);
      }
      return lists;
    });
  }

  /** Sends the operations in order, `batch` to a datagram with only the last one asking
   *  for an acknowledgement: the kernel handles a socket's requests in the order sent and
   *  answers the others only when they fail. Returns to the event loop between batches. */
  apply(operations: readonly IpvsOperation[]): Promise<OperationFailure[]> {
    return this.queue.run(async () => {
      const failures: OperationFailure[] = [];
      for (let offset = 0; offset < operations.length; offset += this.batch) {
        if (offset > 0) await yieldToEventLoop();
        failures.push(...(await this.sendBatch(operations.slice(offset, offset + this.batch))));
      }
      return failures;
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
    return this.queue.run(async () => {
      const daemons: SyncDaemon[] = [];
      const request = { kind: 'list-daemons', describe: () => 'list sync daemons', command: Command.getDaemon };
      await this.dump(request, (buffer, start, end) => daemons.push(decodeDaemon(buffer.subarray(start, end))));
      return daemons;
    });
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

  /** One datagram of changes; resolves with those the kernel refused (matched by sequence number). */
  private async sendBatch(operations: readonly IpvsOperation[]): Promise<OperationFailure[]> {
    const first = this.channel.reserve(operations.length);
    const last = first + operations.length - 1;
    const frames = new AttributeWriter(operations.length * CHANGE_BYTES);
    operations.forEach((operation, index) => {
      const flags = NLM_F_REQUEST | (index === operations.length - 1 ? NLM_F_ACK : 0);
      frames.message(this.familyId, flags, first + index, this.channel.port, operationCommands[operation.kind], IPVS_GENL_VERSION, (out) =>
        putOperation(out, operation),
      );
    });
    const failures: OperationFailure[] = [];
    try {
      await this.channel.run(frames.toBuffer(), {
        first,
        last,
        reply: () => undefined,
        status: (seq, errno) => {
          const operation = operations[seq - first];
          if (errno !== 0 && operation)
            failures.push({ operation, error: kernelError(operation.kind, describeOperation(operation), errno) });
        },
        done: () => undefined,
      });
      return failures;
    } catch (error) {
      this.socketFailed(error as Error, operations.length);
      // what the kernel made of the rest is unknown: a repair reads the table again
      const refused = new Set(failures.map((failure) => failure.operation));
      return [
        ...failures,
        ...operations
          .filter((operation) => !refused.has(operation))
          .map((operation) => ({ operation, error: new Error(`${describeOperation(operation)}: ${(error as Error).message}`) })),
      ];
    }
  }

  /** One GET_DEST dump per service, numbered in order; the replies go to `lists[at + i]`. */
  private async dumpDestinations(services: readonly ServiceIdentity[], lists: IpvsDestination[][], at: number): Promise<void> {
    const first = this.channel.reserve(services.length);
    const frames = new AttributeWriter(services.length * DUMP_REQUEST_BYTES);
    services.forEach((service, index) => {
      frames.message(
        this.familyId,
        NLM_F_REQUEST | NLM_F_DUMP,
        first + index,
        this.channel.port,
        Command.getDest,
        IPVS_GENL_VERSION,
        (out) => putService(out, service, false),
      );
    });
    let failure: Error | undefined;
    const fail = (seq: number, errno: number, error?: Error) => {
      const service = services[seq - first];
      if (failure || !service) return;
      const describe = `list destinations of ${describeService(service)}`;
      failure = error ? new Error(`${describe}: ${error.message}`) : kernelError('list-destinations', describe, errno);
    };
    try {
      await this.channel.runEach(frames.toBuffer(), {
        first,
        last: first + services.length - 1,
        reply: (buffer, start, end, seq) => {
          const service = services[seq - first];
          if (failure || !service) return;
          try {
            lists[at + seq - first]?.push(decodeDestination(buffer, service.family, start, end));
          } catch (error) {
            fail(seq, 0, error as Error);
          }
        },
        status: (seq, errno) => {
          if (errno !== 0) fail(seq, errno);
        },
        done: (errno, seq) => {
          if (errno !== 0) fail(seq, errno);
        },
      });
    } catch (error) {
      this.socketFailed(error as Error, services.length);
      throw new Error(`list destinations of ${services.length} services: ${(error as Error).message}`, { cause: error });
    }
    if (failure) throw failure;
  }

  /** One request answered by an acknowledgement; resolves with the payloads (after the genl header) of the replies. */
  private async request({ kind, describe, command, build }: Request): Promise<Buffer[]> {
    const seq = this.channel.reserve(1);
    const frames = new AttributeWriter();
    frames.message(this.familyId, NLM_F_REQUEST | NLM_F_ACK, seq, this.channel.port, command, IPVS_GENL_VERSION, build);
    const payloads: Buffer[] = [];
    let errno = 0;
    await this.exchange(describe, frames, seq, {
      reply: (buffer, start, end) => payloads.push(Buffer.from(buffer.subarray(start, end))),
      status: (_, status) => (errno = status),
      done: () => undefined,
    });
    if (errno !== 0) throw kernelError(kind, describe(), errno);
    return payloads;
  }

  /** A dump: every reply is handed to `visit` where it lies in the reply buffer, so a
   *  large table is decoded without a copy per reply. */
  private async dump(
    { kind, describe, command, build }: Request,
    visit: (buffer: Buffer, start: number, end: number) => void,
  ): Promise<void> {
    const seq = this.channel.reserve(1);
    const frames = new AttributeWriter();
    frames.message(this.familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, this.channel.port, command, IPVS_GENL_VERSION, build);
    let errno = 0;
    let failure: Error | undefined;
    await this.exchange(describe, frames, seq, {
      reply: (buffer, start, end) => {
        try {
          if (!failure) visit(buffer, start, end);
        } catch (error) {
          failure = new Error(`${describe()}: ${(error as Error).message}`);
        }
      },
      status: (_, status) => (errno = status),
      done: (status) => (errno = status),
    });
    if (errno !== 0) throw kernelError(kind, describe(), errno);
    if (failure) throw failure;
  }

  /** One request on the socket; a failure of the socket itself is logged and named after the request. */
  private async exchange(
    describe: () => string,
    frames: AttributeWriter,
    seq: number,
    handlers: Omit<Exchange, 'first' | 'last'>,
  ): Promise<void> {
    try {
      await this.channel.run(frames.toBuffer(), { first: seq, last: seq, ...handlers });
    } catch (error) {
      this.socketFailed(error as Error, 1);
      throw new Error(`${describe()}: ${(error as Error).message}`, { cause: error });
    }
  }

  private socketFailed(error: Error, failedRequests: number): void {
    this.options.logger?.error({ event: 'ipvs.socket-error', err: error, failedRequests }, 'IPVS netlink socket error');
  }
}

function putOperation(out: AttributeWriter, operation: IpvsOperation): void {
  const { kind } = operation;
  if (kind === 'add-service' || kind === 'edit-service' || kind === 'delete-service') {
    putService(out, operation.service, kind !== 'delete-service');
  } else {
    putService(out, operation.service, false);
    putDestination(out, operation.destination, kind !== 'delete-destination');
  }
}

/** The IPVS family's number, or undefined when the kernel has none (ENOENT). */
async function resolveFamily(channel: NetlinkChannel): Promise<number | undefined> {
  const seq = channel.reserve(1);
  const frames = new AttributeWriter();
  frames.message(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, channel.port, CTRL_CMD_GETFAMILY, 1, (out) =>
    out.string(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME),
  );
  let familyId: number | undefined;
  let errno = 0;
  try {
    await channel.run(frames.toBuffer(), {
      first: seq,
      last: seq,
      reply: (buffer, start, end) => {
        const attributes = new AttributeReader(buffer, CTRL_ATTR_MAX, start, end);
        if (attributes.has(CTRL_ATTR_FAMILY_ID)) familyId = attributes.u16(CTRL_ATTR_FAMILY_ID);
      },
      status: (_, status) => (errno = status),
      done: () => undefined,
    });
  } catch (error) {
    throw new Error(`resolve the IPVS generic netlink family: ${(error as Error).message}`, { cause: error });
  }
  if (errno !== 0 && errnoName(errno) !== 'ENOENT') throw new Error(`resolve the IPVS generic netlink family: ${errnoName(errno)}`);
  return familyId;
}

function first(replies: Buffer[]): Buffer {
  const [reply] = replies;
  if (!reply) throw new Error('the kernel sent no reply');
  return reply;
}
