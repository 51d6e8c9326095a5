// Piranha's /etc/sysconfig/ha/lvs.cf: `key = value` lines, `virtual NAME { … }` blocks
// holding `server NAME { … }` blocks. Every keyword Piranha's parser (lvsconfig.c)
// accepts is accepted here; the ones only its fos mode or its GUI used are accepted with
// a warning. Values keep Piranha's meaning and defaults (keepalive 2 s, deadtime 5 s,
// port 539, wlc, timeout 10 s: nanny's check interval, reentry 180 s, weight 1, preemption,
// and — as Piranha's parser zeroes them — services and servers inactive unless `active = 1`).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { netmaskToPrefix } from '../lib/address.js';
import { quote, unknownKeyFinding, type DiagnosticSink, type Finding, type SourceLocation } from './diagnostics.js';
import { DocumentBuilder, HostNames } from './legacy.js';
import type { DocPath, Place } from './normalise.js';
import type { FrontEndContext, FrontEndResult } from './frontend.js';

interface Token {
  text: string;
  quoted: boolean;
  line: number;
  column: number;
}

interface Setting {
  key: Token;
  values: Token[];
}

type BlockKind = 'global' | 'virtual' | 'server' | 'failover';

interface Block {
  kind: BlockKind;
  opener?: Token;
  name?: Token;
  settings: Setting[];
  children: Block[];
  /** Lines of this block that could not be read (reported already); for a block that is
   *  not closed or has no '{', its opener. */
  broken: Token[];
}

interface Line {
  tokens: Token[];
  /** The line could not be tokenised (reported); `tokens` holds what came before. */
  broken: boolean;
}

/** Number of values a keyword takes ('list' for Piranha's `dirs = [ … ]`). */
type Arity = 1 | 2 | 'list';

interface Keyword {
  arity: Arity;
  /** Set for keywords tandem accepts but ignores: why. */
  ignored?: string;
}

const onlyFos = "used only by Piranha's failover (fos) mode; ignored";
const onlyGui = 'used only by the Piranha GUI; ignored';
const noEffect = 'has no effect in tandem; ignored';

const keywords: Record<Exclude<BlockKind, 'failover'>, Record<string, Keyword>> = {
  global: {
    serial_no: { arity: 1 },
    primary: { arity: 1 },
    primary_private: { arity: 1 },
    backup: { arity: 1 },
    backup_private: { arity: 1 },
    backup_active: { arity: 1 },
    service: { arity: 1 },
    heartbeat: { arity: 1 },
    heartbeat_port: { arity: 1 },
    keepalive: { arity: 1 },
    deadtime: { arity: 1 },
    network: { arity: 1 },
    nat_router: { arity: 2 },
    nat_nmask: { arity: 1 },
    debug_level: { arity: 1 },
    monitor_links: { arity: 1 },
    syncdaemon: { arity: 1 },
    syncd_iface: { arity: 1 },
    syncd_id: { arity: 1 },
    tcp_timeout: { arity: 1 },
    tcpfin_timeout: { arity: 1 },
    udp_timeout: { arity: 1 },
    hard_shutdown: { arity: 1, ignored: noEffect },
    active_cmd: { arity: 1 },
    inactive_cmd: { arity: 1 },
    rsh_command: { arity: 1, ignored: 'Piranha used it to copy lvs.cf to the backup; tandem does not copy files; ignored' },
    primary_shared: { arity: 1, ignored: onlyFos },
    backup_shared: { arity: 1, ignored: onlyFos },
    reservation_conflict_action: { arity: 1, ignored: onlyFos },
    sync: { arity: 1, ignored: onlyGui },
    ipvsadm: { arity: 1, ignored: 'tandem programs IPVS itself; ignored' },
  },
  virtual: {
    active: { arity: 1 },
    address: { arity: 2 },
    vip_nmask: { arity: 1 },
    sorry_server: { arity: 1 },
    fwmark: { arity: 1 },
    protocol: { arity: 1 },
    port: { arity: 1 },
    scheduler: { arity: 1 },
    persistent: { arity: 1 },
    pmask: { arity: 1 },
    send: { arity: 1 },
    expect: { arity: 1 },
    use_regex: { arity: 1 },
    send_program: { arity: 1 },
    timeout: { arity: 1 },
    reentry: { arity: 1 },
    load_monitor: { arity: 1 },
    quiesce_server: { arity: 1 },
    client_monitor: { arity: 1, ignored: 'tandem checks real servers itself; ignored' },
    expect_program: { arity: 1, ignored: onlyGui },
    method: { arity: 1, ignored: onlyGui },
    start_cmd: { arity: 1, ignored: onlyFos },
    stop_cmd: { arity: 1, ignored: onlyFos },
    master: { arity: 1, ignored: onlyFos },
    dirs: { arity: 'list', ignored: onlyFos },
  },
  server: {
    address: { arity: 1 },
    active: { arity: 1 },
    weight: { arity: 1 },
    port: { arity: 1 },
    nmask: { arity: 1, ignored: onlyGui },
    logfile: { arity: 1, ignored: onlyGui },
  },
};

