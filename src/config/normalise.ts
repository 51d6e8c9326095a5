// From a native document (whatever syntax it was written in) to the validated Model:
// fill the schema's defaults, report structural errors (TypeBox), run the semantic
// checks, then build the Model. Every problem is reported at the place the front end's
// Locator gives for the document path, named with the front end's own key.
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { parseIp, parseIpPrefix, type ParsedIp } from '../lib/address.js';
import { defaultPriority, defaultRealServerName, ipvsKernelSyncDefaults } from './defaults.js';
import { quote, unknownKeyFinding, type DiagnosticSink } from './diagnostics.js';
import { parseDuration } from '../lib/duration.js';
import { compileExpectation } from '../lib/expectation.js';
import type {
  IpvsKernelSyncSpec,
  ClaimedAddress,
  Forwarding,
  HealthCheckKind,
  HealthCheckSpec,
  Model,
  NetworkType,
  RealServer,
  StatusRange,
  Tunnel,
  TunnelChecksum,
  TunnelType,
  VirtualService,
} from './model.js';
import type { ServiceResolver } from './resolve.js';
import { DocumentSchema, expectedText, type Document } from './schema.js';

/** A path into the document, e.g. ['virtual_services', 0, 'real_servers', 1, 'port']. */
export type DocPath = readonly (string | number)[];

export interface Place {
  line: number;
  column: number;
  /** The key as the source format names it (`keepalive`, `-s`, `virtual_services[0].port`). */
  key: string;
  /** Set when the value came from another file than the one loaded (an include). */
  file?: string;
}

/** Maps document paths back to the source text. */
export interface Locator {
  /** The value at `path`, or its nearest ancestor present in the source. */
  value(path: DocPath): Place;
  /** The key of the property at `path` (for unknown keys); the value's place where the
   *  format has no separate key. */
  key(path: DocPath): Place;
}

export const kernelSchedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'];

/** ipvsadm's limit for a persistence timeout (31 days). */
const maxPersistenceSeconds = 31 * 86400;

export function forwardingFor(network: NetworkType): Forwarding {
  return network === 'nat' ? 'masq' : network === 'direct' ? 'gate' : 'ipip';
}

/** A heartbeat later than 2 intervals (or half the deadtime, if longer) is late. */
export function defaultWarntime(keepalive: number, deadtime: number): number {
  return Math.min(deadtime, Math.max(Math.round(deadtime / 2), 2 * keepalive));
}

export function defaultInitdead(deadtime: number): number {
  return 2 * deadtime;
}

export function defaultCheckKind(check: { send_program?: string; http?: unknown; send?: string; expect?: string }): HealthCheckKind {
  if (check.send_program !== undefined) return 'exec';
  if (check.http !== undefined) return 'http';
  if (check.send !== undefined || check.expect !== undefined) return 'send-expect';
  return 'tcp';
}

export interface NormaliseOptions {
  services: ServiceResolver;
  /** Parts the front end already reported as wrong: not checked again. */
  damaged?: readonly DocPath[];
}

/** Validates `input` as a document and returns the Model, or undefined when `sink` got
 *  errors. `input` is the front end's own object: defaults and resolved ports are
 *  written into it. */
export async function normalise(
  input: unknown,
  locator: Locator,
  sink: DiagnosticSink,
  options: NormaliseOptions,
): Promise<Model | undefined> {
  const document = withDefaults(DocumentSchema, input) as Document;
  const damaged = (options.damaged ?? []).map(toPointer);
  const dirty = [...damaged, ...reportStructuralErrors(document, locator, sink, damaged)];
  // A big table takes a while per stage: let timers (heartbeats) run in between.
  await yieldToEventLoop();
  new SemanticChecks(document, locator, sink, dirty, options).run();
  if (sink.hasErrors) return undefined;
  await yieldToEventLoop();
  return documentToModel(document);
}

/** Fills absent values with the schema's defaults, recursively. Unlike TypeBox's
 *  Value.Default it never replaces a value that is present but wrong (that would turn
 *  `virtual_services: {…}` silently into an empty list): the checks must see it. */
function withDefaults(schema: TSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    if (schema.items !== undefined) value.forEach((item) => withDefaults(schema.items as TSchema, item));
    return value;
  }
  if (value === null || typeof value !== 'object' || schema.properties === undefined) return value;
  const record = value as Record<string, unknown>;
  for (const [key, child] of Object.entries(schema.properties as Record<string, TSchema>)) {
    if (record[key] === undefined && child.default !== undefined) {
      record[key] = typeof child.default === 'object' ? structuredClone(child.default) : child.default;
    }
    withDefaults(child, record[key]);
  }
  return record;
}

let compiledSchema: TypeCheck<typeof DocumentSchema> | undefined;

