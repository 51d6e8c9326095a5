// ipvsadm rule files: `ipvsadm -S` / `-S -n` output (/etc/ipvsadm.rules) and hand-written
// files of ipvsadm commands, with or without a leading `ipvsadm` / `/sbin/ipvsadm`.
// Commands apply in order with ipvsadm's rules and messages: default scheduler wlc,
// `-p` without a timeout is 360 s, real servers default to direct routing, weight 1
// and the service's port, and an `-a` for a service no `-A` defined before is
// "Service not defined". Host and service names resolve as ipvsadm resolves them.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { netmaskToPrefix, parseIp } from '../lib/address.js';
import { quote, unknownKeyFinding, type DiagnosticSink } from './diagnostics.js';
import type { FrontEndContext, FrontEndResult } from './frontend.js';
import { DocumentBuilder, HostNames } from './legacy.js';
import type { Forwarding, TunnelChecksum, TunnelType } from './model.js';
import { defaultRealServerName } from './defaults.js';
import type { DocPath, Place } from './normalise.js';
import { schedulerFlagNames, tunnelTypes } from './schema.js';

interface Word {
  text: string;
  line: number;
  column: number;
}

type Protocol = 'tcp' | 'udp' | 'sctp';

/** An address[:port] as written; `address` is filled in once host names are resolved. */
interface Endpoint {
  word: Word;
  host: string;
  port?: string;
  address?: string;
}

interface ServiceRef {
  word: Word;
  option: string;
  protocol: Protocol;
  endpoint?: Endpoint;
  fwmark?: number;
  ipv6: boolean;
}

type Verb =
  | 'add-service'
  | 'edit-service'
  | 'delete-service'
  | 'clear'
  | 'add-server'
  | 'edit-server'
  | 'delete-server'
  | 'set'
  | 'start-daemon'
  | 'ignored';

interface Command {
  verb: Verb;
  word: Word;
  service?: ServiceRef;
  server?: Endpoint;
  values: Map<string, { word: Word; value?: Word[] }>;
}

interface OptionSpec {
  name: string;
  /** Words taken after the option: 0, 1, 3 (--set), or 'optional' (-p). */
  takes: 0 | 1 | 3 | 'optional';
  verb?: Verb;
  /** Options that only affect listing; accepted silently. */
  listing?: boolean;
}

const optionList: [string[], OptionSpec][] = [
  [['-A', '--add-service'], { name: 'add-service', takes: 0, verb: 'add-service' }],
  [['-E', '--edit-service'], { name: 'edit-service', takes: 0, verb: 'edit-service' }],
  [['-D', '--delete-service'], { name: 'delete-service', takes: 0, verb: 'delete-service' }],
  [['-C', '--clear'], { name: 'clear', takes: 0, verb: 'clear' }],
  [['-a', '--add-server'], { name: 'add-server', takes: 0, verb: 'add-server' }],
  [['-e', '--edit-server'], { name: 'edit-server', takes: 0, verb: 'edit-server' }],
  [['-d', '--delete-server'], { name: 'delete-server', takes: 0, verb: 'delete-server' }],
  [['--set'], { name: 'set', takes: 3, verb: 'set' }],
  [['--start-daemon'], { name: 'start-daemon', takes: 1, verb: 'start-daemon' }],
  [
    ['-L', '-l', '--list', '-S', '--save', '-Z', '--zero', '-R', '--restore', '--stop-daemon', '-h', '--help', '-v', '--version'],
    { name: 'listing', takes: 0, verb: 'ignored' },
  ],
  [['-t', '--tcp-service'], { name: 'tcp-service', takes: 1 }],
  [['-u', '--udp-service'], { name: 'udp-service', takes: 1 }],
  [['--sctp-service'], { name: 'sctp-service', takes: 1 }],
  [['-f', '--fwmark-service'], { name: 'fwmark-service', takes: 1 }],
  [['-s', '--scheduler'], { name: 'scheduler', takes: 1 }],
  [['-p', '--persistent'], { name: 'persistent', takes: 'optional' }],
  [['-M', '--netmask'], { name: 'netmask', takes: 1 }],
  [['--pe'], { name: 'pe', takes: 1 }],
  [['-b', '--sched-flags'], { name: 'sched-flags', takes: 1 }],
  [['-r', '--real-server'], { name: 'real-server', takes: 1 }],
  [['-g', '--gatewaying'], { name: 'gatewaying', takes: 0 }],
  [['-i', '--ipip'], { name: 'ipip', takes: 0 }],
  [['-m', '--masquerading'], { name: 'masquerading', takes: 0 }],
  [['--tun-type'], { name: 'tun-type', takes: 1 }],
  [['--tun-port'], { name: 'tun-port', takes: 1 }],
  [['--tun-nocsum'], { name: 'tun-nocsum', takes: 0 }],
  [['--tun-csum'], { name: 'tun-csum', takes: 0 }],
  [['--tun-remcsum'], { name: 'tun-remcsum', takes: 0 }],
  [['-w', '--weight'], { name: 'weight', takes: 1 }],
  [['-x', '--u-threshold'], { name: 'u-threshold', takes: 1 }],
  [['-y', '--l-threshold'], { name: 'l-threshold', takes: 1 }],
  [['-o', '--ops'], { name: 'ops', takes: 0 }],
  [['-6', '--ipv6'], { name: 'ipv6', takes: 0 }],
  [['--mcast-interface'], { name: 'mcast-interface', takes: 1 }],
  [['--syncid'], { name: 'syncid', takes: 1 }],
  [['--mcast-group'], { name: 'mcast-group', takes: 1 }],
  [['--mcast-port'], { name: 'mcast-port', takes: 1 }],
  [['--mcast-ttl'], { name: 'mcast-ttl', takes: 1 }],
  [['--sync-maxlen'], { name: 'sync-maxlen', takes: 1 }],
  [
    [
      '-n',
      '--numeric',
      '-c',
      '--connection',
      '--stats',
      '--rate',
      '--thresholds',
      '--persistent-conn',
      '--nosort',
      '--sort',
      '--exact',
      '--timeout',
      '--daemon',
      '--tun-info',
    ],
    { name: 'listing', takes: 0, listing: true },
  ],
];
const options = new Map(optionList.flatMap(([spellings, spec]) => spellings.map((spelling) => [spelling, spec] as const)));
const knownOptions = optionList.flatMap(([spellings]) => spellings);

