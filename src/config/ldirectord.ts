// ldirectord.cf (heartbeat's Linux Director Daemon): global `key=value` lines, and
// `virtual=` lines each followed by its settings, indented by at least four spaces or a
// tab (a blank line ends the section, as in ldirectord's parser). Defaults are those of
// ldirectord's code (resources-agents): wrr, checktype negotiate with the service
// guessed from the port, checkinterval 10 s, checktimeout 5 s, negotiatetimeout 30 s,
// failurecount 1, quiescent no, fallback forwarding gate, weight 1. The INI-style files
// Config::Ldirectord writes (`[section]` lines, a `[vip]` section of DEVICE=ADDRESS) are
// read too. What tandem cannot express is a warning; see README "Migrating".
import { parseIp, type ParsedIp } from '../lib/address.js';
import { quote, unknownKeyFinding, type Finding } from './diagnostics.js';
import type { FrontEndContext, FrontEndResult } from './frontend.js';
import { DocumentBuilder, HostNames } from './legacy.js';
import type { DocPath, Place } from './normalise.js';

interface Line {
  key: string;
  value: string;
  line: number;
  /** Column of the key and of the value (1-based). */
  column: number;
  valueColumn: number;
}

interface Virtual {
  opener: Line;
  ipv6: boolean;
  settings: Line[];
}

const ignoredGlobals: Record<string, string> = {
  autoreload: 'is not needed: tandem reloads on `tandem reload` (or SIGHUP); ignored',
  callback: 'is not run: tandem does not watch its configuration file; ignored',
  logfile: 'is not used: tandem logs to stdout (journald); ignored',
  execute: 'is not used: tandem runs one configuration; ignored',
  supervised: 'is not needed: tandem runs in the foreground; ignored',
  readdquiescent: 'has no counterpart in tandem; ignored',
  emailalert: 'is not used: tandem sends no e-mail (watch its health log events); ignored',
  emailalertfreq: 'is not used: tandem sends no e-mail; ignored',
  emailalertstatus: 'is not used: tandem sends no e-mail; ignored',
  emailalertfrom: 'is not used: tandem sends no e-mail; ignored',
  smtp: 'is not used: tandem sends no e-mail; ignored',
  cleanstop: 'is not used: tandem removes its services when it stops being active; ignored',
  maintenancedir: 'has no counterpart in tandem (set a real server inactive instead); ignored',
  fallbackcommand: 'has no counterpart in tandem; ignored',
  checkcount: 'is deprecated (ldirectord uses it for ping checks only); ignored',
};

const readGlobals = [
  'checktimeout',
  'negotiatetimeout',
  'connecttimeout',
  'checkinterval',
  'failurecount',
  'fallback',
  'fallback6',
  'fork',
  'quiescent',
];

const ignoredVirtual: Record<string, string> = {
  load: 'has no counterpart in tandem; ignored',
  schedflags: 'scheduler flags are not set by tandem; ignored',
  fallbackcommand: ignoredGlobals.fallbackcommand ?? '',
  emailalert: ignoredGlobals.emailalert ?? '',
  emailalertfreq: ignoredGlobals.emailalertfreq ?? '',
  emailalertstatus: ignoredGlobals.emailalertstatus ?? '',
  smtp: ignoredGlobals.smtp ?? '',
  monitorfile: 'is not used: tandem logs every change of a server’s state; ignored',
  cleanstop: ignoredGlobals.cleanstop ?? '',
  checkcount: ignoredGlobals.checkcount ?? '',
};

const readVirtual = [
  'real',
  'real6',
  'request',
  'receive',
  'checktype',
  'checkcommand',
  'checktimeout',
  'connecttimeout',
  'negotiatetimeout',
  'failurecount',
  'checkinterval',
  'checkport',
  'login',
  'passwd',
  'database',
  'secret',
  'scheduler',
  'persistent',
  'netmask',
  'protocol',
  'ops',
  'service',
  'httpmethod',
  'virtualhost',
  'fallback',
  'fallback6',
  'quiescent',
  'servicename',
  'comment',
];