function reportStructuralErrors(document: unknown, locator: Locator, sink: DiagnosticSink, damaged: string[]): string[] {
  // The compiled check is fast; the (slow) error walk runs only for documents that fail it.
  compiledSchema ??= TypeCompiler.Compile(DocumentSchema);
  if (compiledSchema.Check(document)) return [];
  const reported = new Set<string>();
  for (const error of compiledSchema.Errors(document)) {
    if (reported.has(error.path) || damaged.some((pointer) => error.path === pointer || error.path.startsWith(`${pointer}/`))) continue;
    reported.add(error.path);
    const path = pointerToPath(error.path);
    const name = path[path.length - 1];
    if (error.message === 'Unexpected property' && typeof name === 'string') {
      const place = locator.key(path);
      const known = Object.keys((error.schema as { properties?: object }).properties ?? {});
      sink.error(place, { ...unknownKeyFinding('key', name, known), key: place.key });
    } else if (error.message === 'Expected required property') {
      const place = locator.value(path.slice(0, -1));
      sink.error(place, {
        key: place.key,
        message: `missing required key '${String(name)}'`,
        expected: describe(error.schema),
        found: 'nothing',
      });
    } else {
      const place = locator.value(path);
      sink.error(place, { key: place.key, message: 'invalid value', expected: describe(error.schema), found: showValue(error.value) });
    }
  }
  return [...reported];
}

function toPointer(path: DocPath): string {
  return path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part));
}

/** "expected …" for a schema: what a valid value looks like. */
function describe(schema: TSchema): string {
  // A one-member union is its member: `persistence_engine: sip`.
  if (typeof schema.const === 'string') return schema.const;
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as TSchema[];
    if (members.every((member) => member.const !== undefined)) return `one of ${members.map((m) => String(m.const)).join(', ')}`;
    return members.map(describe).join(' or ');
  }
  switch (schema.type) {
    case 'integer':
      return `an integer from ${schema.minimum ?? '-∞'} to ${schema.maximum ?? '∞'}`;
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'a mapping of keys to values';
    case 'array':
      return schema.maxItems !== undefined ? `a list of at most ${schema.maxItems} entries` : 'a list';
    case 'string': {
      const rule = (schema.format ?? schema.pattern) as string | undefined;
      return rule === undefined ? 'text' : (expectedText[rule] ?? `text matching ${rule}`);
    }
    default:
      return 'a value';
  }
}