const forwardingOptions: [string, Forwarding][] = [
  ['gatewaying', 'gate'],
  ['ipip', 'ipip'],
  ['masquerading', 'masq'],
];

const tunnelSettingOptions = ['tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'];
const tunnelOptions = ['tun-type', ...tunnelSettingOptions];
/** ipvsadm's tunnel_types_v_options, for tunnelSettingOptions in order: '+' required,
 *  'x' refused, '1' at most one of them. */
const tunnelRules: Record<TunnelType, string> = { ipip: 'xxxx', gue: '+111', gre: 'x11x' };
const tunnelUsage: Record<TunnelType, string> = {
  ipip: 'no --tun-port and no checksum option with --tun-type ipip',
  gue: '--tun-port and at most one of --tun-nocsum, --tun-csum, --tun-remcsum with --tun-type gue',
  gre: 'no --tun-port and at most one of --tun-nocsum, --tun-csum with --tun-type gre',
};
const checksumOptions: [string, TunnelChecksum][] = [
  ['tun-nocsum', 'none'],
  ['tun-csum', 'csum'],
  ['tun-remcsum', 'remcsum'],
];
const isTunnelType = (text: string): text is TunnelType => (tunnelTypes as readonly string[]).includes(text);

const showEndpoint = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

const isProgram = (text: string): boolean => text === 'ipvsadm' || text.endsWith('/ipvsadm');

/** ipvsadm's default persistence timeout for `-p` without a value (libipvs.h:
 *  IPVS_SVC_PERSISTENT_TIMEOUT, 6*60; seed 004's listing shows `persistent 360`). */
const defaultPersistenceSeconds = 360;
const maxPersistenceSeconds = 31 * 86400;

export async function readIpvsadmRules(text: string, context: FrontEndContext): Promise<FrontEndResult> {
  const { sink } = context;
  const commands = text
    .split('\n')
    .flatMap((line, index) => splitCommands(words(line, index + 1), sink).map((command) => parseCommand(command, sink)));
  const parsed = commands.filter((command) => command !== undefined);
  await yieldToEventLoop();
  await resolveAddresses(parsed, context);
  const table = new Table(context);
  await yieldToEventLoop();
  for (const command of parsed) table.apply(command);
  return table.toDocument();
}

function words(line: string, lineNumber: number): Word[] {
  const result: Word[] = [];
  const pattern = /\S+/g;
  for (let match = pattern.exec(line); match !== null; match = pattern.exec(line)) {
    if (match[0].startsWith('#')) break;
    result.push({ text: match[0].replace(/\r$/, ''), line: lineNumber, column: match.index + 1 });
  }
  return result.filter((word) => word.text !== '');
}

/** One line may hold several commands pasted together, each starting with `ipvsadm`. */
function splitCommands(line: Word[], sink: DiagnosticSink): Word[][] {
  const starts = line.map((word, index) => (isProgram(word.text) ? index : -1)).filter((index) => index > 0);
  if (starts.length === 0) return line.length > 0 ? [dropProgram(line)] : [];
  const first = line[starts[0] ?? 0];
  if (first !== undefined)
    sink.warning(first, { key: first.text, message: `${starts.length + 1} ipvsadm commands on one line; read as separate commands` });
  return [0, ...starts].map((start, index) => dropProgram(line.slice(start, starts[index] ?? line.length)));
}