/** What part of the document a global keyword feeds: where a bad value leaves a gap. */
const globalScopes: Record<string, DocPath> = {
  serial_no: ['serial_no'],
  primary: ['nodes', 0],
  primary_private: ['nodes', 0],
  backup: ['nodes', 1],
  backup_private: ['nodes', 1],
  backup_active: ['nodes', 1],
  heartbeat_port: ['heartbeat'],
  keepalive: ['heartbeat'],
  deadtime: ['heartbeat'],
  network: ['network'],
  nat_router: ['nat_router'],
  nat_nmask: ['nat_router'],
  monitor_links: ['monitor_links'],
  syncdaemon: ['sync'],
  syncd_iface: ['sync'],
  syncd_id: ['sync'],
  tcp_timeout: ['ipvs_timeouts'],
  tcpfin_timeout: ['ipvs_timeouts'],
  udp_timeout: ['ipvs_timeouts'],
  active_cmd: ['hooks'],
  inactive_cmd: ['hooks'],
};

const failoverKeywords = [
  'address',
  'active',
  'vip_nmask',
  'port',
  'timeout',
  'heartbeat',
  'send',
  'expect',
  'start_cmd',
  'stop_cmd',
  'send_program',
  'expect_program',
];

export async function readLvsCf(text: string, context: FrontEndContext): Promise<FrontEndResult> {
  const { sink } = context;
  const root = parseBlocks(tokenize(text, sink), sink);
  await yieldToEventLoop();
  const builder = new DocumentBuilder();
  const hosts = new HostNames(context.hosts, sink, builder);
  new Translation(builder, hosts, context).global(root);
  await hosts.settle();
  return { input: builder.document, locator: builder.locator, damaged: builder.damaged };
}