export function showValue(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return `a list of ${value.length} entr${value.length === 1 ? 'y' : 'ies'}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

type VirtualServiceDocument = Document['virtual_services'][number];
type RealServerDocument = VirtualServiceDocument['real_servers'][number];

/** Cross-field rules. They only look at parts without structural errors, so one bad
 *  value does not hide (or fake) problems elsewhere in the file. */
class SemanticChecks {
  constructor(
    private readonly document: Document,
    private readonly locator: Locator,
    private readonly sink: DiagnosticSink,
    private readonly dirtyPointers: string[],
    private readonly options: NormaliseOptions,
  ) {}

  run(): void {
    // clean() before reading a part: a part with a structural error may be null
    if (!this.intact([])) return;
    if (this.intact(['heartbeat'])) this.checkHeartbeat();
    if (this.intact(['nodes'])) this.checkNodes();
    if (this.clean(['nat_router']) && this.document.nat_router !== undefined)
      this.checkClaimedAddress(this.document.nat_router, ['nat_router']);
    if (this.intact(['ipvs_timeouts'])) {
      for (const name of ['tcp', 'tcp_fin', 'udp'] as const) this.wholeSeconds(['ipvs_timeouts', name], 1, 2147483647);
    }
    if (this.clean(['sync', 'group']) && this.document.sync.group !== undefined) this.checkSyncGroup(this.document.sync.group);
    if (this.intact(['sync', 'ipvs', 'kernel'])) this.checkIpvsKernelSync();
    if (this.intact(['hooks'])) this.positiveDuration(['hooks', 'timeout']);
    if (this.intact(['announce'])) this.positiveDuration(['announce', 'interval']);
    if (this.intact(['virtual_services'])) this.checkVirtualServices();
    if (this.clean(['metrics', 'listen']) && this.document.metrics !== undefined) this.checkListen(this.document.metrics.listen);
  }

  private checkListen(listen: string): void {
    const { host, port } = splitListen(listen);
    if (parseIp(host) === undefined) this.error(['metrics', 'listen'], 'invalid listen address', 'an IPv4 or IPv6 address', quote(host));
    else if (port < 1 || port > 65535) this.error(['metrics', 'listen'], 'invalid listen port', 'a port from 1 to 65535', String(port));
  }

  /** No structural error at `path`, inside it, or in a part holding it. */
  private clean(path: DocPath): boolean {
    if (this.dirtyPointers.length === 0) return true;
    const pointer = toPointer(path);
    return this.intact(path) && !this.dirtyPointers.some((dirty) => dirty.startsWith(`${pointer}/`));
  }

  /** No structural error at `path` or in a part holding it (inside it there may be). */
  private intact(path: DocPath): boolean {
    if (this.dirtyPointers.length === 0) return true;
    const pointer = toPointer(path);
    return !this.dirtyPointers.some((dirty) => dirty === pointer || pointer.startsWith(`${dirty}/`) || dirty === '');
  }

  private error(path: DocPath, message: string, expected?: string, found?: string): void {
    const place = this.locator.value(path);
    this.sink.error(place, {
      key: place.key,
      message,
      ...(expected !== undefined ? { expected } : {}),
      ...(found !== undefined ? { found } : {}),
    });
  }

  private warning(path: DocPath, message: string): void {
    const place = this.locator.value(path);
    this.sink.warning(place, { key: place.key, message });
  }

  private durationAt(path: DocPath): number | undefined {
    let value: unknown = this.document;
    for (const part of path) value = (value as Record<string | number, unknown> | undefined)?.[part];
    return typeof value === 'string' ? parseDuration(value) : undefined;
  }

  private positiveDuration(path: DocPath): void {
    if (this.durationAt(path) === 0) this.error(path, 'must not be zero', 'a duration greater than 0', '0');
  }

  private wholeSeconds(path: DocPath, minimum: number, maximum: number): void {
    const ms = this.durationAt(path);
    if (ms === undefined) return;
    if (ms % 1000 !== 0 || ms / 1000 < minimum || ms / 1000 > maximum) {
      this.error(path, 'not a usable number of seconds', `whole seconds from ${minimum}s to ${maximum}s`, `${ms}ms`);
    }
  }

  private checkHeartbeat(): void {
    const keepalive = this.durationAt(['heartbeat', 'keepalive']);
    const deadtime = this.durationAt(['heartbeat', 'deadtime']);
    if (keepalive === undefined || deadtime === undefined) return;
    if (keepalive < 10) this.error(['heartbeat', 'keepalive'], 'too short', 'at least 10ms', `${keepalive}ms`);
    if (keepalive >= deadtime) {
      this.error(
        ['heartbeat', 'keepalive'],
        'keepalive must be shorter than deadtime',
        `less than the deadtime (${deadtime}ms)`,
        `${keepalive}ms`,
      );
      return;
    }
    if (deadtime < 2 * keepalive) {
      this.warning(
        ['heartbeat', 'deadtime'],
        `deadtime ${deadtime}ms is less than two keepalives (${keepalive}ms): one lost heartbeat causes a failover`,
      );
    }
    const warntime = this.durationAt(['heartbeat', 'warntime']);
    if (warntime !== undefined && (warntime <= keepalive || warntime > deadtime)) {
      this.error(
        ['heartbeat', 'warntime'],
        'warntime out of range',
        `more than keepalive (${keepalive}ms) and at most deadtime (${deadtime}ms)`,
        `${warntime}ms`,
      );
    }
    const initdead = this.durationAt(['heartbeat', 'initdead']);
    if (initdead !== undefined && initdead < deadtime) {
      this.error(['heartbeat', 'initdead'], 'initdead shorter than deadtime', `at least the deadtime (${deadtime}ms)`, `${initdead}ms`);
    }
  }

  private checkNodes(): void {
    const names = new Map<string, number>();
    const addresses = new Map<string, number>();
    this.document.nodes.forEach((node, index) => {
      if (!this.clean(['nodes', index])) return;
      const earlierName = names.get(node.name);
      if (earlierName !== undefined)
        this.error(['nodes', index, 'name'], `node name '${node.name}' is used twice`, 'a name unique among nodes', quote(node.name));
      names.set(node.name, index);
      for (const field of ['address', 'private_address'] as const) {
        const text = node[field];
        const ip = text !== undefined ? parseIp(text) : undefined;
        if (ip === undefined) continue;
        const earlier = addresses.get(ip.address);
        if (earlier !== undefined)
          this.error(['nodes', index, field], `address ${ip.address} is used by two nodes`, 'an address unique among nodes', ip.address);
        addresses.set(ip.address, index);
      }
    });
    const [first, second] = this.document.nodes;
    if (
      first !== undefined &&
      second !== undefined &&
      this.clean(['nodes']) &&
      (first.private_address === undefined) !== (second.private_address === undefined)
    ) {
      const lonely = first.private_address !== undefined ? 0 : 1;
      this.warning(['nodes', lonely, 'private_address'], 'only one node has a private address: the second heartbeat path needs both');
    }
  }

  private checkClaimedAddress(claimed: { address: string; device?: string; label?: string }, path: DocPath): void {
    const parsed = parseIpPrefix(claimed.address);
    if (parsed?.prefix === 0) {
      const bits = parsed.family === 4 ? 32 : 128;
      this.error(
        [...path, 'address'],
        'a /0 prefix would route every address to the device',
        `a prefix from 1 to ${bits} (none: a /${bits} host address)`,
        quote(claimed.address),
      );
    }
    const { device, label } = splitDevice(claimed);
    if (label === undefined || parsed === undefined) return;
    if (parsed.family === 6)
      this.error([...path, 'label'], 'alias labels exist for IPv4 addresses only', 'no label on an IPv6 address', quote(label));
    else if (device === undefined) this.error([...path, 'label'], 'a label needs a device', 'device set as well', 'no device');
    else if (!label.startsWith(device))
      this.error([...path, 'label'], `the kernel requires a label to start with the device name '${device}'`, `${device}:N`, quote(label));
  }

  private checkVirtualServices(): void {
    const names = new Map<string, number>();
    const identities = new Map<string, number>();
    const nodes = this.clean(['nodes']) ? this.document.nodes : [];
    const nodeAddresses = new Set(
      nodes.flatMap((node) => [node.address, node.private_address]).map((a) => (a !== undefined ? parseIp(a)?.address : undefined)),
    );
    this.document.virtual_services.forEach((service, index) => {
      const path = ['virtual_services', index];
      if (!this.intact(path)) return;
      const field = (name: string): boolean => this.clean([...path, name]);
      if (field('name')) {
        if (names.has(service.name))
          this.error(
            [...path, 'name'],
            `virtual service name '${service.name}' is used twice`,
            'a name unique among virtual services',
            quote(service.name),
          );
        names.set(service.name, index);
      }
      const addressable = field('vip') && field('fwmark') && field('family');
      const family = addressable ? this.checkServiceAddress(service, path, nodeAddresses) : undefined;
      if (field('port')) this.resolvePort(service, path, [...path, 'port'], service.port);
      const identity = addressable && field('port') && field('protocol') ? serviceIdentity(service) : undefined;
      if (identity !== undefined) {
        const earlier = identities.get(identity);
        if (earlier !== undefined) {
          const earlierPlace = this.locator.value(['virtual_services', earlier]);
          this.error(
            path,
            `duplicate virtual service: ${identity} is already defined at line ${earlierPlace.line}`,
            'each address, protocol and port (or fwmark) once',
            identity,
          );
        }
        identities.set(identity, index);
      }
      if (field('scheduler') && !kernelSchedulers.includes(service.scheduler)) {
        this.error([...path, 'scheduler'], 'unknown scheduler', `one of ${kernelSchedulers.join(', ')}`, quote(service.scheduler));
      }
      if (field('scheduler') && field('scheduler_flags')) this.checkSchedulerFlags(service, path);
      if (field('persistence') && field('port')) this.checkPersistence(service, path, family);
      if (service.persistence_engine !== undefined && service.persistence === undefined && field('persistence_engine')) {
        this.warning([...path, 'persistence_engine'], 'a persistence engine has no effect without persistence');
      }
      if (field('one_packet') && field('protocol') && service.one_packet && service.fwmark === undefined && service.protocol !== 'udp') {
        this.error(
          [...path, 'one_packet'],
          'one-packet scheduling is only for UDP virtual services',
          'protocol udp or a fwmark service',
          service.protocol,
        );
      }
      if (service.sorry_server !== undefined && field('sorry_server'))
        this.resolvePort(service, path, [...path, 'sorry_server', 'port'], service.sorry_server.port, service.sorry_server);
      if (field('health_check')) this.checkHealthCheck(service, path);
      if (this.intact([...path, 'real_servers']) && field('health_check') && field('port')) this.checkRealServers(service, path, family);
    });
  }

  /** The service's address family, or undefined when its address is unusable. */
  private checkServiceAddress(service: VirtualServiceDocument, path: DocPath, nodeAddresses: Set<string | undefined>): 4 | 6 | undefined {
    if (service.vip === undefined && service.fwmark === undefined) {
      this.error(path, 'a virtual service needs a vip, a fwmark or both', 'vip or fwmark', 'neither');
      return undefined;
    }
    if (service.vip === undefined) return service.family ?? 4;
    this.checkClaimedAddress(service.vip, [...path, 'vip']);
    const vip = parseIpPrefix(service.vip.address);
    if (vip === undefined) return undefined;
    if (nodeAddresses.has(vip.address))
      this.error([...path, 'vip', 'address'], "the VIP is a director's own address", 'an address no node uses', vip.address);
    if (service.family !== undefined && service.family !== vip.family) {
      this.error([...path, 'family'], 'family does not match the VIP', `${vip.family} (the VIP's family)`, String(service.family));
    }
    return vip.family;
  }

  /** Turns a service name into its port in place (ipvsadm's resolution: by the service's
   *  protocol; fwmark services resolve as TCP). */
  private resolvePort(
    service: VirtualServiceDocument,
    servicePath: DocPath,
    portPath: DocPath,
    value: number | string | undefined,
    holder?: { port: number | string },
  ): void {
    if (typeof value === 'number') return;
    if (value === undefined) {
      if (service.fwmark === undefined && portPath.length === servicePath.length + 1) {
        this.error(portPath, 'a virtual service without fwmark needs a port', 'a port number or service name', 'nothing');
      }
      return;
    }
    const protocol = service.protocol === 'udp' ? 'udp' : 'tcp';
    const port = this.options.services(value, protocol);
    if (port === undefined) {
      this.error(
        portPath,
        `unknown service name '${value}' for ${protocol}`,
        `a port number or a ${protocol} service name from /etc/services`,
        quote(value),
      );
      return;
    }
    const target = (holder ?? service) as { port: number | string };
    target.port = port;
  }

  private checkPersistence(service: VirtualServiceDocument, path: DocPath, family: 4 | 6 | undefined): void {
    const persistence = service.persistence;
    if (persistence === undefined) {
      if (service.port === 0 && service.fwmark === undefined) {
        this.error(
          [...path, 'port'],
          'zero port specified for non-persistent service',
          'a port, or persistence for an all-ports service',
          '0',
        );
      }
      return;
    }
    this.wholeSeconds([...path, 'persistence', 'timeout'], 1, maxPersistenceSeconds);
    const netmask = persistence.netmask;
    if (netmask === undefined || family === undefined) return;
    if (family === 4 && typeof netmask === 'number') {
      this.error(
        [...path, 'persistence', 'netmask'],
        'an IPv4 service takes a dotted netmask',
        'a netmask such as 255.255.255.0',
        String(netmask),
      );
    }
    if (family === 6 && typeof netmask === 'string') {
      this.error([...path, 'persistence', 'netmask'], 'an IPv6 service takes a prefix length', 'an integer from 1 to 128', quote(netmask));
    }
  }

  /** ipvsadm's rule: a class D IPv4 address or an ff00::/8 IPv6 one. */
  private checkSyncGroup(group: string): void {
    const parsed = parseIp(group);
    if (parsed === undefined) return;
    const multicast = parsed.family === 4 ? Number(parsed.address.split('.')[0]) >> 4 === 0xe : /^ff/i.test(parsed.address);
    if (!multicast)
      this.error(['sync', 'group'], `invalid IPv${parsed.family} mcast-group`, `an IPv${parsed.family} multicast address`, parsed.address);
  }

  /** The loopback sync daemons: an IPv4 group (the kernel's daemons on lo speak IPv4),
   *  whole seconds, and a power of two of ports (the kernel refuses anything else). */
  private checkIpvsKernelSync(): void {
    const kernel = this.document.sync.ipvs.kernel;
    const path = ['sync', 'ipvs', 'kernel'];
    const group = parseIp(kernel.group);
    if (group !== undefined && (group.family !== 4 || Number(group.address.split('.')[0]) >> 4 !== 0xe))
      this.error([...path, 'group'], 'not an IPv4 multicast group', 'an IPv4 multicast address such as 239.255.84.78', group.address);
    this.wholeSeconds([...path, 'sync_refresh_period'], 0, 2147483);
    if ((kernel.sync_ports & (kernel.sync_ports - 1)) !== 0)
      this.error([...path, 'sync_ports'], 'not a power of two', '1, 2, 4, 8, 16, 32 or 64', String(kernel.sync_ports));
    if (kernel.sync_period !== 0 && kernel.sync_threshold >= kernel.sync_period)
      this.error(
        [...path, 'sync_threshold'],
        'not below sync_period',
        `less than sync_period (${kernel.sync_period}), or sync_period 0`,
        String(kernel.sync_threshold),
      );
  }

  /** ipvsadm's rule: the sh- and mh- flags name bits only those schedulers read. */
  private checkSchedulerFlags(service: VirtualServiceDocument, path: DocPath): void {
    (service.scheduler_flags ?? []).forEach((flag, index) => {
      const owner = /^(sh|mh)-/.exec(flag)?.[1];
      if (owner !== undefined && owner !== service.scheduler) {
        this.error(
          [...path, 'scheduler_flags', index],
          `incompatible scheduler flag '${flag}'`,
          `scheduler ${owner}, or flag-1, flag-2, flag-3`,
          `scheduler ${service.scheduler}`,
        );
      }
    });
  }

  /** ipvsadm's table of tunnel types and options (--tun-port, --tun-*csum). */
  private checkTunnel(tunnel: Tunnel, forwarding: Forwarding, path: DocPath): void {
    if (forwarding !== 'ipip') {
      this.error(path, 'tunnel options conflict with forwarding', 'forwarding ipip', forwarding);
      return;
    }
    if (tunnel.type === 'gue' && tunnel.port === undefined)
      this.error([...path, 'port'], 'a gue tunnel needs a port', 'the UDP port the real server decapsulates on', 'nothing');
    if (tunnel.type !== 'gue' && tunnel.port !== undefined)
      this.error([...path, 'port'], `tunnel type ${tunnel.type} takes no port`, 'no port (it is for gue)', String(tunnel.port));
    const checksums: Record<TunnelType, readonly TunnelChecksum[]> = {
      ipip: ['none'],
      gue: ['none', 'csum', 'remcsum'],
      gre: ['none', 'csum'],
    };
    const allowed = checksums[tunnel.type];
    if (!allowed.includes(tunnel.checksum))
      this.error(
        [...path, 'checksum'],
        `tunnel type ${tunnel.type} takes no checksum ${tunnel.checksum}`,
        `one of ${allowed.join(', ')}`,
        tunnel.checksum,
      );
  }

  private checkHealthCheck(service: VirtualServiceDocument, path: DocPath): void {
    const check = service.health_check;
    const checkPath = [...path, 'health_check'];
    const kind = check.kind ?? defaultCheckKind(check);
    if (check.port !== undefined) this.resolvePort(service, path, [...checkPath, 'port'], check.port, check as { port: number | string });
    if (service.protocol === 'sctp' && (kind === 'tcp' || kind === 'send-expect' || kind === 'http')) {
      this.error([...checkPath, 'kind'], `a ${kind} check cannot probe an SCTP service`, 'kind exec (or none) for protocol sctp', kind);
    }
    if (kind === 'exec' && check.send_program === undefined)
      this.error([...checkPath, 'kind'], 'an exec check needs send_program', 'send_program set', 'nothing');
    if (kind === 'send-expect' && check.send === undefined && check.expect === undefined) {
      this.error([...checkPath, 'kind'], 'a send-expect check needs send or expect', 'send or expect set', 'neither');
    }
    for (const timing of ['interval', 'timeout', 'retry_interval'] as const) this.positiveDuration([...checkPath, timing]);
    (check.http?.status_codes ?? []).forEach((code, index) => {
      const range = statusRange(code);
      if (range.from > range.to)
        this.error(
          [...checkPath, 'http', 'status_codes', index],
          'empty status code range',
          'LOW-HIGH with LOW <= HIGH',
          quote(String(code)),
        );
    });
    const regexes: [DocPath, string | undefined][] = [
      [[...checkPath, 'expect'], check.use_regex ? check.expect : undefined],
      [[...checkPath, 'http', 'body_regex'], check.http?.body_regex],
    ];
    for (const [regexPath, source] of regexes) {
      if (source === undefined) continue;
      try {
        compileExpectation(source, true);
      } catch (error) {
        this.error(
          regexPath,
          (error as Error).message,
          'a regular expression (POSIX ERE with Perl escapes; no backreferences or lookaround)',
          quote(source),
        );
      }
    }
  }

  private checkRealServers(service: VirtualServiceDocument, path: DocPath, family: 4 | 6 | undefined): void {
    const seen = new Map<string, number>();
    const names = new Map<string, number>();
    const kind = service.health_check.kind ?? defaultCheckKind(service.health_check);
    service.real_servers.forEach((server, index) => {
      const serverPath = [...path, 'real_servers', index];
      if (!this.clean(serverPath)) return;
      this.resolvePort(service, path, [...serverPath, 'port'], server.port, server);
      const ip = parseIp(server.address);
      const port = typeof server.port === 'number' ? server.port : undefined;
      if (ip === undefined || port === undefined) return;
      // Derived names clash exactly when the servers do, which is reported below.
      if (server.name !== undefined) {
        if (names.has(server.name))
          this.error(
            [...serverPath, 'name'],
            `real server name '${server.name}' is used twice in this service`,
            'a name unique within the service',
            quote(server.name),
          );
        names.set(server.name, index);
      }
      const endpoint = defaultRealServerName(ip.address, port);
      const earlier = seen.get(endpoint);
      if (earlier !== undefined) {
        const earlierPlace = this.locator.value([...path, 'real_servers', earlier]);
        this.error(
          serverPath,
          `real server ${endpoint} is listed twice (first at line ${earlierPlace.line})`,
          'each real server once per service',
          endpoint,
        );
      }
      seen.set(endpoint, index);
      const forwarding = server.forwarding ?? forwardingFor(this.document.network);
      if (server.tunnel !== undefined) this.checkTunnel(server.tunnel, forwarding, [...serverPath, 'tunnel']);
      if (family !== undefined && ip.family !== family && forwarding !== 'ipip') {
        this.error(
          [...serverPath, 'address'],
          `an IPv${ip.family} real server behind an IPv${family} service needs tunnelling`,
          `an IPv${family} address, or forwarding ipip`,
          ip.address,
        );
      }
      if (
        port !== 0 &&
        forwarding !== 'masq' &&
        service.fwmark === undefined &&
        typeof service.port === 'number' &&
        port !== service.port
      ) {
        this.warning(
          [...serverPath, 'port'],
          `direct routing and tunnelling keep the service's port ${service.port}; port ${port} is ignored by the kernel`,
        );
      }
      const needsPort = kind === 'tcp' || kind === 'send-expect' || kind === 'http';
      if (needsPort && port === 0 && (service.port === 0 || service.port === undefined) && service.health_check.port === undefined) {
        this.error([...serverPath, 'port'], `a ${kind} health check needs a port`, 'a port on the real server or the service', '0');
      }
      if (server.upper_threshold > 0 && server.lower_threshold > server.upper_threshold) {
        this.error(
          [...serverPath, 'lower_threshold'],
          'lower threshold above the upper one',
          `at most ${server.upper_threshold}`,
          String(server.lower_threshold),
        );
      }
    });
  }
}