/** The command without its program name; a bare `ipvsadm` (it lists the table) stays. */
function dropProgram(command: Word[]): Word[] {
  return command.length > 1 && command[0] !== undefined && isProgram(command[0].text) ? command.slice(1) : command;
}

function parseCommand(words: Word[], sink: DiagnosticSink): Command | undefined {
  const first = words[0];
  if (first === undefined) return undefined;
  if (words.length === 1 && isProgram(first.text)) return { verb: 'ignored', word: first, values: new Map() };
  const values = new Map<string, { word: Word; value?: Word[] }>();
  let verb: { verb: Verb; word: Word } | undefined;
  let failed = false;
  for (let index = 0; index < words.length; index++) {
    const word = words[index] as Word;
    const [spelling, attached] = splitAttached(word.text);
    const spec = options.get(spelling);
    if (spec === undefined) {
      const finding = word.text.startsWith('-')
        ? unknownKeyFinding('option', word.text, knownOptions)
        : { key: word.text, message: 'unexpected argument', expected: 'an option such as -A, -a, -t', found: quote(word.text) };
      sink.error(word, finding);
      failed = true;
      continue;
    }
    let value: Word[] | undefined;
    if (attached !== undefined) {
      value = [{ text: attached, line: word.line, column: word.column + spelling.length + (word.text[spelling.length] === '=' ? 1 : 0) }];
    } else if (spec.takes === 'optional') {
      const next = words[index + 1];
      if (next !== undefined && !next.text.startsWith('-')) value = [words[++index] as Word];
    } else if (spec.takes !== 0) {
      value = words.slice(index + 1, index + 1 + spec.takes);
      if (value.length < spec.takes || value.some((w) => w.text.startsWith('-') && !/^-\d/.test(w.text))) {
        sink.error(value.find((w) => w.text.startsWith('-')) ?? word, {
          key: spelling,
          message: 'option requires a value',
          expected: spec.takes === 3 ? `${spelling} TCP TCPFIN UDP` : `${spelling} VALUE`,
          found: 'no value',
        });
        failed = true;
        break;
      }
      index += spec.takes;
    }
    if (spec.verb !== undefined) {
      if (verb !== undefined && spec.verb !== 'ignored') {
        sink.error(word, {
          key: spelling,
          message: 'two commands in one line',
          expected: 'one command option per ipvsadm invocation',
          found: `${verb.word.text} and ${spelling}`,
        });
        failed = true;
      }
      if (verb === undefined || verb.verb === 'ignored') verb = { verb: spec.verb, word };
      if (spec.takes !== 0) values.set(spec.name, { word, ...(value !== undefined ? { value } : {}) });
      continue;
    }
    if (spec.listing === true) continue;
    if (values.has(spec.name)) sink.warning(word, { key: spelling, message: `${spelling} given twice; the later value wins` });
    values.set(spec.name, { word, ...(value !== undefined ? { value } : {}) });
  }
  if (failed) return undefined;
  if (verb === undefined) {
    if (values.size === 0) return { verb: 'ignored', word: first, values };
    sink.error(first, {
      key: first.text,
      message: 'no command',
      expected: 'one of -A, -E, -D, -C, -a, -e, -d, --set, --start-daemon',
      found: quote(words.map((w) => w.text).join(' ')),
    });
    return undefined;
  }
  const command: Command = { verb: verb.verb, word: verb.word, values };
  return withAddresses(command, sink);
}

/** `--weight=3`, `-w3`, `-p600`. */
function splitAttached(text: string): [string, string | undefined] {
  if (options.has(text)) return [text, undefined];
  const equals = /^(--[a-z0-9-]+)=(.*)$/.exec(text);
  if (equals !== null) return [equals[1] ?? text, equals[2]];
  const short = /^(-[A-Za-z6])(.+)$/.exec(text);
  if (short !== null && options.has(short[1] ?? '')) return [short[1] ?? text, short[2]];
  return [text, undefined];
}