const services = [
  'dns',
  'ftp',
  'http',
  'https',
  'http_proxy',
  'imap',
  'imaps',
  'ldap',
  'ldaps',
  'mysql',
  'nntp',
  'none',
  'oracle',
  'pgsql',
  'pop',
  'pops',
  'radius',
  'simpletcp',
  'sip',
  'smtp',
  'submission',
];

/** ldirectord's service for a virtual port when `service` is not given. */
const serviceByPort: Record<number, string> = {
  21: 'ftp',
  25: 'smtp',
  53: 'dns',
  80: 'http',
  110: 'pop',
  119: 'nntp',
  143: 'imap',
  389: 'ldap',
  443: 'https',
  587: 'submission',
  636: 'ldaps',
  993: 'imaps',
  995: 'pops',
  1521: 'oracle',
  1812: 'radius',
  3128: 'http_proxy',
  3306: 'mysql',
  5432: 'pgsql',
  5060: 'sip',
};

const checktypes = ['connect', 'negotiate', 'ping', 'off', 'on', 'external', 'external-perl'];

export async function readLdirectord(text: string, context: FrontEndContext): Promise<FrontEndResult> {
  const builder = new DocumentBuilder();
  const hosts = new HostNames(context.hosts, context.sink, builder);
  const reader = new Reader(text, context);
  const { globals, virtuals, vipDevices } = reader.read();
  new Translation(builder, hosts, context, globals, vipDevices).run(virtuals);
  await hosts.settle();
  return { input: builder.document, locator: builder.locator, damaged: builder.damaged };
}

/** Splits the file into global lines and virtual sections, as ldirectord's parser does. */
class Reader {
  private readonly lines: string[];