function serviceIdentity(service: VirtualServiceDocument): string | undefined {
  if (service.fwmark !== undefined) {
    const family = service.vip !== undefined ? parseIpPrefix(service.vip.address)?.family : (service.family ?? 4);
    return `fwmark ${service.fwmark}${family === 6 ? ' (IPv6)' : ''}`;
  }
  const vip = service.vip !== undefined ? parseIpPrefix(service.vip.address) : undefined;
  if (vip === undefined || typeof service.port !== 'number') return undefined;
  return `${service.protocol} ${defaultRealServerName(vip.address, service.port)}`;
}

/** `device: eth0:1` is shorthand for device eth0, label eth0:1 (':' cannot be part of a
 *  Linux interface name, so this is unambiguous). */
function splitDevice(claimed: { device?: string; label?: string }): { device?: string; label?: string } {
  const [device, alias] = (claimed.device ?? '').split(':');
  const label = claimed.label ?? (alias !== undefined ? claimed.device : undefined);
  return { ...(device ? { device } : {}), ...(label !== undefined ? { label } : {}) };
}

function toClaimedAddress(claimed: { address: string; device?: string; label?: string }): ClaimedAddress {
  const parsed = parseIpPrefix(claimed.address);
  if (parsed === undefined) throw new Error(`unvalidated address ${claimed.address}`);
  return { address: parsed.address, family: parsed.family, prefix: parsed.prefix, ...splitDevice(claimed) };
}