function withAddresses(command: Command, sink: DiagnosticSink): Command | undefined {
  const serviceOptions = ['tcp-service', 'udp-service', 'sctp-service', 'fwmark-service'].filter((name) => command.values.has(name));
  const needsService = !['clear', 'set', 'start-daemon', 'ignored'].includes(command.verb);
  if (needsService && serviceOptions.length !== 1) {
    const extra = command.values.get(serviceOptions[1] ?? '');
    sink.error(extra?.word ?? command.word, {
      key: command.word.text,
      message: serviceOptions.length === 0 ? 'no virtual service given' : 'more than one virtual service given',
      expected: 'exactly one of -t, -u, --sctp-service, -f',
      found: serviceOptions.length === 0 ? 'none' : serviceOptions.map((name) => command.values.get(name)?.word.text).join(' and '),
    });
    return undefined;
  }
  const serviceOption = serviceOptions[0];
  if (serviceOption !== undefined) {
    const given = command.values.get(serviceOption);
    const word = given?.value?.[0];
    if (given === undefined || word === undefined) return undefined;
    const protocol: Protocol = serviceOption === 'udp-service' ? 'udp' : serviceOption === 'sctp-service' ? 'sctp' : 'tcp';
    const ipv6 = command.values.has('ipv6');
    if (serviceOption === 'fwmark-service') {
      const mark = /^[0-9]{1,10}$/.test(word.text) ? Number(word.text) : NaN;
      if (!(mark >= 1 && mark <= 4294967295)) {
        sink.error(word, {
          key: given.word.text,
          message: `invalid fwmark value '${word.text}' specified`,
          expected: 'a firewall mark from 1 to 4294967295',
          found: quote(word.text),
        });
        return undefined;
      }
      command.service = { word, option: given.word.text, protocol, fwmark: mark, ipv6 };
    } else {
      const endpoint = parseEndpoint(word);
      if (endpoint === undefined) {
        sink.error(word, {
          key: given.word.text,
          message: 'illegal virtual server address[:port] specified',
          expected: 'ADDRESS[:PORT] or [IPV6]:PORT',
          found: quote(word.text),
        });
        return undefined;
      }
      command.service = { word, option: given.word.text, protocol, endpoint, ipv6 };
    }
  }
  const real = command.values.get('real-server');
  if (real?.value?.[0] !== undefined) {
    const endpoint = parseEndpoint(real.value[0]);
    if (endpoint === undefined) {
      sink.error(real.value[0], {
        key: real.word.text,
        message: 'illegal real server address[:port] specified',
        expected: 'ADDRESS[:PORT] or [IPV6]:PORT',
        found: quote(real.value[0].text),
      });
      return undefined;
    }
    command.server = endpoint;
  }
  return command;
}

/** ipvsadm's parse_service: `[v6]:port`, a bare IPv6 address, or `v4-or-host[:port]`. */
function parseEndpoint(word: Word): Endpoint | undefined {
  const text = word.text;
  const bracketed = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (bracketed !== null)
    return bracketed[2] !== undefined ? { word, host: bracketed[1] ?? '', port: bracketed[2] } : { word, host: bracketed[1] ?? '' };
  if (parseIp(text)?.family === 6) return { word, host: text };
  const colon = text.lastIndexOf(':');
  if (colon === 0 || /^[0-9]+$/.test(text)) return undefined;
  return colon === -1 ? { word, host: text } : { word, host: text.slice(0, colon), port: text.slice(colon + 1) };
}

async function resolveAddresses(commands: Command[], context: FrontEndContext): Promise<void> {
  const hosts = new HostNames(context.hosts, context.sink);
  for (const command of commands) {
    for (const endpoint of [command.service?.endpoint, command.server]) {
      if (endpoint === undefined) continue;
      const key = command.server === endpoint ? '-r' : (command.service?.option ?? '-t');
      hosts.resolve(
        endpoint.host,
        { line: endpoint.word.line, column: endpoint.word.column, key },
        (address) => (endpoint.address = address),
      );
    }
  }
  await hosts.settle();
}

interface Identity {
  text: string;
  address?: string;
  port: number;
}

interface FieldPlaces {
  [field: string]: Place;
}

interface ServerEntry {
  document: Record<string, unknown>;
  places: FieldPlaces;
  place: Place;
}

interface ServiceEntry {
  identity: string;
  document: Record<string, unknown>;
  places: FieldPlaces;
  place: Place;
  port: number;
  servers: Map<string, ServerEntry>;
}

/** The IPVS table as the commands build it, in order. */
class Table {
  private readonly services = new Map<string, ServiceEntry>();
  private readonly builder = new DocumentBuilder();
  private readonly sink: DiagnosticSink;

  constructor(private readonly context: FrontEndContext) {
    this.sink = context.sink;
    this.builder.set(['sync', 'enabled'], false);
  }

  apply(command: Command): void {
    switch (command.verb) {
      case 'ignored':
        this.sink.warning(command.word, { key: command.word.text, message: 'lists or saves the table, or changes nothing; ignored' });
        return;
      case 'clear':
        this.services.clear();
        return;
      case 'set':
        this.setTimeouts(command);
        return;
      case 'start-daemon':
        this.startDaemon(command);
        return;
      default:
        this.serviceCommand(command);
    }
  }