  constructor(
    text: string,
    private readonly context: FrontEndContext,
  ) {
    this.lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  read(): { globals: Map<string, Line>; virtuals: Virtual[]; vipDevices: Map<string, Line> } {
    const { sink } = this.context;
    const globals = new Map<string, Line>();
    const virtuals: Virtual[] = [];
    const vipDevices = new Map<string, Line>();
    let current: Virtual | undefined;
    let section: string | undefined;
    let warnedSections = false;
    this.lines.forEach((raw, index) => {
      const number = index + 1;
      if (/^\s*#/.test(raw)) return;
      // Inside a section ldirectord cuts comments anywhere and counts a tab as 4 spaces.
      const indented = /^( {4,}|\t)/.test(raw.replace(/\t/g, '    '));
      if (current !== undefined && indented && raw.trim() !== '') {
        const setting = splitSetting(raw.replace(/#.*/, ''), number);
        if (setting !== undefined) current.settings.push(setting);
        else
          sink.error(
            { line: number, column: raw.search(/\S/) + 1 },
            { message: 'not a setting', expected: 'KEY=VALUE', found: quote(raw.trim()) },
          );
        return;
      }
      current = undefined;
      if (raw.trim() === '') return;
      const ini = /^\[([^\]]*)\]\s*$/.exec(raw);
      if (ini !== null) {
        section = ini[1];
        if (!warnedSections)
          sink.warning(
            { line: number, column: 1 },
            {
              key: raw.trim(),
              message:
                'INI-style sections (Config::Ldirectord) are not ldirectord syntax; tandem reads [vip] as the VIPs’ devices and ignores the section names',
            },
          );
        warnedSections = true;
        return;
      }
      const setting = splitSetting(raw, number);
      if (setting === undefined || indented) {
        sink.error(
          { line: number, column: raw.search(/\S/) + 1 },
          {
            message: indented ? 'indented line outside a virtual section (a blank line ends a section)' : 'not a setting',
            expected: indented ? 'a virtual= line above it' : 'KEY=VALUE',
            found: quote(raw.trim()),
          },
        );
        return;
      }
      if (section === 'vip') {
        vipDevices.set(setting.value, setting);
        return;
      }
      if (setting.key === 'virtual' || setting.key === 'virtual6') {
        current = { opener: setting, ipv6: setting.key === 'virtual6', settings: [] };
        virtuals.push(current);
        return;
      }
      const earlier = globals.get(setting.key);
      if (earlier !== undefined)
        sink.warning(setting, {
          key: setting.key,
          message: `${setting.key} is set twice (also at line ${earlier.line}); this later value wins`,
        });
      globals.set(setting.key, setting);
    });
    return { globals, virtuals, vipDevices };
  }
}

function splitSetting(raw: string, line: number): Line | undefined {
  const match = /^(\s*)([A-Za-z0-9_:.-]+)(\s*=\s*)(.*?)\s*$/.exec(raw);
  if (match === null) return undefined;
  const [, indent = '', key = '', separator = '', value = ''] = match;
  return { key, value, line, column: indent.length + 1, valueColumn: indent.length + key.length + separator.length + 1 };
}

/** A quoted value's text ("…" as ldirectord requires for strings), or the bare value. */
function unquote(value: string): string {
  const match = /^"(.*)"$/.exec(value);
  return match?.[1] ?? value;
}

class Translation {
  private readonly sink: FrontEndContext['sink'];
  private scope: DocPath | undefined;
  private serviceCount = 0;
  /** Forwarding methods of all real servers: `network` when they agree. */
  private readonly methods = new Set<string>();

  constructor(
    private readonly builder: DocumentBuilder,
    private readonly hosts: HostNames,
    private readonly context: FrontEndContext,
    private readonly globals: Map<string, Line>,
    private readonly vipDevices: Map<string, Line>,
  ) {
    this.sink = context.sink;
  }

  run(virtuals: Virtual[]): void {
    const b = this.builder;
    b.set(['sync', 'enabled'], false);
    b.set(['network'], 'direct');
    b.set(['virtual_services'], []);
    for (const setting of this.globals.values()) {
      if (Object.hasOwn(ignoredGlobals, setting.key)) this.warn(setting, ignoredGlobals[setting.key] ?? '');
      else if (!readGlobals.includes(setting.key))
        this.error(setting, unknownKeyFinding('global setting', setting.key, [...readGlobals, ...Object.keys(ignoredGlobals), 'virtual']));
    }
    const connecttimeout = this.globals.get('connecttimeout');
    if (connecttimeout !== undefined) this.warn(connecttimeout, 'connecttimeout is refused by current ldirectord; read as checktimeout');
    for (const [address, line] of this.vipDevices)
      if (parseIp(address) === undefined)
        this.error(
          { line: line.line, column: line.valueColumn },
          { key: line.key, message: 'invalid address', expected: 'DEVICE=ADDRESS', found: quote(address) },
        );
    const [first] = virtuals;
    if (first !== undefined)
      this.warn(
        first.opener,
        "ldirectord leaves the VIPs to heartbeat's haresources: tandem claims each virtual's address on the active director (the device whose subnet holds it, unless a [vip] section names one)",
      );
    for (const virtual of virtuals) this.virtual(virtual);
    const [method, ...others] = this.methods;
    if (method !== undefined && others.length === 0)
      b.set(['network'], { masq: 'nat', gate: 'direct', ipip: 'tunnel' }[method] ?? 'direct');
  }

  private virtual(virtual: Virtual): void {
    const index = this.serviceCount++;
    const path = ['virtual_services', index];
    this.scope = path;
    const b = this.builder;
    const opener = virtual.opener;
    const openerPlace = this.place(opener, opener.key);
    b.mark(path, openerPlace);
    const settings = new Map<string, Line>();
    const reals: Line[] = [];
    for (const setting of virtual.settings) {
      if (setting.key === 'real' || setting.key === 'real6') reals.push(setting);
      else if (Object.hasOwn(ignoredVirtual, setting.key)) this.warn(setting, ignoredVirtual[setting.key] ?? '');
      else if (!readVirtual.includes(setting.key))
        this.error(
          setting,
          unknownKeyFinding('keyword in a virtual section', setting.key, [...readVirtual, ...Object.keys(ignoredVirtual)]),
        );
      else settings.set(setting.key, setting);
    }
    const target = this.virtualAddress(virtual, path);
    if (target === undefined) {
      this.scope = undefined;
      return;
    }
    const protocolSetting = settings.get('protocol');
    let protocol: 'tcp' | 'udp' | 'fwm' = target.fwmark !== undefined ? 'fwm' : /^(53|domain)$/.test(target.portText) ? 'udp' : 'tcp';
    if (protocolSetting !== undefined) {
      const allowed = target.fwmark !== undefined ? ['fwm'] : ['tcp', 'udp'];
      if (!allowed.includes(protocolSetting.value)) this.invalid(protocolSetting, `one of ${allowed.join(', ')}`);
      else protocol = protocolSetting.value as typeof protocol;
    }
    if (protocol !== 'fwm')
      b.set([...path, 'protocol'], protocol, protocolSetting !== undefined ? this.value(protocolSetting) : openerPlace);
    const port = target.fwmark !== undefined ? 0 : this.port(target.portText, protocol === 'udp' ? 'udp' : 'tcp', opener);
    if (port !== undefined && target.fwmark === undefined) b.set([...path, 'port'], port, openerPlace);
    const name = settings.get('servicename');
    const defaultName = target.fwmark !== undefined ? `fwmark${target.fwmark}` : `${target.addressText}:${target.portText}/${protocol}`;
    b.set([...path, 'name'], name !== undefined ? unquote(name.value) : defaultName, name !== undefined ? this.value(name) : openerPlace);
    const scheduler = settings.get('scheduler');
    b.set([...path, 'scheduler'], scheduler?.value ?? 'wrr', scheduler !== undefined ? this.value(scheduler) : openerPlace);
    this.persistence(settings, path);
    const ops = settings.get('ops');
    if (ops !== undefined) this.yesNo(ops, (value, place) => b.set([...path, 'one_packet'], value, place));
    this.fallback(settings, path, target.portText, protocol === 'udp' ? 'udp' : 'tcp', virtual.ipv6);
    const quiescent = settings.get('quiescent') ?? this.globals.get('quiescent');
    if (quiescent !== undefined) this.yesNo(quiescent, (value, place) => b.set([...path, 'health_check', 'quiesce_server'], value, place));
    b.set([...path, 'real_servers'], []);
    const offline = this.healthCheck(settings, path, target, port ?? 0, protocol, openerPlace);
    let serverIndex = 0;
    for (const real of reals)
      serverIndex = this.real(real, path, serverIndex, virtual.ipv6, protocol === 'udp' ? 'udp' : 'tcp', offline, settings);
    this.scope = undefined;
  }

  private virtualAddress(virtual: Virtual, path: DocPath): { addressText: string; portText: string; fwmark?: number } | undefined {
    const opener = virtual.opener;
    const value = opener.value;
    const at = { line: opener.line, column: opener.valueColumn };
    const b = this.builder;
    if (/^[0-9]+$/.test(value)) {
      const fwmark = Number(value);
      if (!(fwmark >= 1 && fwmark <= 4294967295)) {
        this.error(at, {
          key: opener.key,
          message: 'invalid firewall mark',
          expected: 'an integer from 1 to 4294967295',
          found: quote(value),
        });
        return undefined;
      }
      b.set([...path, 'fwmark'], fwmark, this.place(opener, opener.key, opener.valueColumn));
      if (virtual.ipv6) b.set([...path, 'family'], 6);
      return { addressText: value, portText: '0', fwmark };
    }
    const match = virtual.ipv6
      ? /^\[([0-9A-Fa-f:.]+)\]:([0-9A-Za-z_-]+)$/.exec(value)
      : /^([0-9A-Za-z._+-]+):([0-9A-Za-z_-]+)$/.exec(value);
    if (match === null) {
      this.error(at, {
        key: opener.key,
        message: 'invalid address for virtual server',
        expected: virtual.ipv6
          ? 'virtual6=[ADDRESS]:PORT or a firewall mark'
          : 'virtual=ADDRESS:PORT or a firewall mark (virtual6= for IPv6)',
        found: quote(value),
      });
      return undefined;
    }
    const [, addressText = '', portText = ''] = match;
    const place = this.place(opener, opener.key, opener.valueColumn);
    this.hosts.resolve(
      addressText,
      place,
      (address) => {
        const device = this.vipDevices.get(address) ?? this.vipDevices.get(addressText);
        b.set([...path, 'vip', 'address'], address, place);
        if (device !== undefined) b.set([...path, 'vip', 'device'], device.key, this.place(device, device.key));
      },
      path,
    );
    return { addressText, portText };
  }

  private persistence(settings: Map<string, Line>, path: DocPath): void {
    const persistent = settings.get('persistent');
    const netmask = settings.get('netmask');
    if (persistent === undefined) {
      if (netmask !== undefined) this.warn(netmask, 'netmask without persistent; ignored');
      return;
    }
    this.integer(persistent, 1, 31 * 86400, (seconds, place) =>
      this.builder.set([...path, 'persistence', 'timeout'], `${seconds}s`, place),
    );
    if (netmask !== undefined)
      this.builder.set(
        [...path, 'persistence', 'netmask'],
        /^[0-9]+$/.test(netmask.value) ? Number(netmask.value) : netmask.value,
        this.value(netmask),
      );
  }

  /** `fallback=ADDRESS[:PORT] [gate|masq|ipip]` (the virtual's, else the global one). */
  private fallback(settings: Map<string, Line>, path: DocPath, virtualPort: string, protocol: 'tcp' | 'udp', ipv6: boolean): void {
    const setting = settings.get(ipv6 ? 'fallback6' : 'fallback') ?? this.globals.get(ipv6 ? 'fallback6' : 'fallback');
    if (setting === undefined) return;
    const [target = '', method = 'gate', extra] = setting.value.split(/\s+/);
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::([0-9A-Za-z_-]+))?$/.exec(target);
    if (match === null || extra !== undefined || !['gate', 'masq', 'ipip'].includes(method)) {
      this.invalid(setting, 'ADDRESS[:PORT] [gate|masq|ipip]');
      return;
    }
    const [, host = '', portText] = match;
    const place = this.value(setting);
    const b = this.builder;
    this.hosts.resolve(host.replace(/^\[|\]$/g, ''), place, (address) => b.set([...path, 'sorry_server', 'address'], address, place), path);
    // A fallback in the virtual section defaults to the virtual's port; a global one to 0 (the same).
    const port = this.port(portText ?? virtualPort, protocol, setting);
    if (port !== undefined) b.set([...path, 'sorry_server', 'port'], port, place);
    b.set([...path, 'sorry_server', 'forwarding'], method === 'gate' ? 'gate' : method, place);
  }

  /** The service's check; true when `checktype=off` keeps every real server out. */
  private healthCheck(
    settings: Map<string, Line>,
    path: DocPath,
    target: { addressText: string; portText: string; fwmark?: number },
    port: number,
    protocol: string,
    checkPlace: Place,
  ): boolean {
    const b = this.builder;
    const check = [...path, 'health_check'];
    const checktypeSetting = settings.get('checktype');
    let checktype = 'negotiate';
    let combined: number | undefined;
    if (checktypeSetting !== undefined) {
      if (/^[0-9]+$/.test(checktypeSetting.value)) {
        checktype = 'negotiate';
        combined = Number(checktypeSetting.value);
      } else if (checktypes.includes(checktypeSetting.value)) checktype = checktypeSetting.value;
      else this.invalid(checktypeSetting, `one of ${checktypes.join(', ')} or a number`);
    }
    const serviceSetting = settings.get('service');
    let service = target.fwmark !== undefined ? 'none' : (serviceByPort[port] ?? 'none');
    if (serviceSetting !== undefined) {
      if (services.includes(serviceSetting.value)) service = serviceSetting.value;
      else this.invalid(serviceSetting, `one of ${services.join(', ')}`);
    }
    const at = checktypeSetting ?? serviceSetting;
    const kind = (value: string): void => b.set([...check, 'kind'], value, at !== undefined ? this.value(at) : checkPlace);
    const timeouts = this.timeouts(settings);
    const interval = this.checkInterval(settings);
    b.set([...check, 'interval'], `${interval}s`);
    b.set([...check, 'reentry'], '0s');
    const failurecount = settings.get('failurecount') ?? this.globals.get('failurecount');
    b.set([...check, 'failures'], 1);
    if (failurecount !== undefined) this.integer(failurecount, 1, 100, (value, place) => b.set([...check, 'failures'], value, place));
    const checkport = settings.get('checkport');
    if (checkport !== undefined) this.integer(checkport, 1, 65535, (value, place) => b.set([...check, 'port'], value, place));
    if (combined !== undefined && checktypeSetting !== undefined)
      this.warn(checktypeSetting, `checktype=${combined}: tandem does not alternate connect and negotiate checks; every check negotiates`);
    if (checktype === 'on' || checktype === 'off') {
      kind('none');
      if (checktype === 'off' && checktypeSetting !== undefined)
        this.warn(checktypeSetting, 'checktype=off: ldirectord activates no real server; tandem marks them inactive');
      return checktype === 'off';
    }
    b.set([...check, 'timeout'], `${checktype === 'negotiate' ? timeouts.negotiate : timeouts.connect}s`);
    if (checktype === 'connect' || checktype === 'ping') {
      if (checktype === 'ping' && checktypeSetting !== undefined)
        this.warn(checktypeSetting, 'checktype=ping: tandem checks by connecting instead (a datagram for UDP)');
      kind('tcp');
      return false;
    }
    if (checktype === 'external' || checktype === 'external-perl') {
      const command = settings.get('checkcommand');
      if (checktype === 'external-perl' && checktypeSetting !== undefined)
        this.warn(checktypeSetting, 'checktype=external-perl: tandem runs the script as a program (the same arguments and exit status)');
      kind('exec');
      // ldirectord's four arguments: virtual address (or mark), virtual port, real address, real port.
      const program = `${unquote(command?.value ?? '/bin/true')} ${target.addressText} ${target.portText === '0' ? '0' : String(port)} %h %p`;
      b.set([...check, 'send_program'], program, command !== undefined ? this.value(command) : checkPlace);
      return false;
    }
    this.negotiate(settings, check, service, serviceSetting ?? checktypeSetting, protocol, kind);
    return false;
  }

  private negotiate(
    settings: Map<string, Line>,
    check: DocPath,
    service: string,
    at: Line | undefined,
    protocol: string,
    kind: (value: string) => void,
  ): void {
    const b = this.builder;
    const request = settings.get('request');
    const receive = settings.get('receive');
    const requestText = requestPath(request !== undefined ? unquote(request.value) : '/');
    const receiveText = receive !== undefined ? unquote(receive.value) : '';
    if (service === 'none') {
      kind('none');
      return;
    }
    if (service === 'http' || service === 'https') {
      kind('http');
      const place = request !== undefined ? this.value(request) : undefined;
      const absolute = /^\/?https?:\/\/[^/]+(\/.*)?$/.exec(requestText);
      if (absolute !== null && request !== undefined)
        this.warn(request, 'request names a URL: tandem requests its path from each real server');
      b.set([...check, 'http', 'path'], absolute !== null ? (absolute[1] ?? '/') : requestText, place);
      b.set([...check, 'http', 'status_codes'], ['200-299']);
      if (receiveText !== '' && receive !== undefined) b.set([...check, 'http', 'body_regex'], receiveText, this.value(receive));
      if (service === 'https') b.set([...check, 'http', 'tls'], true);
      const host = settings.get('virtualhost');
      if (host !== undefined) b.set([...check, 'http', 'host'], unquote(host.value), this.value(host));
      const method = settings.get('httpmethod');
      if (method !== undefined && method.value.toUpperCase() === 'HEAD') this.warn(method, 'httpmethod=HEAD: tandem sends GET');
      return;
    }
    if (service === 'simpletcp') {
      kind('send-expect');
      b.set([...check, 'send'], requestText.replace(/\\n/g, '\n'), request !== undefined ? this.value(request) : undefined);
      if (receiveText !== '' && receive !== undefined) {
        b.set([...check, 'expect'], receiveText, this.value(receive));
        b.set([...check, 'use_regex'], true);
      }
      return;
    }
    kind('tcp');
    if (at !== undefined)
      this.warn(
        at,
        `service=${service}: tandem has no ${service} negotiate check; the real servers are checked by connecting to them${protocol === 'udp' ? ' (a datagram for UDP)' : ''}`,
      );
  }

  private timeouts(settings: Map<string, Line>): { connect: number; negotiate: number } {
    const read = (key: string): number | undefined => {
      const setting = settings.get(key) ?? this.globals.get(key);
      if (setting === undefined) return undefined;
      let value: number | undefined;
      this.integer(setting, 1, 86400, (seconds) => (value = seconds));
      return value;
    };
    const check = read('checktimeout') ?? read('connecttimeout');
    const negotiate = read('negotiatetimeout');
    const virtualConnect = settings.get('connecttimeout');
    if (virtualConnect !== undefined) this.warn(virtualConnect, 'connecttimeout is refused by current ldirectord; read as checktimeout');
    return { connect: check ?? negotiate ?? 5, negotiate: negotiate ?? check ?? 30 };
  }

  /** checkinterval is global; a virtual's own counts only with fork=yes (ldirectord's rule). */
  private checkInterval(settings: Map<string, Line>): number {
    let interval = 10;
    const global = this.globals.get('checkinterval');
    if (global !== undefined) this.integer(global, 1, 86400, (value) => (interval = value));
    const own = settings.get('checkinterval');
    if (own === undefined) return interval;
    if (this.globals.get('fork')?.value !== 'yes') {
      this.warn(own, 'checkinterval in a virtual section is ignored without fork=yes (as ldirectord does)');
      return interval;
    }
    this.integer(own, 1, 86400, (value) => (interval = value));
    return interval;
  }

  /** One `real=` line (a `->` range gives several); returns the next server index. */
  private real(
    real: Line,
    path: DocPath,
    first: number,
    ipv6: boolean,
    protocol: 'tcp' | 'udp',
    offline: boolean,
    settings: Map<string, Line>,
  ): number {
    const at = { line: real.line, column: real.valueColumn };
    const wanted = ipv6 ? 'real6' : 'real';
    if (real.key !== wanted) {
      this.error(real, {
        key: real.key,
        message: `${real.key} in a ${ipv6 ? 'virtual6' : 'virtual'} section`,
        expected: `${wanted}=`,
        found: quote(real.key),
      });
      return first;
    }
    const match =
      /^(\[[0-9A-Fa-f:]+\]|[0-9A-Za-z.-]+)(?:->(\[[0-9A-Fa-f:]+\]|[0-9A-Za-z.-]+))?(?::([0-9A-Za-z_-]+))?\s+(gate|masq|ipip)(?:\s+([0-9]+))?(?:\s+"([^"]*)"[, ]\s*"([^"]*)")?(?:\s+l:([0-9]+))?(?:\s+u:([0-9]+))?\s*$/.exec(
        real.value,
      );
    if (match === null) {
      this.error(at, {
        key: real.key,
        message: 'invalid real server',
        expected: `${wanted}=ADDRESS[->ADDRESS][:PORT] gate|masq|ipip [WEIGHT] ["REQUEST", "RECEIVE"] [l:N] [u:N]`,
        found: quote(real.value),
      });
      return first;
    }
    const [, fromText = '', toText, portText, method = 'gate', weightText, request, receive, lower, upper] = match;
    const addresses = toText !== undefined ? expandRange(fromText, toText) : [fromText.replace(/^\[|\]$/g, '')];
    if (addresses === undefined) {
      this.error(at, {
        key: real.key,
        message: 'invalid address range',
        expected: 'FIRST->LAST, IPv4 addresses with FIRST <= LAST',
        found: quote(`${fromText}->${toText ?? ''}`),
      });
      return first;
    }
    if (
      request !== undefined &&
      (unquote(settings.get('request')?.value ?? '"/"') !== request || unquote(settings.get('receive')?.value ?? '""') !== receive)
    )
      this.warn(real, 'a request/receive pair per real server: tandem checks all servers of a service alike, with the virtual section’s');
    const port = portText !== undefined ? this.port(portText, protocol, real) : 0;
    const weight = weightText !== undefined ? Number(weightText) : 1;
    this.methods.add(method);
    const place = this.place(real, real.key, real.valueColumn);
    const b = this.builder;
    addresses.forEach((address, offset) => {
      const serverPath = [...path, 'real_servers', first + offset];
      b.mark(serverPath, place);
      this.hosts.resolve(address, place, (resolved) => b.set([...serverPath, 'address'], resolved, place), serverPath);
      if (port !== undefined) b.set([...serverPath, 'port'], port, place);
      b.set([...serverPath, 'forwarding'], method, place);
      b.set([...serverPath, 'weight'], weight, place);
      if (lower !== undefined) b.set([...serverPath, 'lower_threshold'], Number(lower), place);
      if (upper !== undefined) b.set([...serverPath, 'upper_threshold'], Number(upper), place);
      if (offline) b.set([...serverPath, 'active'], false, place);
    });
    return first + addresses.length;
  }

  // ---- values

  private port(text: string, protocol: 'tcp' | 'udp', setting: Line): number | undefined {
    const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : this.context.services(text, protocol);
    if (port === undefined || port > 65535) {
      this.error(
        { line: setting.line, column: setting.valueColumn },
        {
          key: setting.key,
          message: `unknown port '${text}'`,
          expected: `a port number or a ${protocol} service name from /etc/services`,
          found: quote(text),
        },
      );
      return undefined;
    }
    return port;
  }

  private integer(setting: Line, min: number, max: number, use: (value: number, place: Place) => void): void {
    const number = /^[0-9]{1,10}$/.test(setting.value) ? Number(setting.value) : NaN;
    if (!(number >= min && number <= max)) this.invalid(setting, `an integer from ${min} to ${max}`);
    else use(number, this.value(setting));
  }

  private yesNo(setting: Line, use: (value: boolean, place: Place) => void): void {
    if (setting.value !== 'yes' && setting.value !== 'no') this.invalid(setting, 'yes or no');
    else use(setting.value === 'yes', this.value(setting));
  }

  private invalid(setting: Line, expected: string): void {
    this.error(
      { line: setting.line, column: setting.valueColumn },
      { key: setting.key, message: 'invalid value', expected, found: quote(setting.value) },
    );
  }

  private value(setting: Line): Place {
    return this.place(setting, setting.key, setting.valueColumn);
  }

  private place(at: { line: number; column: number }, key: string, column = at.column): Place {
    return { line: at.line, column, key };
  }

  private warn(setting: Line, message: string): void {
    this.sink.warning(setting, { key: setting.key, message });
  }

  private error(at: { line: number; column: number }, finding: Finding): void {
    this.sink.error(at, finding);
    if (this.scope !== undefined) this.builder.damage(this.scope);
  }
}

/** ldirectord prefixes a request that does not start with '/' with one. */
function requestPath(request: string): string {
  return request.startsWith('/') ? request : `/${request}`;
}

function expandRange(fromText: string, toText: string): string[] | undefined {
  const from = parseIp(fromText);
  const to = parseIp(toText);
  if (from?.family !== 4 || to?.family !== 4) return undefined;
  const start = ipv4ToNumber(from);
  const end = ipv4ToNumber(to);
  if (end < start || end - start > 1023) return undefined;
  return Array.from({ length: end - start + 1 }, (_, offset) => numberToIpv4(start + offset));
}

function ipv4ToNumber(ip: ParsedIp): number {
  return ip.address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