function tokenize(text: string, sink: DiagnosticSink): Line[] {
  return text.split('\n').map((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const tokens: Token[] = [];
    let position = 0;
    while (position < line.length) {
      const char = line[position] ?? '';
      if (char === ' ' || char === '\t') {
        position++;
      } else if (char === '#') {
        break;
      } else if (char === '"' || char === "'") {
        const end = line.indexOf(char, position + 1);
        if (end === -1) {
          sink.error(
            { line: index + 1, column: position + 1 },
            {
              key: tokens[0]?.text,
              message: 'quotation mismatch',
              expected: `a closing ${char} on the same line`,
              found: quote(line.slice(position)),
            },
          );
          return { tokens, broken: true };
        }
        tokens.push({ text: line.slice(position + 1, end), quoted: true, line: index + 1, column: position + 1 });
        position = end + 1;
      } else if (char === '=' || char === '{' || char === '}') {
        tokens.push({ text: char, quoted: false, line: index + 1, column: position + 1 });
        position++;
      } else {
        const match = /^[^\s"'={}#]+/.exec(line.slice(position));
        const word = match?.[0] ?? char;
        tokens.push({ text: word, quoted: false, line: index + 1, column: position + 1 });
        position += word.length;
      }
    }
    return { tokens, broken: false };
  });
}

const isPunctuation = (token: Token | undefined, text: string): boolean => token !== undefined && !token.quoted && token.text === text;

function parseBlocks(lines: Line[], sink: DiagnosticSink): Block {
  const root: Block = { kind: 'global', settings: [], children: [], broken: [] };
  const stack: Block[] = [root];
  lines.forEach(({ tokens, broken }, index) => {
    const [first, second, third, ...rest] = tokens;
    const current = stack[stack.length - 1] ?? root;
    if (first === undefined) return;
    if (broken) {
      current.broken.push(first);
      return;
    }
    if (isPunctuation(first, '}')) {
      if (stack.length === 1) {
        sink.error(first, { key: '}', message: "'}' without an open block", expected: 'a keyword or virtual NAME {', found: "'}'" });
        root.broken.push(first);
      } else {
        stack.pop();
      }
      if (second !== undefined)
        sink.error(second, { key: '}', message: "unexpected text after '}'", expected: 'end of line', found: quote(second.text) });
      return;
    }
    const kind = blockKeyword(first, current.kind);
    if (kind !== undefined) {
      if (second === undefined || isPunctuation(second, '{') || isPunctuation(second, '=')) {
        sink.error(second ?? { line: index + 1, column: first.column + first.text.length }, {
          key: first.text,
          message: `${first.text} needs a name`,
          expected: `${first.text} NAME {`,
          found: second !== undefined ? quote(second.text) : 'end of line',
        });
        if (!isPunctuation(second, '{')) {
          current.broken.push(first);
          return;
        }
      } else if (!isPunctuation(third, '{') || rest.length > 0) {
        const culprit = !isPunctuation(third, '{') ? third : rest[0];
        sink.error(culprit ?? { line: index + 1, column: second.column + second.text.length }, {
          key: `${first.text} ${second.text}`,
          message: "expected '{' after the block name, on the same line",
          expected: "'{'",
          found: culprit !== undefined ? quote(culprit.text) : 'end of line',
        });
      }
      const block: Block = { kind, opener: first, settings: [], children: [], broken: [] };
      if (second !== undefined && !second.quoted && !isPunctuation(second, '{')) block.name = second;
      if (second === undefined || isPunctuation(second, '{') || !isPunctuation(third, '{') || rest.length > 0) block.broken.push(first);
      current.children.push(block);
      stack.push(block);
      return;
    }
    if (!isPunctuation(second, '=')) {
      sink.error(second ?? { line: index + 1, column: first.column + first.text.length }, {
        key: first.text,
        message: 'equal sign (=) expected after keyword',
        expected: `${first.text} = VALUE`,
        found: second !== undefined ? quote(second.text) : 'end of line',
      });
      current.broken.push(first);
      return;
    }
    current.settings.push({ key: first, values: tokens.slice(2) });
  });
  for (const unclosed of stack.slice(1)) {
    const opener = unclosed.opener ?? { line: 1, column: 1, text: '', quoted: false };
    const label = `${opener.text} ${unclosed.name?.text ?? ''}`.trim();
    sink.error(opener, { key: label, message: `block '${label}' is never closed`, expected: "'}'", found: 'end of file' });
    unclosed.broken.push(opener);
  }
  return root;
}

function blockKeyword(token: Token, within: BlockKind): BlockKind | undefined {
  if (token.quoted) return undefined;
  if (within === 'global' && (token.text === 'virtual' || token.text === 'failover')) return token.text;
  if (within === 'virtual' && token.text === 'server') return 'server';
  return undefined;
}

/** What nanny checks a port-80 service with when the file names no check. */
const nannyHttpCheck = { send: 'GET / HTTP/1.0\r\n\r\n', expect: 'HTTP' };

/** The Piranha GUI writes 0.0.0.0 for "no mask"; pulse and lvsd pass a mask only when it is
 *  not zero. Such a setting counts as absent (a /0 VIP would route everything to its device). */
function givenNetmask(setting: Setting | undefined): Setting | undefined {
  return setting?.values.length === 1 && setting.values[0]?.text === '0.0.0.0' ? undefined : setting;
}

/** lvs.cf's escapes in send/expect strings (nanny's): \r \n \t \\. */
function unescape(text: string): string {
  return text.replace(/\\([rnt\\])/g, (_, char: string) => ({ r: '\r', n: '\n', t: '\t', '\\': '\\' })[char] ?? char);
}

class Translation {
  private readonly sink: DiagnosticSink;
  /** The document part of the block being translated (undefined: the global settings). */
  private scope: DocPath | undefined;

  constructor(
    private readonly builder: DocumentBuilder,
    private readonly hosts: HostNames,
    private readonly context: FrontEndContext,
  ) {
    this.sink = context.sink;
  }

  global(block: Block): void {
    for (const token of block.broken) this.damageFor(token.text);
    const settings = this.settingsOf(block, keywords.global);
    const b = this.builder;
    b.set(['preempt'], true);
    b.set(['heartbeat', 'keepalive'], '2s');
    b.set(['heartbeat', 'deadtime'], '5s');
    b.set(['sync', 'enabled'], false);
    b.set(['monitor_links', 'enabled'], false);

    this.integer(settings.get('serial_no'), 0, 4294967295, (value, place) => b.set(['serial_no'], value, place));
    const primary = settings.get('primary');
    if (primary === undefined) {
      this.sink.error(
        { line: 1, column: 1 },
        { key: 'primary', message: 'no primary director', expected: 'primary = ADDRESS', found: 'nothing' },
      );
    } else {
      b.set(['nodes', 0, 'name'], 'primary');
      this.address(primary, ['nodes', 0, 'address']);
      this.address(settings.get('primary_private'), ['nodes', 0, 'private_address']);
    }
    this.backup(settings);
    const service = settings.get('service');
    this.choice(service, ['lvs', 'fos'], (value) => {
      if (value === 'fos' && service !== undefined)
        this.warn(service.key, "service = fos: Piranha's failover services are not supported; only virtual services are used");
    });
    const heartbeat = settings.get('heartbeat');
    this.boolean(heartbeat, (value) => {
      if (!value && heartbeat !== undefined)
        this.warn(heartbeat.key, 'heartbeat = 0: tandem always exchanges heartbeats with a configured backup');
    });
    this.port(settings.get('heartbeat_port'), 'udp', (value, place) => b.set(['heartbeat', 'port'], value, place));
    this.integer(settings.get('keepalive'), 1, 86400, (value, place) => b.set(['heartbeat', 'keepalive'], `${value}s`, place));
    this.integer(settings.get('deadtime'), 1, 86400, (value, place) => b.set(['heartbeat', 'deadtime'], `${value}s`, place));
    this.choice(settings.get('network'), ['nat', 'direct', 'tunnel'], (value, place) => b.set(['network'], value, place));
    this.natRouter(settings);
    const debugLevel = settings.get('debug_level');
    if (debugLevel !== undefined && debugLevel.values[0]?.text !== 'NONE')
      this.warn(debugLevel.key, 'debug_level has no effect; use --log-level debug');
    this.boolean(settings.get('monitor_links'), (value, place) => b.set(['monitor_links', 'enabled'], value, place));
    this.boolean(settings.get('syncdaemon'), (value, place) => b.set(['sync', 'enabled'], value, place));
    this.text(settings.get('syncd_iface'), (value, place) => b.set(['sync', 'interface'], value, place));
    this.integer(settings.get('syncd_id'), 0, 255, (value, place) => b.set(['sync', 'sync_id'], value, place));
    const timeouts = [
      ['tcp_timeout', 'tcp'],
      ['tcpfin_timeout', 'tcp_fin'],
      ['udp_timeout', 'udp'],
    ] as const;
    for (const [keyword, field] of timeouts) {
      // 0 is Piranha's "leave the kernel's value".
      this.integer(
        settings.get(keyword),
        0,
        2147483647,
        (value, place) => value > 0 && b.set(['ipvs_timeouts', field], `${value}s`, place),
      );
    }
    this.text(settings.get('active_cmd'), (value, place) => b.set(['hooks', 'active_cmd'], value, place));
    this.text(settings.get('inactive_cmd'), (value, place) => b.set(['hooks', 'inactive_cmd'], value, place));

    let serviceIndex = 0;
    for (const child of block.children) {
      if (child.kind === 'failover') this.failover(child);
      else this.virtual(child, serviceIndex++);
    }
  }

  private backup(settings: Map<string, Setting>): void {
    const backup = settings.get('backup');
    const backupActive = settings.get('backup_active');
    const active = this.booleanOf(backupActive) === true;
    if (backup === undefined) {
      if (active && backupActive !== undefined) this.warn(backupActive.key, 'backup_active = 1 but no backup address: running standalone');
      return;
    }
    if (!active) {
      this.warn(backup.key, 'backup is set but backup_active is not 1: running standalone, as Piranha does');
      return;
    }
    this.builder.set(['nodes', 1, 'name'], 'backup');
    this.address(backup, ['nodes', 1, 'address']);
    this.address(settings.get('backup_private'), ['nodes', 1, 'private_address']);
  }

  private natRouter(settings: Map<string, Setting>): void {
    const router = settings.get('nat_router');
    const mask = givenNetmask(settings.get('nat_nmask'));
    if (router === undefined) {
      if (mask !== undefined) this.warn(mask.key, 'nat_nmask without nat_router; ignored');
      return;
    }
    let prefix = 24;
    if (mask === undefined)
      this.warn(router.key, "no nat_nmask (or 0.0.0.0): the NAT gateway gets a /24 (255.255.255.0, the Piranha GUI's default)");
    else this.netmask(mask, (value) => (prefix = value));
    const [address, device] = router.values;
    if (address === undefined || device === undefined) return;
    this.builder.set(['nat_router', 'device'], device.text, this.place(device, 'nat_router'));
    this.hosts.resolve(
      address.text,
      this.place(address, 'nat_router'),
      (resolved) => this.builder.set(['nat_router', 'address'], `${resolved}/${prefix}`, this.place(address, 'nat_router')),
      ['nat_router'],
    );
  }

  private virtual(block: Block, index: number): void {
    const path = ['virtual_services', index];
    this.scope = path;
    if (block.broken.length > 0) this.builder.damage(path);
    const settings = this.settingsOf(block, keywords.virtual);
    const b = this.builder;
    const name = block.name?.text ?? `virtual${index + 1}`;
    b.set([...path, 'name'], name, this.blockPlace(block));
    b.mark(path, this.blockPlace(block));
    this.activeFlag(block, settings, [...path, 'active']);
    b.set([...path, 'port'], 80);

    let protocol = 'tcp' as 'tcp' | 'udp';
    this.choice(settings.get('protocol'), ['tcp', 'udp'], (value, place) => {
      protocol = value;
      b.set([...path, 'protocol'], value, place);
    });
    let prefix = 32;
    this.netmask(givenNetmask(settings.get('vip_nmask')), (value) => (prefix = value));
    const address = settings.get('address');
    const [vip, device] = address?.values ?? [];
    if (vip !== undefined && device !== undefined) {
      b.set([...path, 'vip', 'device'], device.text, this.place(device, 'address'));
      const assign = (resolved: string): void => {
        const bits = resolved.includes(':') ? 128 : prefix;
        b.set([...path, 'vip', 'address'], `${resolved}/${bits}`, this.place(vip, 'address'));
      };
      this.hosts.resolve(vip.text, this.place(vip, 'address'), assign, path);
    }
    this.address(settings.get('sorry_server'), [...path, 'sorry_server', 'address']);
    this.integer(settings.get('fwmark'), 0, 4294967295, (value, place) => value > 0 && b.set([...path, 'fwmark'], value, place));
    let port = 80;
    this.port(settings.get('port'), protocol, (value, place) => {
      port = value;
      b.set([...path, 'port'], value, place);
    });
    this.text(settings.get('scheduler'), (value, place) => b.set([...path, 'scheduler'], value, place));
    this.persistence(settings, path);
    this.healthCheck(settings, [...path, 'health_check'], port);

    b.set([...path, 'real_servers'], []);
    block.children.forEach((server, serverIndex) => {
      this.scope = [...path, 'real_servers', serverIndex];
      this.server(server, this.scope);
    });
    this.scope = undefined;
  }

  /** Checks as lvsd has nanny run them: `timeout` is nanny's interval (-t), also its connect
   *  and read timeout; one failed check takes a server out; `reentry` is counted in good
   *  checks (reentry / interval); a server put back starts at 1/32 of its weight, doubled
   *  every 20 s (every check when the interval is longer); and a port-80 service without a
   *  send, expect or send_program gets an HTTP check. */
  private healthCheck(settings: Map<string, Setting>, check: DocPath, port: number): void {
    const b = this.builder;
    let interval = 10;
    let intervalPlace: Place | undefined;
    this.integer(settings.get('timeout'), 1, 86400, (value, place) => {
      interval = value;
      intervalPlace = place;
    });
    b.set([...check, 'interval'], `${interval}s`, intervalPlace);
    b.set([...check, 'timeout'], `${interval}s`, intervalPlace);
    b.set([...check, 'failures'], 1);
    let reentry = 180;
    let reentryPlace: Place | undefined;
    const reentrySetting = settings.get('reentry');
    this.integer(reentrySetting, 0, 86400, (value, place) => {
      if (value > 0) reentry = value;
      else this.warn(reentrySetting?.key, "reentry = 0 means nanny's default, 180 seconds");
      reentryPlace = place;
    });
    b.set([...check, 'reentry'], '0s', reentryPlace);
    b.set([...check, 'reentry_checks'], Math.max(1, Math.floor(reentry / interval)), reentryPlace);
    const weightPeriod = interval > 20 ? interval : interval * Math.floor(20 / interval);
    b.set([...check, 'slow_start'], `${6 * weightPeriod}s`);
    b.set([...check, 'slow_start_curve'], 'doubling');

    let useRegex = false;
    this.boolean(settings.get('use_regex'), (value, place) => {
      useRegex = value;
      b.set([...check, 'use_regex'], value, place);
    });
    const send = settings.get('send');
    const expect = settings.get('expect');
    const sendProgram = settings.get('send_program');
    if (send !== undefined && sendProgram !== undefined) this.warn(send.key, 'send is ignored with send_program, as nanny ignores it');
    else this.text(send, (value, place) => b.set([...check, 'send'], unescape(value), place));
    this.text(expect, (value, place) => b.set([...check, 'expect'], useRegex ? value : unescape(value), place));
    this.text(sendProgram, (value, place) => b.set([...check, 'send_program'], value, place));
    if (port === 80 && send === undefined && expect === undefined && sendProgram === undefined) {
      b.set([...check, 'send'], nannyHttpCheck.send);
      b.set([...check, 'expect'], nannyHttpCheck.expect);
    }
    this.text(settings.get('load_monitor'), (value, place) => b.set([...check, 'load_monitor'], value, place));
    this.boolean(settings.get('quiesce_server'), (value, place) => b.set([...check, 'quiesce_server'], value, place));
  }

  private persistence(settings: Map<string, Setting>, path: DocPath): void {
    const pmask = givenNetmask(settings.get('pmask'));
    let timeout = 0;
    this.integer(settings.get('persistent'), 0, 31 * 86400, (value, place) => {
      timeout = value;
      if (value > 0) this.builder.set([...path, 'persistence', 'timeout'], `${value}s`, place);
    });
    if (pmask === undefined) return;
    if (timeout === 0) {
      this.warn(pmask.key, 'pmask without persistent; ignored');
      return;
    }
    // Piranha turns 255.255.255.255 into "no mask", which IPVS treats as a host mask.
    this.netmask(pmask, (_, place, text) => this.builder.set([...path, 'persistence', 'netmask'], text, place));
  }

  private server(block: Block, path: DocPath): void {
    if (block.broken.length > 0) this.builder.damage(path);
    const settings = this.settingsOf(block, keywords.server);
    const b = this.builder;
    b.mark(path, this.blockPlace(block));
    if (block.name !== undefined) b.set([...path, 'name'], block.name.text, this.blockPlace(block));
    this.activeFlag(block, settings, [...path, 'active']);
    const address = settings.get('address');
    if (address === undefined) {
      this.fail(this.blockPlace(block), {
        key: this.blockPlace(block).key,
        message: 'real server without address',
        expected: 'address = ADDRESS',
        found: 'nothing',
      });
    }
    this.address(address, [...path, 'address']);
    this.integer(settings.get('weight'), 0, 65535, (value, place) => b.set([...path, 'weight'], value, place));
    this.port(settings.get('port'), 'tcp', (value, place) => b.set([...path, 'port'], value, place));
  }

  private failover(block: Block): void {
    this.warn(block.opener, `failover ${block.name?.text ?? ''}: ${onlyFos}`.replace('  ', ' '));
    for (const setting of block.settings) {
      if (!failoverKeywords.includes(setting.key.text))
        this.sink.error(setting.key, unknownKeyFinding('failover keyword', setting.key.text, failoverKeywords));
    }
  }

  /** Piranha's parser starts services and servers inactive; only `active = 1` enables them. */
  private activeFlag(block: Block, settings: Map<string, Setting>, path: DocPath): void {
    const active = settings.get('active');
    this.builder.set(path, false);
    if (active === undefined)
      this.warn(block.opener, `no 'active = 1': ${block.opener?.text ?? 'block'} ${block.name?.text ?? ''} is inactive, as in Piranha`);
    this.boolean(active, (value, place) => this.builder.set(path, value, place));
  }

  /** The block's settings by keyword, after checking keywords and value counts. */
  private settingsOf(block: Block, known: Record<string, Keyword>): Map<string, Setting> {
    const settings = new Map<string, Setting>();
    for (const setting of block.settings) {
      const keyword = Object.hasOwn(known, setting.key.text) ? known[setting.key.text] : undefined;
      if (keyword === undefined || setting.key.quoted) {
        const kind = block.kind === 'global' ? 'keyword' : `keyword in a ${block.kind} block`;
        this.fail(setting.key, unknownKeyFinding(kind, setting.key.text, Object.keys(known)));
        continue;
      }
      if (!this.arityOk(setting, keyword.arity)) continue;
      if (keyword.ignored !== undefined) {
        this.warn(setting.key, `${setting.key.text} ${keyword.ignored}`);
        continue;
      }
      const earlier = settings.get(setting.key.text);
      if (earlier !== undefined)
        this.warn(setting.key, `${setting.key.text} is set twice (also at line ${earlier.key.line}); this later value wins`);
      settings.set(setting.key.text, setting);
    }
    return settings;
  }

  private arityOk(setting: Setting, arity: Arity): boolean {
    const { key, values } = setting;
    const count = values.length;
    if (arity === 'list') return true;
    if (count === arity) return true;
    const shape = arity === 1 ? `${key.text} = VALUE` : `${key.text} = ADDRESS DEVICE`;
    const extra = values[arity];
    const at = count < arity ? (values[count - 1] ?? key) : (extra ?? key);
    this.fail(at, {
      key: key.text,
      message: count < arity ? 'missing value' : 'unexpected extra value (quote values that contain blanks)',
      expected: shape,
      found: count < arity ? 'end of line' : quote(extra?.text ?? ''),
    });
    return false;
  }

  /** Reports an error and marks the part of the document it leaves incomplete. */
  private fail(at: SourceLocation, finding: Finding): void {
    this.sink.error(at, finding);
    if (this.scope !== undefined) this.builder.damage(this.scope);
    else if (finding.key !== undefined) this.damageFor(finding.key);
  }

  private damageFor(globalKeyword: string): void {
    const scope = Object.hasOwn(globalScopes, globalKeyword) ? globalScopes[globalKeyword] : undefined;
    if (scope !== undefined) this.builder.damage(scope);
  }

  private place(token: Token, key: string): Place {
    return { line: token.line, column: token.column, key };
  }

  private blockPlace(block: Block): Place {
    const opener = block.opener ?? { line: 1, column: 1, text: '', quoted: false };
    return this.place(opener, `${opener.text} ${block.name?.text ?? ''}`.trim());
  }

  private warn(at: Token | undefined, message: string): void {
    this.sink.warning(at ?? { line: 1, column: 1 }, { key: at?.text, message });
  }

  private value(setting: Setting): { token: Token; place: Place } | undefined {
    const token = setting.values[0];
    return token === undefined ? undefined : { token, place: this.place(token, setting.key.text) };
  }

  private invalid(setting: Setting, token: Token, expected: string): void {
    this.fail(token, { key: setting.key.text, message: 'invalid value', expected, found: quote(token.text) });
  }

  private integer(setting: Setting | undefined, min: number, max: number, use: (value: number, place: Place) => void): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (setting === undefined || value === undefined) return;
    const number = /^[0-9]{1,10}$/.test(value.token.text) ? Number(value.token.text) : NaN;
    if (!(number >= min && number <= max)) this.invalid(setting, value.token, `an integer from ${min} to ${max}`);
    else use(number, value.place);
  }

  private boolean(setting: Setting | undefined, use: (value: boolean, place: Place) => void): void {
    this.choice(setting, ['0', '1'], (value, place) => use(value === '1', place));
  }

  /** The flag's value; undefined when absent or invalid (reported). */
  private booleanOf(setting: Setting | undefined): boolean | undefined {
    let result: boolean | undefined;
    this.boolean(setting, (value) => (result = value));
    return result;
  }

  private choice<T extends string>(setting: Setting | undefined, choices: readonly T[], use: (value: T, place: Place) => void): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (setting === undefined || value === undefined) return;
    if (!(choices as readonly string[]).includes(value.token.text)) this.invalid(setting, value.token, `one of ${choices.join(', ')}`);
    else use(value.token.text as T, value.place);
  }

  private text(setting: Setting | undefined, use: (value: string, place: Place) => void): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (value !== undefined) use(value.token.text, value.place);
  }

  private netmask(setting: Setting | undefined, use: (prefix: number, place: Place, text: string) => void): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (setting === undefined || value === undefined) return;
    const prefix = netmaskToPrefix(value.token.text);
    if (prefix === undefined) this.invalid(setting, value.token, 'a dotted netmask such as 255.255.255.0');
    else use(prefix, value.place, value.token.text);
  }

  /** A port number, or a service name resolved for `protocol` as getservbyname does. */
  private port(setting: Setting | undefined, protocol: 'tcp' | 'udp', use: (value: number, place: Place) => void): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (setting === undefined || value === undefined) return;
    const text = value.token.text;
    const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : this.context.services(text, protocol);
    if (port === undefined || port > 65535)
      this.invalid(setting, value.token, `a port number (0-65535) or a ${protocol} service name from /etc/services`);
    else use(port, value.place);
  }

  private address(setting: Setting | undefined, path: DocPath): void {
    const value = setting !== undefined ? this.value(setting) : undefined;
    if (value === undefined) return;
    this.hosts.resolve(value.token.text, value.place, (address) => this.builder.set(path, address, value.place), path.slice(0, -1));
  }
}