  private serviceCommand(command: Command): void {
    const ref = command.service;
    const identity = ref !== undefined ? this.identity(ref) : undefined;
    if (ref === undefined || identity === undefined) return;
    const existing = this.services.get(identity.text);
    switch (command.verb) {
      case 'add-service':
        if (existing !== undefined)
          this.sink.error(ref.word, {
            key: ref.option,
            message: `Service already exists (defined at line ${existing.place.line})`,
            expected: 'each virtual service added once (use -E to change it)',
            found: identity.text,
          });
        else this.addService(command, ref, identity);
        return;
      case 'edit-service':
      case 'delete-service':
      case 'add-server':
      case 'edit-server':
      case 'delete-server':
        if (existing === undefined) {
          const message = command.verb.endsWith('server') ? 'Service not defined' : 'No such service';
          this.sink.error(ref.word, {
            key: ref.option,
            message: `${message}: ${identity.text}`,
            expected: `an earlier -A for ${identity.text}`,
            found: this.nearMiss(ref),
          });
          return;
        }
        if (command.verb === 'edit-service') this.serviceOptions(command, existing, existing.document);
        else if (command.verb === 'delete-service') this.services.delete(identity.text);
        else this.serverCommand(command, existing);
        return;
      default:
        return;
    }
  }

  /** How ipvsadm tells services apart (`tcp 192.0.2.10:80`, `fwmark 80`); also the
   *  table's key. */
  private identity(ref: ServiceRef): Identity | undefined {
    if (ref.fwmark !== undefined) {
      return { text: `fwmark ${ref.fwmark}${ref.ipv6 ? ' (IPv6)' : ''}`, port: 0 };
    }
    const endpoint = ref.endpoint;
    if (endpoint?.address === undefined) return undefined;
    const port = this.port(endpoint, ref.protocol, ref.option);
    if (port === undefined) return undefined;
    return { text: `${ref.protocol} ${showEndpoint(endpoint.address, port)}`, address: endpoint.address, port };
  }

  /** What was defined instead: "Service not defined" is easier to fix when the
   *  address was added with another port (seed 000's missing `:80`). */
  private nearMiss(ref: ServiceRef): string {
    const address = ref.endpoint?.address;
    const prefix = address !== undefined ? `${ref.protocol} ${showEndpoint(address, 0).replace(/0$/, '')}` : undefined;
    const similar = [...this.services.values()].filter((service) => prefix !== undefined && service.identity.startsWith(prefix));
    if (similar.length === 0) return 'no such service';
    return similar.map((service) => `only ${service.identity} (line ${service.place.line})`).join(', ');
  }

  private addService(command: Command, ref: ServiceRef, identity: Identity): void {
    const place = this.placeOf(command.word, command.word.text);
    const name =
      ref.fwmark !== undefined
        ? `fwmark/${ref.fwmark}${ref.ipv6 ? '/ipv6' : ''}`
        : `${ref.protocol}/${showEndpoint(identity.address ?? '', identity.port)}`;
    const document: Record<string, unknown> = { name, protocol: ref.protocol, health_check: { kind: 'none' }, real_servers: [] };
    const places: FieldPlaces = { name: place, protocol: this.placeOf(ref.word, ref.option) };
    if (ref.fwmark !== undefined) {
      document.fwmark = ref.fwmark;
      places.fwmark = this.placeOf(ref.word, ref.option);
      if (ref.ipv6) document.family = 6;
    } else {
      document.vip = { address: identity.address };
      document.port = identity.port;
      places.vip = this.placeOf(ref.word, ref.option);
      places.port = this.placeOf(ref.word, ref.option);
    }
    const entry: ServiceEntry = { identity: identity.text, document, places, place, port: identity.port, servers: new Map() };
    this.serviceOptions(command, entry, document);
    this.services.set(identity.text, entry);
  }

  /** -s, -b, --pe, -p, -M, -o: for -A on a new service, for -E on an existing one. */
  private serviceOptions(command: Command, entry: ServiceEntry, document: Record<string, unknown>): void {
    const scheduler = command.values.get('scheduler');
    if (scheduler?.value?.[0] !== undefined) {
      document.scheduler = scheduler.value[0].text;
      entry.places.scheduler = this.placeOf(scheduler.value[0], scheduler.word.text);
    }
    const flags = command.values.get('sched-flags');
    if (flags?.value?.[0] !== undefined) this.schedulerFlags(flags.value[0], flags.word, entry, document);
    const engine = command.values.get('pe');
    if (engine?.value?.[0] !== undefined) {
      document.persistence_engine = engine.value[0].text;
      entry.places.persistence_engine = this.placeOf(engine.value[0], engine.word.text);
    }
    const persistent = command.values.get('persistent');
    if (persistent !== undefined) {
      const valueWord = persistent.value?.[0];
      let seconds = defaultPersistenceSeconds;
      if (valueWord !== undefined) {
        seconds = /^[0-9]{1,8}$/.test(valueWord.text) ? Number(valueWord.text) : NaN;
        if (!(seconds >= 1 && seconds <= maxPersistenceSeconds)) {
          this.sink.error(valueWord, {
            key: persistent.word.text,
            message: `invalid timeout value '${valueWord.text}' specified`,
            expected: `seconds from 1 to ${maxPersistenceSeconds}`,
            found: quote(valueWord.text),
          });
          return;
        }
      }
      document.persistence = { ...(document.persistence as object | undefined), timeout: `${seconds}s` };
      entry.places.persistence = this.placeOf(valueWord ?? persistent.word, persistent.word.text);
    }
    const netmask = command.values.get('netmask');
    if (netmask?.value?.[0] !== undefined) this.netmask(netmask.value[0], netmask.word, entry, document);
    if (command.values.has('ops')) {
      document.one_packet = true;
      entry.places.one_packet = this.placeOf(command.values.get('ops')?.word ?? command.word, '-o');
    }
  }