/** `200` or `"200-299"` (validated by the schema) as an inclusive range. */
function statusRange(code: number | string): StatusRange {
  const [from = 0, to = from] = String(code).split('-').map(Number);
  return { from, to };
}

function ms(text: string): number {
  const value = parseDuration(text);
  if (value === undefined) throw new Error(`unvalidated duration ${text}`);
  return value;
}

function optionalSeconds(text: string | undefined): number | undefined {
  return text === undefined ? undefined : ms(text) / 1000;
}

/** The model carries the block only when it differs from the defaults (models and their
 *  tests stay as they were); its user takes ipvsKernelSyncDefaults() otherwise. */
function nonDefaultIpvsKernelSync(spec: IpvsKernelSyncSpec): IpvsKernelSyncSpec | undefined {
  return isDeepStrictEqual(spec, ipvsKernelSyncDefaults()) ? undefined : spec;
}

function toIpvsKernelSync(kernel: Document['sync']['ipvs']['kernel']): IpvsKernelSyncSpec {
  return compact({
    group: ip(kernel.group).address,
    port: kernel.port,
    threshold: kernel.sync_threshold,
    period: kernel.sync_period,
    refreshPeriod: ms(kernel.sync_refresh_period) / 1000,
    retries: kernel.sync_retries,
    persistMode: kernel.sync_persist_mode,
    ports: kernel.sync_ports,
    queueLimit: kernel.sync_qlen_max,
    socketSize: kernel.sync_sock_size,
  });
}