  /** `-b sh-fallback,sh-port`, checked against the scheduler the service ends up with
   *  (ipvsadm reads -b after every other option; without -s that is wlc). */
  private schedulerFlags(word: Word, option: Word, entry: ServiceEntry, document: Record<string, unknown>): void {
    const scheduler = typeof document.scheduler === 'string' ? document.scheduler : 'wlc';
    const flags = new Set<string>();
    let offset = 0;
    for (const flag of word.text.split(',')) {
      const at = { line: word.line, column: word.column + offset };
      offset += flag.length + 1;
      if (flag === '') continue;
      const owner = /^(sh|mh)-/.exec(flag)?.[1];
      if (!(schedulerFlagNames as readonly string[]).includes(flag)) {
        this.sink.error(at, {
          key: option.text,
          message: `invalid scheduler flag '${flag}'`,
          expected: `a comma-separated list of ${schedulerFlagNames.join(', ')}`,
          found: quote(flag),
        });
        return;
      }
      if (owner !== undefined && owner !== scheduler) {
        this.sink.error(at, {
          key: option.text,
          message: `incompatible scheduler flag '${flag}'`,
          expected: `-s ${owner}, or flag-1, flag-2, flag-3`,
          found: `-s ${scheduler}`,
        });
        return;
      }
      flags.add(flag);
    }
    if (flags.size === 0) {
      this.sink.error(word, {
        key: option.text,
        message: 'no scheduler flag given',
        expected: schedulerFlagNames.join(', '),
        found: quote(word.text),
      });
      return;
    }
    document.scheduler_flags = [...flags];
    entry.places.scheduler_flags = this.placeOf(word, option.text);
  }

  private netmask(word: Word, option: Word, entry: ServiceEntry, document: Record<string, unknown>): void {
    const place = this.placeOf(word, option.text);
    if (document.persistence === undefined) {
      this.sink.warning(option, { key: option.text, message: 'a persistence netmask without -p has no effect; ignored' });
      return;
    }
    const ipv6 = document.family === 6 || ((document.vip as { address?: string } | undefined)?.address ?? '').includes(':');
    const valid = ipv6
      ? /^[0-9]{1,3}$/.test(word.text) && Number(word.text) >= 1 && Number(word.text) <= 128
      : netmaskToPrefix(word.text) !== undefined;
    if (!valid) {
      this.sink.error(word, {
        key: option.text,
        message: ipv6 ? 'illegal ipv6 netmask specified' : 'illegal virtual server persistent mask specified',
        expected: ipv6 ? 'a prefix length from 1 to 128' : 'a dotted netmask such as 255.255.255.0',
        found: quote(word.text),
      });
      return;
    }
    (document.persistence as Record<string, unknown>).netmask = ipv6 ? Number(word.text) : word.text;
    entry.places.persistence = place;
  }

  private serverCommand(command: Command, service: ServiceEntry): void {
    const endpoint = command.server;
    if (endpoint === undefined) {
      this.sink.error(command.word, {
        key: command.word.text,
        message: 'no real server given',
        expected: '-r ADDRESS[:PORT]',
        found: 'none',
      });
      return;
    }
    if (endpoint.address === undefined) return;
    const protocol = (service.document.protocol as Protocol | undefined) ?? 'tcp';
    const port = endpoint.port !== undefined ? this.port(endpoint, protocol, '-r') : service.port;
    if (port === undefined) return;
    const key = defaultRealServerName(endpoint.address, port);
    const existing = service.servers.get(key);
    const place = this.placeOf(endpoint.word, '-r');
    if (command.verb === 'add-server') {
      if (existing !== undefined) {
        this.sink.error(endpoint.word, {
          key: '-r',
          message: `Destination already exists (added at line ${existing.place.line})`,
          expected: 'each real server added once per service (use -e to change it)',
          found: key,
        });
        return;
      }
      const document: Record<string, unknown> = {
        address: endpoint.address,
        port: endpoint.port !== undefined ? port : 0,
        forwarding: 'gate',
      };
      const entry: ServerEntry = { document, places: { address: place, port: place }, place };
      this.serverOptions(command, entry);
      service.servers.set(key, entry);
      return;
    }
    if (existing === undefined) {
      this.sink.error(endpoint.word, {
        key: '-r',
        message: 'No such destination',
        expected: `an earlier -a of ${key} to ${service.identity}`,
        found: key,
      });
      return;
    }
    if (command.verb === 'delete-server') service.servers.delete(key);
    else this.serverOptions(command, existing);
  }

  private serverOptions(command: Command, entry: ServerEntry): void {
    for (const [option, forwarding] of forwardingOptions) {
      const given = command.values.get(option);
      if (given === undefined) continue;
      entry.document.forwarding = forwarding;
      entry.places.forwarding = this.placeOf(given.word, given.word.text);
    }
    // The tunnel goes with the forwarding method: given anew with it, kept when neither is.
    if ([...forwardingOptions.map(([option]) => option), ...tunnelOptions].some((option) => command.values.has(option))) {
      delete entry.document.tunnel;
      this.tunnel(command, entry);
    }
    const numbers: [string, string, number][] = [
      ['weight', 'weight', 65535],
      ['u-threshold', 'upper_threshold', 2147483647],
      ['l-threshold', 'lower_threshold', 2147483647],
    ];
    for (const [option, field, max] of numbers) {
      const given = command.values.get(option);
      const word = given?.value?.[0];
      if (given === undefined || word === undefined) continue;
      const value = /^[0-9]{1,10}$/.test(word.text) ? Number(word.text) : NaN;
      if (!(value >= 0 && value <= max)) {
        this.sink.error(word, {
          key: given.word.text,
          message: `illegal ${option.replace('-', '_')} specified`,
          expected: `an integer from 0 to ${max}`,
          found: quote(word.text),
        });
        continue;
      }
      entry.document[field] = value;
      entry.places[field] = this.placeOf(word, given.word.text);
    }
  }

  /** --tun-type, --tun-port and --tun-*csum, checked in ipvsadm's order: the values, then
   *  -i, then what the type requires, refuses and allows one of. */
  private tunnel(command: Command, entry: ServerEntry): void {
    const first = tunnelOptions.map((option) => command.values.get(option)).find((given) => given !== undefined);
    if (first === undefined) return;
    const typeOption = command.values.get('tun-type');
    const typeWord = typeOption?.value?.[0];
    const type = typeWord?.text ?? 'ipip';
    if (typeOption !== undefined && typeWord !== undefined && !isTunnelType(type)) {
      this.sink.error(typeWord, {
        key: typeOption.word.text,
        message: 'illegal tunnel type specified',
        expected: tunnelTypes.join(', '),
        found: quote(type),
      });
      return;
    }
    const portOption = command.values.get('tun-port');
    const portWord = portOption?.value?.[0];
    const port = portWord !== undefined && /^[0-9]{1,5}$/.test(portWord.text) ? Number(portWord.text) : NaN;
    if (portOption !== undefined && portWord !== undefined && !(port >= 1 && port <= 65535)) {
      this.sink.error(portWord, {
        key: portOption.word.text,
        message: 'illegal tunnel port specified',
        expected: 'a port from 1 to 65535',
        found: quote(portWord.text),
      });
      return;
    }
    if (entry.document.forwarding !== 'ipip') {
      const method = forwardingOptions.map(([option]) => command.values.get(option)).find((given) => given !== undefined);
      this.sink.error(first.word, {
        key: first.word.text,
        message: 'Tunnel options conflict with forward method',
        expected: '-i (tunnelling)',
        found: method?.word.text ?? '-g (direct routing, the default)',
      });
      return;
    }
    if (!isTunnelType(type) || !this.tunnelRulesKept(command, type, typeWord ?? first.word)) return;
    if (type === 'ipip') return;
    const checksum = checksumOptions.find(([option]) => command.values.has(option))?.[1] ?? 'none';
    entry.document.tunnel = { type, ...(type === 'gue' ? { port } : {}), checksum };
    entry.places.tunnel = this.placeOf(typeWord ?? first.word, typeOption?.word.text ?? first.word.text);
  }

  /** ipvsadm's tunnel_opt_check; reports the first rule broken. */
  private tunnelRulesKept(command: Command, type: TunnelType, typeWord: Word): boolean {
    const rules = tunnelRules[type];
    let exclusive: string | undefined;
    for (const [index, option] of tunnelSettingOptions.entries()) {
      const rule = rules[index];
      const given = command.values.get(option);
      let message: string;
      if (given === undefined && rule === '+') message = `You need to supply the '${option}' option for the '${type}' tunnel type`;
      else if (given !== undefined && rule === 'x') message = `Illegal '${option}' option with the '${type}' tunnel type`;
      else if (given !== undefined && rule === '1' && exclusive !== undefined)
        message = `The option '${option}' conflicts with the '${exclusive}' option in the '${type}' tunnel type`;
      else {
        if (given !== undefined && rule === '1') exclusive = option;
        continue;
      }
      this.sink.error(given?.word ?? typeWord, {
        key: given?.word.text ?? '--tun-type',
        message,
        expected: tunnelUsage[type],
        found: given?.word.text ?? 'none',
      });
      return false;
    }
    return true;
  }