/** A validated CIDR in canonical form, always with its prefix length. */
function cidrText(text: string): string {
  const parsed = parseIpPrefix(text);
  if (parsed === undefined) throw new Error(`unvalidated CIDR ${text}`);
  return `${parsed.address}/${parsed.prefix}`;
}

function ip(text: string): ParsedIp {
  const parsed = parseIp(text);
  if (parsed === undefined) throw new Error(`unvalidated address ${text}`);
  return parsed;
}

/** `192.0.2.1:9539` or `[2001:db8::1]:9539` (the schema's pattern) as its parts. */
function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  return { host: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(colon + 1)) };
}

function listenSpec(listen: string): { host: string; port: number } {
  const { host, port } = splitListen(listen);
  return { host: ip(host).address, port };
}

function numericPort(value: number | string): number {
  if (typeof value !== 'number') throw new Error(`unresolved port ${value}`);
  return value;
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The Model of a document that passed all checks. */
function documentToModel(document: Document): Model {
  const keepalive = ms(document.heartbeat.keepalive);
  const deadtime = ms(document.heartbeat.deadtime);
  const network = document.network;
  const model: Model = {
    cluster: document.cluster,
    serialNo: document.serial_no,
    nodes: document.nodes.map((node, index) =>
      compact({
        name: node.name,
        address: ip(node.address).address,
        privateAddress: node.private_address !== undefined ? ip(node.private_address).address : undefined,
        priority: node.priority ?? defaultPriority(index),
      }),
    ),
    heartbeat: {
      port: document.heartbeat.port,
      keepalive,
      deadtime,
      warntime: document.heartbeat.warntime !== undefined ? ms(document.heartbeat.warntime) : defaultWarntime(keepalive, deadtime),
      initdead: document.heartbeat.initdead !== undefined ? ms(document.heartbeat.initdead) : defaultInitdead(deadtime),
    },
    auth: { keyFile: document.auth.key_file, keyId: document.auth.key_id },
    preempt: document.preempt,
    network,
    ...(document.nat_router !== undefined ? { natRouter: toClaimedAddress(document.nat_router) } : {}),
    enableForwarding: document.enable_forwarding,
    virtualServices: document.virtual_services.map((service) => toVirtualService(service, network)),
    sync: compact({
      enabled: document.sync.enabled,
      interface: document.sync.interface,
      syncId: document.sync.sync_id,
      port: document.sync.port,
      group: document.sync.group !== undefined ? ip(document.sync.group).address : undefined,
      ttl: document.sync.ttl,
      maxLength: document.sync.max_length,
      conntrack: {
        enabled: document.sync.conntrack.enabled ?? document.nat_router !== undefined,
        cacheMaxEntries: document.sync.conntrack.cache_max_entries,
        commit: document.sync.conntrack.commit,
        filter: {
          include: document.sync.conntrack.filter.include.map(cidrText),
          exclude: document.sync.conntrack.filter.exclude.map(cidrText),
        },
      },
      ipvs: { enabled: document.sync.ipvs.enabled },
      ipvsKernel: nonDefaultIpvsKernelSync(toIpvsKernelSync(document.sync.ipvs.kernel)),
    }),
    ipvsTimeouts: compact({
      tcp: optionalSeconds(document.ipvs_timeouts.tcp),
      tcpFin: optionalSeconds(document.ipvs_timeouts.tcp_fin),
      udp: optionalSeconds(document.ipvs_timeouts.udp),
    }),
    hooks: compact({
      activeCmd: document.hooks.active_cmd,
      inactiveCmd: document.hooks.inactive_cmd,
      notify: document.hooks.notify,
      timeout: ms(document.hooks.timeout),
    }),
    announce: { count: document.announce.count, interval: ms(document.announce.interval), refresh: ms(document.announce.refresh) },
    monitorLinks: { enabled: document.monitor_links.enabled, interfaces: [...document.monitor_links.interfaces] },
    keepServicesOnRelease: document.keep_services_on_release,
    ...(document.metrics !== undefined && { metrics: listenSpec(document.metrics.listen) }),
  };
  return model;
}

function toVirtualService(service: VirtualServiceDocument, network: NetworkType): VirtualService {
  const result: VirtualService = compact({
    name: service.name,
    active: service.active,
    vip: service.vip !== undefined ? toClaimedAddress(service.vip) : undefined,
    family: service.vip === undefined && service.family === 6 ? (6 as const) : undefined,
    protocol: service.protocol,
    fwmark: service.fwmark,
    port: service.port !== undefined ? numericPort(service.port) : 0,
    scheduler: service.scheduler,
    schedulerFlags:
      service.scheduler_flags !== undefined && service.scheduler_flags.length > 0 ? [...new Set(service.scheduler_flags)] : undefined,
    persistence:
      service.persistence !== undefined
        ? compact({
            timeout: ms(service.persistence.timeout) / 1000,
            netmask: service.persistence.netmask !== undefined ? String(service.persistence.netmask) : undefined,
          })
        : undefined,
    persistenceEngine: service.persistence_engine,
    onePacket: service.one_packet,
    sorryServer:
      service.sorry_server !== undefined
        ? {
            ...ip(service.sorry_server.address),
            port: numericPort(service.sorry_server.port),
            forwarding: service.sorry_server.forwarding ?? forwardingFor(network),
            weight: service.sorry_server.weight,
          }
        : undefined,
    healthCheck: toHealthCheck(service.health_check),
    realServers: service.real_servers.map((server) => toRealServer(server, network)),
  });
  return result;
}

function toHealthCheck(check: VirtualServiceDocument['health_check']): HealthCheckSpec {
  return compact({
    kind: check.kind ?? defaultCheckKind(check),
    interval: ms(check.interval),
    timeout: ms(check.timeout),
    reentry: ms(check.reentry),
    reentryChecks: check.reentry_checks,
    failures: check.failures,
    retryInterval: check.retry_interval !== undefined ? ms(check.retry_interval) : undefined,
    send: check.send,
    expect: check.expect,
    useRegex: check.use_regex,
    sendProgram: check.send_program,
    port: check.port !== undefined ? numericPort(check.port) : undefined,
    http:
      check.http !== undefined
        ? compact({
            path: check.http.path,
            host: check.http.host,
            status: check.http.status,
            statusCodes: check.http.status_codes?.map(statusRange),
            bodyRegex: check.http.body_regex,
            digest: check.http.digest?.toLowerCase(),
            tls: check.http.tls,
          })
        : undefined,
    quiesceServer: check.quiesce_server,
    slowStart: ms(check.slow_start),
    slowStartCurve: check.slow_start_curve,
    loadMonitor: check.load_monitor,
  });
}

function toRealServer(server: RealServerDocument, network: NetworkType): RealServer {
  const address = ip(server.address);
  const port = numericPort(server.port);
  const tunnel = server.tunnel;
  return {
    name: server.name ?? defaultRealServerName(address.address, port),
    address: address.address,
    family: address.family,
    port,
    weight: server.weight,
    active: server.active,
    forwarding: server.forwarding ?? forwardingFor(network),
    upperThreshold: server.upper_threshold,
    lowerThreshold: server.lower_threshold,
    // A plain IPIP tunnel is what no tunnel means.
    ...(tunnel !== undefined && tunnel.type !== 'ipip'
      ? { tunnel: compact({ type: tunnel.type, port: tunnel.port, checksum: tunnel.checksum }) }
      : {}),
  };
}