  private setTimeouts(command: Command): void {
    const given = command.values.get('set');
    const fields = ['tcp', 'tcp_fin', 'udp'];
    given?.value?.forEach((word, index) => {
      const seconds = /^[0-9]{1,10}$/.test(word.text) ? Number(word.text) : NaN;
      const field = fields[index] ?? 'tcp';
      if (!(seconds >= 0 && seconds <= 2147483647)) {
        this.sink.error(word, {
          key: '--set',
          message: 'invalid timeout value',
          expected: 'seconds (0 keeps the current value)',
          found: quote(word.text),
        });
      } else if (seconds > 0) {
        this.builder.set(['ipvs_timeouts', field], `${seconds}s`, this.placeOf(word, '--set'));
      }
    });
  }

  private startDaemon(command: Command): void {
    const state = command.values.get('start-daemon')?.value?.[0];
    if (state !== undefined && !['master', 'backup'].includes(state.text)) {
      this.sink.error(state, {
        key: '--start-daemon',
        message: 'unknown sync daemon state',
        expected: 'master or backup',
        found: quote(state.text),
      });
      return;
    }
    this.builder.set(['sync', 'enabled'], true, this.placeOf(command.word, '--start-daemon'));
    // the group's address and multicast checks are the model's (sync.group)
    const texts: [string, string][] = [
      ['mcast-interface', 'interface'],
      ['mcast-group', 'group'],
    ];
    for (const [option, field] of texts) {
      const given = command.values.get(option);
      const word = given?.value?.[0];
      if (given !== undefined && word !== undefined) this.builder.set(['sync', field], word.text, this.placeOf(word, given.word.text));
    }
    // ipvsadm's ranges
    const numbers: [string, string, number, number][] = [
      ['syncid', 'sync_id', 0, 255],
      ['mcast-port', 'port', 1, 65535],
      ['mcast-ttl', 'ttl', 1, 255],
      ['sync-maxlen', 'max_length', 1, 65507],
    ];
    for (const [option, field, min, max] of numbers) {
      const given = command.values.get(option);
      const word = given?.value?.[0];
      if (given === undefined || word === undefined) continue;
      const value = /^[0-9]{1,5}$/.test(word.text) ? Number(word.text) : NaN;
      if (value >= min && value <= max) this.builder.set(['sync', field], value, this.placeOf(word, given.word.text));
      else
        this.sink.error(word, {
          key: given.word.text,
          message: `illegal ${option} specified`,
          expected: `an integer from ${min} to ${max}`,
          found: quote(word.text),
        });
    }
  }

  /** A port number, or a service name looked up for the protocol (ipvsadm's service_to_port). */
  private port(endpoint: Endpoint, protocol: Protocol, option: string): number | undefined {
    const text = endpoint.port;
    if (text === undefined) return 0;
    if (/^[0-9]{1,5}$/.test(text) && Number(text) <= 65535) return Number(text);
    const port = protocol === 'sctp' ? undefined : this.context.services(text, protocol);
    if (port === undefined) {
      this.sink.error(endpoint.word, {
        key: option,
        message: `unknown port or service name '${text}' for ${protocol}`,
        expected: `a port from 0 to 65535 or a ${protocol} service name from /etc/services`,
        found: quote(text),
      });
    }
    return port;
  }

  private placeOf(word: Word, key: string): Place {
    return { line: word.line, column: word.column, key };
  }

  toDocument(): FrontEndResult {
    const b = this.builder;
    const services = [...this.services.values()];
    const methods = new Set(services.flatMap((service) => [...service.servers.values()].map((server) => server.document.forwarding)));
    const [onlyMethod] = methods;
    if (methods.size === 1) b.set(['network'], onlyMethod === 'masq' ? 'nat' : onlyMethod === 'gate' ? 'direct' : 'tunnel');
    b.set(['virtual_services'], []);
    services.forEach((service, index) => {
      const path: DocPath = ['virtual_services', index];
      b.mark(path, service.place);
      for (const [field, value] of Object.entries(service.document)) b.set([...path, field], value, service.places[field]);
      [...service.servers.values()].forEach((server, serverIndex) => {
        const serverPath = [...path, 'real_servers', serverIndex];
        b.mark(serverPath, server.place);
        for (const [field, value] of Object.entries(server.document)) b.set([...serverPath, field], value, server.places[field]);
      });
    });
    return { input: b.document, locator: b.locator };
  }
}
