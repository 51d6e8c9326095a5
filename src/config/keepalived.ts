// keepalived.conf (one director's file): its virtual servers become tandem's virtual
// services, its VRRP instances the election and the addresses to claim. keepalived's
// defaults are kept (lb_algo wlc, lb_kind NAT, delay_loop 60 s, connect_timeout 5 s,
// weight 1, preemption, one retry; a server is back at its first good check). What
// tandem cannot express is a warning at its keyword; see README "Migrating".
import { parseIp, parseIpPrefix, type ParsedIp } from '../lib/address.js';
import { quote, unknownKeyFinding, type Finding } from './diagnostics.js';
import type { FrontEndContext, FrontEndResult } from './frontend.js';
import { readStatements, type Statement, type Token } from './keepalived-syntax.js';
import { DocumentBuilder } from './legacy.js';
import type { DocPath, Place } from './normalise.js';

/** How a keyword of a block is handled: 'read', or accepted with a warning saying why not. */
type Keywords = Record<string, string>;

const noCounterpart = 'has no counterpart in tandem; ignored';
const vrrpOnly = 'is VRRP protocol detail tandem has no use for; ignored';
const notifyOnly = 'tandem sends no e-mail or SNMP; ignored';

const topKeywords: Keywords = {
  global_defs: 'read',
  vrrp_instance: 'read',
  vrrp_sync_group: 'read',
  virtual_server: 'read',
  virtual_server_group: 'read',
  static_ipaddress: 'configures addresses outside failover; tandem leaves them to the system; ignored',
  static_routes: 'configures routes outside failover; tandem leaves them to the system; ignored',
  static_rules: 'configures rules outside failover; tandem leaves them to the system; ignored',
  vrrp_script: 'tracking scripts have no counterpart in tandem; ignored',
  vrrp_track_file: noCounterpart,
  track_file: noCounterpart,
  vrrp_track_process: noCounterpart,
  track_process: noCounterpart,
  garp_group: noCounterpart,
  linkbeat_interfaces: 'tandem watches links itself (monitor_links); ignored',
  bfd_instance: noCounterpart,
  SSL: 'tandem does not verify real servers’ certificates; ignored',
  net_namespace: noCounterpart,
  net_namespace_ipvs: noCounterpart,
  instance: noCounterpart,
  use_pid_dir: noCounterpart,
};

const globalKeywords: Keywords = {
  router_id: 'read',
  lvs_sync_daemon: 'read',
  lvs_timeouts: 'read',
  vrrp_garp_master_repeat: 'read',
  vrrp_garp_interval: 'read',
  vrrp_garp_master_refresh: 'read',
};

const instanceKeywords: Keywords = {
  state: 'read',
  interface: 'read',
  virtual_router_id: 'read',
  priority: 'read',
  advert_int: 'read',
  virtual_ipaddress: 'read',
  virtual_ipaddress_excluded: 'read',
  nopreempt: 'read',
  preempt: 'read',
  notify_master: 'read',
  notify_backup: 'read',
  notify_fault: 'read',
  notify_stop: 'read',
  notify: 'read',
  unicast_src_ip: 'read',
  unicast_peer: 'read',
  track_interface: 'read',
  garp_master_repeat: 'read',
  garp_master_refresh: 'read',
  preempt_delay: 'tandem preempts as soon as the better node is heard; ignored',
  authentication: 'tandem signs heartbeats with the keys of auth.key_file (tandem keygen); ignored',
  auth_hmac: 'tandem signs heartbeats with the keys of auth.key_file (tandem keygen); ignored',
  track_script: 'tracking scripts have no counterpart in tandem; ignored',
  track_file: noCounterpart,
  track_process: noCounterpart,
  track_bfd: noCounterpart,
  virtual_routes: noCounterpart,
  virtual_rules: noCounterpart,
  use_vmac: noCounterpart,
  vmac_xmit_base: noCounterpart,
  smtp_alert: notifyOnly,
  notify_master_rx_lower_pri: noCounterpart,
  notify_deleted: noCounterpart,
  notify_priority_changes: noCounterpart,
  mcast_src_ip: vrrpOnly,
  mcast_dst_ip: vrrpOnly,
  version: vrrpOnly,
  native_ipv6: vrrpOnly,
  dont_track_primary: vrrpOnly,
  track_src_ip: vrrpOnly,
  check_unicast_src: vrrpOnly,
  unicast_fault_no_peer: vrrpOnly,
  unicast_ttl: vrrpOnly,
  accept: vrrpOnly,
  no_accept: vrrpOnly,
  strict_mode: vrrpOnly,
  skip_check_adv_addr: vrrpOnly,
  down_timer_adverts: vrrpOnly,
  higher_prio_send_advert: vrrpOnly,
  lower_prio_no_advert: vrrpOnly,
  timer_expired_backup: vrrpOnly,
  garp_master_delay: vrrpOnly,
  garp_master_refresh_repeat: vrrpOnly,
  garp_lower_prio_delay: vrrpOnly,
  garp_lower_prio_repeat: vrrpOnly,
  garp_extra_if: vrrpOnly,
  no_virtual_ipaddress: vrrpOnly,
  promote_secondaries: vrrpOnly,
  kernel_rx_buf_size: vrrpOnly,
  linkbeat_use_polling: vrrpOnly,
  debug: vrrpOnly,
  vrf: vrrpOnly,
};

const syncGroupKeywords: Keywords = {
  group: 'read',
  notify_master: 'read',
  notify_backup: 'read',
  notify_fault: 'read',
  notify_stop: 'read',
  notify: 'read',
  smtp_alert: notifyOnly,
  track_script: 'tracking scripts have no counterpart in tandem; ignored',
  track_interface: 'read',
  global_tracking: vrrpOnly,
  sync_group_tracking_weight: vrrpOnly,
};

/** Defaults a virtual_server or real_server gives the checkers below it. */
const checkerDefaults = ['connect_timeout', 'retry', 'delay_before_retry', 'delay_loop'];

const virtualKeywords: Keywords = {
  lb_algo: 'read',
  lvs_sched: 'read',
  lb_kind: 'read',
  lvs_method: 'read',
  persistence_timeout: 'read',
  persistence_granularity: 'read',
  protocol: 'read',
  sorry_server: 'read',
  sorry_server_lvs_method: 'read',
  quorum: 'read',
  inhibit_on_failure: 'read',
  virtualhost: 'read',
  ops: 'read',
  ip_family: 'read',
  real_server: 'read',
  ...Object.fromEntries(checkerDefaults.map((keyword) => [keyword, 'read'])),
  persistence_engine: noCounterpart,
  ha_suspend: noCounterpart,
  alpha: 'tandem counts an unchecked server as up; ignored',
  omega: noCounterpart,
  hysteresis: noCounterpart,
  quorum_up: noCounterpart,
  quorum_down: noCounterpart,
  sorry_server_inhibit: noCounterpart,
  warmup: 'tandem spreads the first checks over one interval; ignored',
  hashed: noCounterpart,
  'flag-1': 'scheduler flags are not set by tandem; ignored',
  'flag-2': 'scheduler flags are not set by tandem; ignored',
  'flag-3': 'scheduler flags are not set by tandem; ignored',
  'sh-port': 'scheduler flags are not set by tandem; ignored',
  'sh-fallback': 'scheduler flags are not set by tandem; ignored',
  'mh-port': 'scheduler flags are not set by tandem; ignored',
  'mh-fallback': 'scheduler flags are not set by tandem; ignored',
  smtp_alert: notifyOnly,
  snmp_name: notifyOnly,
  nat_mask: noCounterpart,
};

const checkerTypes = [
  'TCP_CHECK',
  'HTTP_GET',
  'SSL_GET',
  'MISC_CHECK',
  'SMTP_CHECK',
  'DNS_CHECK',
  'PING_CHECK',
  'UDP_CHECK',
  'BFD_CHECK',
  'FILE_CHECK',
];
const supportedCheckers = ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK'];

const realKeywords: Keywords = {
  weight: 'read',
  lvs_method: 'read',
  uthreshold: 'read',
  lthreshold: 'read',
  inhibit_on_failure: 'read',
  virtualhost: 'read',
  ...Object.fromEntries(checkerDefaults.map((keyword) => [keyword, 'read'])),
  ...Object.fromEntries(checkerTypes.map((keyword) => [keyword, 'read'])),
  notify_up: 'tandem logs health.server_down/up events instead of running scripts; ignored',
  notify_down: 'tandem logs health.server_down/up events instead of running scripts; ignored',
  smtp_alert: notifyOnly,
  snmp_name: notifyOnly,
  alpha: 'tandem counts an unchecked server as up; ignored',
  warmup: 'tandem spreads the first checks over one interval; ignored',
};

const checkerKeywords: Keywords = {
  connect_port: 'read',
  connect_timeout: 'read',
  retry: 'read',
  nb_get_retry: 'read',
  delay_before_retry: 'read',
  delay_loop: 'read',
  url: 'read',
  virtualhost: 'read',
  misc_path: 'read',
  misc_timeout: 'read',
  connect_ip: 'tandem checks the real server’s own address; ignored',
  bindto: 'tandem checks from the director’s default source address; ignored',
  bind_if: noCounterpart,
  bind_port: noCounterpart,
  fwmark: noCounterpart,
  alpha: 'tandem counts an unchecked server as up; ignored',
  warmup: 'tandem spreads the first checks over one interval; ignored',
  log_all_failures: 'tandem logs every state change; ignored',
  http_protocol: 'tandem sends HTTP/1.1 with Connection: close; ignored',
  fast_recovery: noCounterpart,
  enable_sni: 'tandem sends the virtualhost as SNI when it is a name; ignored',
  sni_name: 'tandem sends the virtualhost as SNI when it is a name; ignored',
  tls_compliant: noCounterpart,
  misc_dynamic: 'tandem does not set weights from a check program’s exit status; ignored',
  user: 'tandem runs check programs as its own user; ignored',
};

/** Keywords of the checkers tandem does not run (the checker itself gets the warning). */
const foreignCheckerKeywords = [
  'helo_name',
  'host',
  'type',
  'name',
  'payload',
  'require_reply',
  'min_reply_length',
  'max_reply_length',
  'track_file',
  'dynamic',
  'weight',
];

const urlKeywords: Keywords = {
  path: 'read',
  digest: 'read',
  status_code: 'read',
  virtualhost: 'read',
  regex: 'read',
  regex_no_match: 'read',
  regex_options: 'tandem’s regular expressions (POSIX ERE with Perl escapes) take no options; ignored',
  regex_stack: noCounterpart,
  regex_min_offset: noCounterpart,
  regex_max_offset: noCounterpart,
  tls_compliant: noCounterpart,
};

const forwardingByMethod: Record<string, 'masq' | 'gate' | 'ipip'> = { NAT: 'masq', DR: 'gate', TUN: 'ipip' };
const networkByMethod: Record<string, 'nat' | 'direct' | 'tunnel'> = { NAT: 'nat', DR: 'direct', TUN: 'tunnel' };

/** The address a VRRP instance claims, as written in virtual_ipaddress. */
interface VrrpAddress {
  ip: ParsedIp;
  prefix: number;
  device?: string;
  label?: string;
  at: Token;
  used: boolean;
}

interface Instance {
  statement: Statement;
  settings: Map<string, Statement>;
}

/** What one virtual_server (or one member of its group) addresses. */
interface ServiceAddress {
  name: string;
  ip?: ParsedIp;
  port: number;
  fwmark?: number;
  family?: 4 | 6;
  at: Token;
}

/** A checker's settings as the document's health_check, and where it was written. */
interface CheckerSpec {
  check: Record<string, unknown>;
  at: Token;
  quiesce: boolean;
}

export async function readKeepalived(text: string, context: FrontEndContext): Promise<FrontEndResult> {
  const statements = await readStatements(text, context.file, context.sink, context.readInclude);
  const builder = new DocumentBuilder();
  new Translation(builder, context).run(statements);
  return { input: builder.document, locator: builder.locator, damaged: builder.damaged };
}

class Translation {
  private readonly sink: FrontEndContext['sink'];
  private readonly vrrpAddresses: VrrpAddress[] = [];
  private readonly groups = new Map<string, Statement>();
  private serviceCount = 0;
  private network: 'nat' | 'direct' | 'tunnel' | undefined;
  private routerId: Statement | undefined;
  /** The document part being translated, damaged by errors in it. */
  private scope: DocPath | undefined;

  constructor(
    private readonly builder: DocumentBuilder,
    context: FrontEndContext,
  ) {
    this.sink = context.sink;
  }

  run(statements: Statement[]): void {
    const b = this.builder;
    b.set(['preempt'], true);
    b.set(['sync', 'enabled'], false);
    b.set(['virtual_services'], []);
    const top = this.settingsOf(statements, topKeywords, 'keyword');
    const global = top.filter((s) => s.keyword.text === 'global_defs');
    for (const statement of global) this.globalDefs(statement);
    const instances = top.filter((s) => s.keyword.text === 'vrrp_instance').map((s) => this.instance(s));
    this.election(instances, global);
    for (const statement of top.filter((s) => s.keyword.text === 'vrrp_sync_group')) this.syncGroup(statement);
    for (const statement of top.filter((s) => s.keyword.text === 'virtual_server_group')) {
      const name = statement.args[0]?.text;
      if (name !== undefined) this.groups.set(name, statement);
    }
    for (const statement of top.filter((s) => s.keyword.text === 'virtual_server')) this.virtualServer(statement);
    b.set(['network'], this.network ?? 'nat');
    this.unclaimedAddresses();
  }

  // ---- global_defs

  private globalDefs(statement: Statement): void {
    const b = this.builder;
    const settings = this.blockSettings(statement, globalKeywords, 'global_defs keyword');
    const routerId = settings.get('router_id');
    if (routerId !== undefined) this.routerId = routerId;
    const sync = settings.get('lvs_sync_daemon');
    if (sync !== undefined) {
      const [device, ...rest] = sync.args;
      b.set(['sync', 'enabled'], true, this.place(sync.keyword));
      if (device !== undefined) b.set(['sync', 'interface'], device.text, this.place(device, 'lvs_sync_daemon'));
      // The instance may follow the interface without its `inst`.
      if (rest[0] !== undefined && !['inst', 'id', 'port', 'maxlen', 'ttl', 'group'].includes(rest[0].text)) rest.shift();
      this.options(sync, rest, { inst: 'word', id: 'word', port: 'word', maxlen: 'word', ttl: 'word', group: 'word' }, (name, value) => {
        if (name === 'id') this.integer(value, 0, 255, 'lvs_sync_daemon', (id, place) => b.set(['sync', 'sync_id'], id, place));
        else if (name === 'port') this.integer(value, 1, 65535, 'lvs_sync_daemon', (port, place) => b.set(['sync', 'port'], port, place));
        else if (name !== 'inst')
          this.warn(value, 'lvs_sync_daemon', `lvs_sync_daemon ${name} is left to the kernel's default by tandem; ignored`);
      });
    }
    const timeouts = settings.get('lvs_timeouts');
    if (timeouts !== undefined) {
      const fields: Record<string, string> = { tcp: 'tcp', tcpfin: 'tcp_fin', udp: 'udp' };
      this.options(timeouts, timeouts.args, { tcp: 'word', tcpfin: 'word', udp: 'word' }, (name, value) =>
        this.integer(value, 1, 2147483647, 'lvs_timeouts', (seconds, place) =>
          b.set(['ipvs_timeouts', fields[name] ?? name], `${seconds}s`, place),
        ),
      );
    }
    this.announce(settings, 'vrrp_garp_master_repeat', 'vrrp_garp_master_refresh');
    const interval = settings.get('vrrp_garp_interval');
    if (interval !== undefined)
      this.timer(interval, 'vrrp_garp_interval', (ms, place) => ms > 0 && b.set(['announce', 'interval'], `${ms}ms`, place));
  }

  /** garp repeat / refresh → announce count / refresh (global_defs or an instance). */
  private announce(settings: Map<string, Statement>, repeat: string, refresh: string): void {
    const count = settings.get(repeat);
    if (count !== undefined)
      this.integer(count.args[0], 1, 100, repeat, (value, place) => this.builder.set(['announce', 'count'], value, place), count);
    const every = settings.get(refresh);
    if (every !== undefined) this.timer(every, refresh, (ms, place) => this.builder.set(['announce', 'refresh'], `${ms}ms`, place));
  }

  // ---- VRRP

  private instance(statement: Statement): Instance {
    const settings = this.blockSettings(statement, instanceKeywords, 'vrrp_instance keyword');
    const device = settings.get('interface')?.args[0]?.text;
    for (const keyword of ['virtual_ipaddress', 'virtual_ipaddress_excluded']) {
      const block = settings.get(keyword);
      for (const line of block?.block ?? []) this.vrrpAddress(line, device);
    }
    return { statement, settings };
  }

  private vrrpAddress(line: Statement, instanceDevice: string | undefined): void {
    const parsed = parseIpPrefix(line.keyword.text);
    if (parsed === undefined) {
      this.error(line.keyword, {
        key: 'virtual_ipaddress',
        message: 'invalid address',
        expected: 'ADDRESS[/PREFIX] [dev DEVICE] [label LABEL]',
        found: quote(line.keyword.text),
      });
      return;
    }
    const address: VrrpAddress = {
      ip: { address: parsed.address, family: parsed.family },
      prefix: parsed.prefix,
      at: line.keyword,
      used: false,
    };
    if (instanceDevice !== undefined) address.device = instanceDevice;
    const flags = ['-nodad', 'mngtmpaddr', 'noprefixroute', 'autojoin', 'no_track', 'home', 'use_vmac'];
    const valued = {
      dev: 'word',
      label: 'word',
      brd: 'word',
      broadcast: 'word',
      scope: 'word',
      peer: 'word',
      preferred_lft: 'word',
    } as const;
    this.options(line, line.args, { ...valued, ...Object.fromEntries(flags.map((flag) => [flag, 'flag' as const])) }, (name, value) => {
      if (name === 'dev') address.device = value.text;
      else if (name === 'label') address.label = value.text;
      else this.warn(value, 'virtual_ipaddress', `virtual_ipaddress option '${name}' is not set by tandem; ignored`);
    });
    this.vrrpAddresses.push(address);
  }

  /** The first instance decides priority, timing and preemption (tandem has one role for
   *  all addresses); the unicast addresses name the two directors. */
  private election(instances: Instance[], global: Statement[]): void {
    const [first, ...others] = instances;
    if (first === undefined) return;
    const b = this.builder;
    const setting = (name: string): Statement | undefined => first.settings.get(name);
    let priority = 100;
    const prioritySetting = setting('priority');
    this.integer(prioritySetting?.args[0], 1, 255, 'priority', (value) => (priority = value), prioritySetting);
    let advert = 1000;
    const advertSetting = setting('advert_int');
    if (advertSetting !== undefined) this.timer(advertSetting, 'advert_int', (ms) => (advert = ms));
    // keepalived's master-down timer: 3 adverts plus the RFC 3768/5798 skew.
    const deadtime = Math.round(3 * advert + ((256 - priority) * advert) / 256);
    const timingPlace = this.place(advertSetting?.keyword ?? first.statement.keyword, 'advert_int');
    b.set(['heartbeat', 'keepalive'], `${advert}ms`, timingPlace);
    b.set(['heartbeat', 'deadtime'], `${deadtime}ms`, timingPlace);
    const name = first.statement.args[0]?.text ?? '';
    if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) b.set(['cluster'], name, this.place(first.statement.keyword));
    const nopreempt = setting('nopreempt');
    if (nopreempt !== undefined) b.set(['preempt'], false, this.place(nopreempt.keyword));
    const state = setting('state')?.args[0]?.text.toUpperCase() ?? 'BACKUP';
    const stateSetting = setting('state');
    if (stateSetting !== undefined && state !== 'MASTER' && state !== 'BACKUP')
      this.error(stateSetting.args[0] ?? stateSetting.keyword, {
        key: 'state',
        message: 'invalid value',
        expected: 'MASTER or BACKUP',
        found: quote(state),
      });
    this.hooks(first.settings);
    this.announce(first.settings, 'garp_master_repeat', 'garp_master_refresh');
    this.trackInterfaces(first.settings);
    this.nodes(first, priority, state === 'MASTER', global);
    for (const other of others) this.compareInstances(first, other, priority, advert);
  }

  private nodes(first: Instance, priority: number, master: boolean, global: Statement[]): void {
    const source = first.settings.get('unicast_src_ip');
    const peers = (first.settings.get('unicast_peer')?.block ?? []).map((line) => line.keyword);
    if (source === undefined || peers.length === 0) {
      this.warn(
        first.statement.keyword,
        'vrrp_instance',
        `${source === undefined && peers.length > 0 ? 'unicast_peer without unicast_src_ip' : 'multicast VRRP'}: this file does not name both directors, which tandem needs (see README "Migrating"); until nodes are added the converted configuration runs this host as a standalone director`,
      );
      return;
    }
    const [peer, ...morePeers] = peers;
    for (const extra of morePeers) this.warn(extra, 'unicast_peer', 'tandem pairs two directors; this further peer is ignored');
    const self = parseIp(source.args[0]?.text ?? '');
    const other = peer !== undefined ? parseIp(peer.text) : undefined;
    if (self === undefined)
      this.error(source.args[0] ?? source.keyword, {
        key: 'unicast_src_ip',
        message: 'invalid address',
        expected: 'an IP address',
        found: quote(source.args[0]?.text ?? ''),
      });
    if (other === undefined && peer !== undefined)
      this.error(peer, { key: 'unicast_peer', message: 'invalid address', expected: 'an IP address', found: quote(peer.text) });
    if (self === undefined || other === undefined || peer === undefined) return;
    const routerId = this.routerId?.args[0];
    const selfName = routerId !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(routerId.text) ? routerId.text : 'local';
    if (global.length > 0 && routerId === undefined)
      this.warn(first.statement.keyword, 'router_id', "no router_id: this director is named 'local'");
    // keepalived's priorities are per node; the peer's is in the peer's file. The order
    // keeps the MASTER first whichever node's file is converted.
    const peerPriority = master ? Math.max(1, priority - 1) : Math.min(255, priority + 1);
    this.warn(
      peer,
      'unicast_peer',
      `the peer's name and priority are in its own file: named 'peer', priority ${peerPriority} assumed (${master ? 'below' : 'above'} this ${master ? 'MASTER' : 'BACKUP'})`,
    );
    const entries = [
      { name: selfName, address: self.address, priority, at: source.args[0] ?? source.keyword, key: 'unicast_src_ip' },
      { name: selfName === 'peer' ? 'peer2' : 'peer', address: other.address, priority: peerPriority, at: peer, key: 'unicast_peer' },
    ];
    (master ? entries : entries.reverse()).forEach((entry, index) => {
      const place = this.place(entry.at, entry.key);
      this.builder.mark(['nodes', index], place);
      this.builder.set(['nodes', index, 'name'], entry.name, place);
      this.builder.set(['nodes', index, 'address'], entry.address, place);
      this.builder.set(['nodes', index, 'priority'], entry.priority, place);
    });
  }

  private compareInstances(first: Instance, other: Instance, priority: number, advert: number): void {
    let otherPriority = 100;
    let otherAdvert = 1000;
    const prioritySetting = other.settings.get('priority');
    const advertSetting = other.settings.get('advert_int');
    this.integer(prioritySetting?.args[0], 1, 255, 'priority', (value) => (otherPriority = value), prioritySetting);
    if (advertSetting !== undefined) this.timer(advertSetting, 'advert_int', (ms) => (otherAdvert = ms));
    const state = (instance: Instance): string => instance.settings.get('state')?.args[0]?.text.toUpperCase() ?? 'BACKUP';
    const firstName = first.statement.args[0]?.text ?? '';
    if (state(first) !== state(other) || otherPriority !== priority) {
      this.warn(
        other.statement.keyword,
        'vrrp_instance',
        `tandem has one active director for all addresses: this instance's ${state(other)} priority ${otherPriority} is not used, ${firstName}'s ${state(first)} priority ${priority} decides`,
      );
    } else if (otherAdvert !== advert) {
      this.warn(other.statement.keyword, 'advert_int', `tandem has one heartbeat: ${firstName}'s advert_int decides`);
    }
    for (const keyword of ['notify_master', 'notify_backup', 'notify', 'nopreempt']) {
      const setting = other.settings.get(keyword);
      if (setting !== undefined && first.settings.get(keyword) === undefined)
        this.warn(setting.keyword, keyword, `tandem takes ${keyword} from the first vrrp_instance (${firstName}); ignored here`);
    }
  }

  private hooks(settings: Map<string, Statement>): void {
    const script = (keyword: string, field: string | undefined, why?: string): void => {
      const setting = settings.get(keyword);
      const [command, user] = setting?.args ?? [];
      if (setting === undefined || command === undefined) return;
      if (user !== undefined) this.warn(user, keyword, `${keyword} runs as tandem's user; '${user.text}' is ignored`);
      if (why !== undefined) this.warn(setting.keyword, keyword, why);
      if (field !== undefined) this.builder.set(['hooks', field], command.text, this.place(command, keyword));
    };
    script('notify_master', 'active_cmd');
    script('notify_backup', 'inactive_cmd');
    script('notify', 'notify', "tandem runs it with its own arguments (the new state and the reason), not keepalived's four");
    const fault = settings.get('notify_fault');
    if (fault !== undefined && fault.args[0]?.text !== settings.get('notify_backup')?.args[0]?.text)
      script(
        'notify_fault',
        undefined,
        "tandem has no FAULT state (a node that cannot serve stops being active, which runs notify_backup's command); ignored",
      );
    script('notify_stop', undefined, 'tandem runs inactive_cmd when it stops while active; notify_stop is ignored');
  }

  private trackInterfaces(settings: Map<string, Statement>): void {
    const track = settings.get('track_interface');
    (track?.block ?? []).forEach((line, index) => {
      this.builder.set(['monitor_links', 'interfaces', index], line.keyword.text, this.place(line.keyword, 'track_interface'));
      if (line.args.length > 0) this.warn(line.args[0], 'track_interface', 'tandem fails over on a link loss; the weight is ignored');
    });
  }

  private syncGroup(statement: Statement): void {
    const settings = this.blockSettings(statement, syncGroupKeywords, 'vrrp_sync_group keyword');
    if (this.builder.document.hooks === undefined) this.hooks(settings);
    else
      for (const keyword of ['notify_master', 'notify_backup', 'notify']) {
        const setting = settings.get(keyword);
        if (setting !== undefined)
          this.warn(setting.keyword, keyword, `tandem takes the hooks from the first vrrp_instance; this ${keyword} is ignored`);
      }
    this.trackInterfaces(settings);
  }

  /** VRRP addresses that no virtual_server uses: the NAT gateway, or a warning. */
  private unclaimedAddresses(): void {
    for (const address of this.vrrpAddresses.filter((a) => !a.used)) {
      if (this.network === 'nat' && this.builder.document.nat_router === undefined && address.ip.family === 4) {
        const place = this.place(address.at, 'virtual_ipaddress');
        this.builder.set(['nat_router', 'address'], `${address.ip.address}/${address.prefix}`, place);
        if (address.device !== undefined) this.builder.set(['nat_router', 'device'], address.device, place);
        if (address.label !== undefined) this.builder.set(['nat_router', 'label'], address.label, place);
        continue;
      }
      this.warn(
        address.at,
        'virtual_ipaddress',
        `${address.ip.address} is no virtual_server's address: tandem claims only virtual service addresses and the NAT gateway; ignored (give it to a fwmark service as its vip in the converted file)`,
      );
    }
  }

  // ---- virtual servers

  private virtualServer(statement: Statement): void {
    const addresses = this.serviceAddresses(statement);
    if (addresses === undefined) return;
    const settings = this.blockSettings(statement, virtualKeywords, 'virtual_server keyword');
    const reals = (statement.block ?? []).filter((s) => s.keyword.text === 'real_server');
    if (reals.length === 0) {
      this.warn(statement.keyword, 'virtual_server', 'no real_server: keepalived ignores this virtual server, and so does tandem');
      return;
    }
    for (const address of addresses) this.service(address, settings, reals);
  }

  private serviceAddresses(statement: Statement): ServiceAddress[] | undefined {
    const [first, second, ...extra] = statement.args;
    const key = 'virtual_server';
    if (first === undefined) {
      this.error(statement.keyword, {
        key,
        message: 'virtual_server needs an address',
        expected: 'virtual_server ADDRESS PORT, fwmark N or group NAME',
        found: 'nothing',
      });
      return undefined;
    }
    if (extra.length > 0)
      this.warn(extra[0], key, `'${extra.map((t) => t.text).join(' ')}' after the port is ignored (as keepalived does)`);
    if (first.text === 'fwmark') {
      let fwmark: number | undefined;
      this.integer(second, 1, 4294967295, key, (value) => (fwmark = value), statement);
      return fwmark === undefined ? undefined : [{ name: `fwmark${fwmark}`, port: 0, fwmark, at: statement.keyword }];
    }
    if (first.text === 'group') return this.groupMembers(statement, second);
    const ip = parseIp(first.text);
    if (ip === undefined) {
      this.error(first, { key, message: 'invalid address', expected: 'an IP address, fwmark N or group NAME', found: quote(first.text) });
      return undefined;
    }
    let port: number | undefined = second === undefined ? 0 : undefined;
    if (second !== undefined) this.integer(second, 0, 65535, key, (value) => (port = value), statement);
    return port === undefined ? undefined : [{ name: endpointName(ip, port), ip, port, at: statement.keyword }];
  }

  private groupMembers(statement: Statement, nameToken: Token | undefined): ServiceAddress[] | undefined {
    const group = nameToken !== undefined ? this.groups.get(nameToken.text) : undefined;
    if (group === undefined || nameToken === undefined) {
      this.error(nameToken ?? statement.keyword, {
        key: 'virtual_server group',
        message: 'no such virtual_server_group',
        expected: `one of ${[...this.groups.keys()].join(', ') || '(none defined)'}`,
        found: quote(nameToken?.text ?? ''),
      });
      return undefined;
    }
    const members: ServiceAddress[] = [];
    for (const line of group.block ?? []) {
      const key = 'virtual_server_group';
      if (line.keyword.text === 'fwmark') {
        this.integer(
          line.args[0],
          1,
          4294967295,
          key,
          (fwmark) => {
            const family = line.args[1]?.text === 'inet6' ? 6 : undefined;
            members.push({ name: `${nameToken.text} fwmark${fwmark}`, port: 0, fwmark, ...(family ? { family } : {}), at: line.keyword });
          },
          line,
        );
        continue;
      }
      let port = 0;
      if (line.args[0] !== undefined) this.integer(line.args[0], 0, 65535, key, (value) => (port = value), line);
      const range = addressRange(line.keyword.text);
      if (range === undefined) {
        this.error(line.keyword, {
          key,
          message: 'invalid address or range',
          expected: 'ADDRESS, or a range such as 192.0.2.1-10',
          found: quote(line.keyword.text),
        });
        continue;
      }
      for (const ip of range) members.push({ name: `${nameToken.text} ${endpointName(ip, port)}`, ip, port, at: line.keyword });
    }
    return members;
  }

  private service(address: ServiceAddress, settings: Map<string, Statement>, reals: Statement[]): void {
    const index = this.serviceCount++;
    const path = ['virtual_services', index];
    this.scope = path;
    const b = this.builder;
    const place = this.place(address.at, 'virtual_server');
    b.mark(path, place);
    b.set([...path, 'name'], address.name, place);
    if (address.fwmark !== undefined) b.set([...path, 'fwmark'], address.fwmark, place);
    if (address.family !== undefined) b.set([...path, 'family'], address.family, place);
    if (address.ip !== undefined) {
      b.set([...path, 'port'], address.port, place);
      this.vip(address.ip, path, address.at);
    }
    this.protocol(settings, path, address);
    const scheduler = settings.get('lvs_sched') ?? settings.get('lb_algo');
    if (scheduler?.args[0] !== undefined)
      b.set([...path, 'scheduler'], scheduler.args[0].text, this.place(scheduler.args[0], scheduler.keyword.text));
    const method = this.method(settings.get('lvs_method') ?? settings.get('lb_kind')) ?? 'NAT';
    this.network ??= networkByMethod[method];
    this.persistence(settings, path);
    const ops = settings.get('ops');
    if (ops !== undefined) b.set([...path, 'one_packet'], true, this.place(ops.keyword));
    const family = settings.get('ip_family');
    if (family !== undefined && address.fwmark !== undefined)
      this.choice(family, ['inet', 'inet6'], (value, at) => b.set([...path, 'family'], value === 'inet6' ? 6 : 4, at));
    const quorum = settings.get('quorum');
    if (quorum !== undefined)
      this.integer(
        quorum.args[0],
        0,
        4294967295,
        'quorum',
        (value) => {
          if (value !== 1)
            this.warn(
              quorum.keyword,
              'quorum',
              `quorum ${value}: tandem uses the sorry server when no real server is up (quorum 1); ignored`,
            );
        },
        quorum,
      );
    this.sorryServer(settings, path, method);
    const specs: (CheckerSpec | undefined)[] = [];
    b.set([...path, 'real_servers'], []);
    reals.forEach((real, serverIndex) => {
      specs.push(this.realServer(real, [...path, 'real_servers', serverIndex], settings, method, address));
    });
    this.healthCheck(specs, path);
    this.scope = undefined;
  }

  private vip(ip: ParsedIp, path: DocPath, at: Token): void {
    const claimed = this.vrrpAddresses.find((a) => a.ip.address === ip.address);
    const place = this.place(claimed?.at ?? at, claimed !== undefined ? 'virtual_ipaddress' : 'virtual_server');
    if (claimed === undefined) {
      this.warn(
        at,
        'virtual_server',
        `${ip.address} is in no vrrp_instance's virtual_ipaddress: tandem claims it anyway on the active director (on the device whose subnet holds it)`,
      );
      this.builder.set([...path, 'vip', 'address'], ip.address, place);
      return;
    }
    claimed.used = true;
    this.builder.set([...path, 'vip', 'address'], `${ip.address}/${claimed.prefix}`, place);
    if (claimed.device !== undefined) this.builder.set([...path, 'vip', 'device'], claimed.device, place);
    if (claimed.label !== undefined) this.builder.set([...path, 'vip', 'label'], claimed.label, place);
  }

  private protocol(settings: Map<string, Statement>, path: DocPath, address: ServiceAddress): void {
    const protocol = settings.get('protocol');
    if (protocol === undefined) {
      if (address.fwmark === undefined) {
        this.warn(address.at, 'protocol', 'no protocol: keepalived uses UDP then (and says so); so does tandem');
        this.builder.set([...path, 'protocol'], 'udp', this.place(address.at, 'virtual_server'));
      }
      return;
    }
    this.choice(
      protocol,
      ['TCP', 'UDP', 'SCTP'],
      (value, place) => this.builder.set([...path, 'protocol'], value.toLowerCase(), place),
      true,
    );
  }

  /** `lb_kind`/`lvs_method` NAT|DR|TUN [type ipip] (FNAT is a fork's, not the kernel's). */
  private method(setting: Statement | undefined): string | undefined {
    if (setting === undefined) return undefined;
    let method: string | undefined;
    this.choice(setting, ['NAT', 'DR', 'TUN'], (value) => (method = value), true);
    const [, typeWord, type] = setting.args;
    if (method === 'TUN' && typeWord?.text === 'type' && type !== undefined && type.text !== 'ipip')
      this.error(type, {
        key: setting.keyword.text,
        message: `tunnel type ${type.text} is not supported by tandem`,
        expected: 'ipip',
        found: quote(type.text),
      });
    return method;
  }

  private persistence(settings: Map<string, Statement>, path: DocPath): void {
    const timeout = settings.get('persistence_timeout');
    const granularity = settings.get('persistence_granularity');
    if (timeout === undefined) {
      if (granularity !== undefined)
        this.warn(granularity.keyword, 'persistence_granularity', 'persistence_granularity without persistence_timeout; ignored');
      return;
    }
    const b = this.builder;
    const value = timeout.args[0];
    if (value === undefined) b.set([...path, 'persistence', 'timeout'], '360s', this.place(timeout.keyword));
    else
      this.integer(
        value,
        1,
        31 * 86400,
        'persistence_timeout',
        (seconds, place) => b.set([...path, 'persistence', 'timeout'], `${seconds}s`, place),
        timeout,
      );
    const mask = granularity?.args[0];
    if (mask !== undefined) {
      const place = this.place(mask, 'persistence_granularity');
      b.set([...path, 'persistence', 'netmask'], /^[0-9]+$/.test(mask.text) ? Number(mask.text) : mask.text, place);
    }
  }

  private sorryServer(settings: Map<string, Statement>, path: DocPath, method: string): void {
    const sorry = settings.get('sorry_server');
    if (sorry === undefined) return;
    const [addressToken, portToken] = sorry.args;
    const ip = addressToken !== undefined ? parseIp(addressToken.text) : undefined;
    if (ip === undefined) {
      this.error(addressToken ?? sorry.keyword, {
        key: 'sorry_server',
        message: 'invalid address',
        expected: 'sorry_server ADDRESS [PORT]',
        found: quote(addressToken?.text ?? ''),
      });
      return;
    }
    const b = this.builder;
    const place = this.place(addressToken ?? sorry.keyword, 'sorry_server');
    b.set([...path, 'sorry_server', 'address'], ip.address, place);
    if (portToken !== undefined)
      this.integer(portToken, 0, 65535, 'sorry_server', (port, at) => b.set([...path, 'sorry_server', 'port'], port, at), sorry);
    const own = this.method(settings.get('sorry_server_lvs_method')) ?? method;
    b.set([...path, 'sorry_server', 'forwarding'], forwardingByMethod[own], place);
  }

  private realServer(
    real: Statement,
    path: DocPath,
    serviceSettings: Map<string, Statement>,
    method: string,
    service: ServiceAddress,
  ): CheckerSpec | undefined {
    const b = this.builder;
    const [addressToken, portToken] = real.args;
    const place = this.place(real.keyword, ['real_server', ...real.args.map((t) => t.text)].join(' '));
    b.mark(path, place);
    const ip = addressToken !== undefined ? parseIp(addressToken.text) : undefined;
    if (ip === undefined) {
      this.error(addressToken ?? real.keyword, {
        key: 'real_server',
        message: 'invalid address',
        expected: 'real_server ADDRESS [PORT]',
        found: quote(addressToken?.text ?? 'nothing'),
      });
      b.damage(path);
      return undefined;
    }
    b.set([...path, 'address'], ip.address, place);
    let port = 0;
    if (portToken !== undefined)
      this.integer(portToken, 0, 65535, 'real_server', (value, at) => b.set([...path, 'port'], (port = value), at), real);
    const settings = this.blockSettings(real, realKeywords, 'real_server keyword');
    const weight = settings.get('weight');
    if (weight !== undefined)
      this.integer(weight.args[0], 0, 65535, 'weight', (value, at) => b.set([...path, 'weight'], value, at), weight);
    for (const [keyword, field] of [
      ['uthreshold', 'upper_threshold'],
      ['lthreshold', 'lower_threshold'],
    ] as const) {
      const threshold = settings.get(keyword);
      if (threshold !== undefined)
        this.integer(threshold.args[0], 0, 2147483647, keyword, (value, at) => b.set([...path, field], value, at), threshold);
    }
    const own = this.method(settings.get('lvs_method')) ?? method;
    b.set([...path, 'forwarding'], forwardingByMethod[own], place);
    const inherited = (name: string): Statement | undefined => settings.get(name) ?? serviceSettings.get(name);
    const quiesce = this.flag(inherited('inhibit_on_failure'));
    const checkers = (real.block ?? []).filter((s) => checkerTypes.includes(s.keyword.text));
    const [checker, ...more] = checkers;
    for (const extra of more)
      this.warn(
        extra.keyword,
        extra.keyword.text,
        `tandem runs one check per real server: ${checker?.keyword.text ?? ''} at line ${checker?.keyword.line ?? 0} is used, this one is ignored`,
      );
    if (checker === undefined) return { check: { kind: 'none' }, at: real.keyword, quiesce };
    return { check: this.checker(checker, inherited, ip, port || service.port), at: checker.keyword, quiesce };
  }

  /** One checker as health_check settings; `inherited` looks in the real and virtual server. */
  private checker(
    checker: Statement,
    inherited: (name: string) => Statement | undefined,
    ip: ParsedIp,
    serverPort: number,
  ): Record<string, unknown> {
    const type = checker.keyword.text;
    const supported = supportedCheckers.includes(type);
    const known = supported
      ? checkerKeywords
      : { ...checkerKeywords, ...Object.fromEntries(foreignCheckerKeywords.map((key) => [key, 'read'])) };
    const settings = this.blockSettings(checker, known, `${type} keyword`);
    const setting = (name: string): Statement | undefined => settings.get(name) ?? inherited(name);
    const check: Record<string, unknown> = { reentry: '0s' };
    if (!supported)
      this.warn(
        checker.keyword,
        type,
        `${type} is not supported by tandem: the real server is checked by connecting to it (a datagram for UDP) instead`,
      );
    const milliseconds = (name: string, fallback: number): number => {
      const value = setting(name);
      let result = fallback;
      if (value !== undefined) this.timer(value, name, (ms) => (result = ms));
      return result;
    };
    const interval = milliseconds('delay_loop', 60_000);
    check.interval = `${interval}ms`;
    const retries = setting('retry') ?? setting('nb_get_retry');
    let retry = type === 'MISC_CHECK' ? 0 : type === 'DNS_CHECK' ? 3 : 1;
    if (retries !== undefined) this.integer(retries.args[0], 0, 99, retries.keyword.text, (value) => (retry = value), retries);
    check.failures = retry + 1;
    if (retry > 0) {
      const fallback = type === 'HTTP_GET' || type === 'SSL_GET' ? 3000 : type === 'DNS_CHECK' ? interval : 1000;
      check.retry_interval = `${milliseconds('delay_before_retry', fallback)}ms`;
    }
    check.timeout = `${milliseconds('connect_timeout', 5000)}ms`;
    const connectPort = settings.get('connect_port');
    if (connectPort !== undefined)
      this.integer(connectPort.args[0], 1, 65535, 'connect_port', (port) => port !== serverPort && (check.port = port), connectPort);
    if (type === 'MISC_CHECK') this.miscCheck(settings, check, ip, interval);
    else if (type === 'HTTP_GET' || type === 'SSL_GET') this.httpCheck(checker, settings, setting, check, type === 'SSL_GET');
    else check.kind = 'tcp';
    return check;
  }

  private miscCheck(settings: Map<string, Statement>, check: Record<string, unknown>, ip: ParsedIp, interval: number): void {
    const path = settings.get('misc_path');
    check.kind = 'exec';
    if (path?.args[0] === undefined) {
      this.error(path?.keyword ?? { line: 1, column: 1 }, {
        key: 'misc_path',
        message: 'MISC_CHECK needs misc_path',
        expected: 'misc_path PROGRAM',
        found: 'nothing',
      });
      return;
    }
    // The same program for every real server, with tandem's %h for the server's address.
    const boundary = '[^0-9A-Za-z.:]';
    const escaped = ip.address.replace(/[.]/g, '\\.');
    check.send_program = path.args[0].text.replace(new RegExp(`(^|${boundary})${escaped}(?=$|${boundary})`, 'g'), '$1%h');
    const timeout = settings.get('misc_timeout');
    check.timeout = `${interval}ms`;
    if (timeout !== undefined)
      this.integer(timeout.args[0], 1, 86400, 'misc_timeout', (seconds) => (check.timeout = `${seconds}s`), timeout);
  }

  private httpCheck(
    checker: Statement,
    settings: Map<string, Statement>,
    setting: (name: string) => Statement | undefined,
    check: Record<string, unknown>,
    tls: boolean,
  ): void {
    check.kind = 'http';
    const urls = (checker.block ?? []).filter((s) => s.keyword.text === 'url');
    const [url, ...more] = urls;
    for (const extra of more)
      this.warn(
        extra.keyword,
        'url',
        `tandem checks one URL per service: the one at line ${url?.keyword.line ?? 0} is used, this one is ignored`,
      );
    const http: Record<string, unknown> = { status_codes: ['200-299'] };
    if (tls) http.tls = true;
    const urlSettings = url !== undefined ? this.blockSettings(url, urlKeywords, 'url keyword') : new Map<string, Statement>();
    const host = urlSettings.get('virtualhost') ?? settings.get('virtualhost') ?? setting('virtualhost');
    if (host?.args[0] !== undefined) http.host = host.args[0].text;
    const path = urlSettings.get('path')?.args[0];
    http.path = path?.text ?? '/';
    const digest = urlSettings.get('digest');
    const digestValue = digest?.args[0];
    if (digestValue !== undefined && /^[0-9a-fA-F]{32}$/.test(digestValue.text)) http.digest = digestValue.text;
    else if (digestValue !== undefined)
      this.error(digestValue, {
        key: 'digest',
        message: 'invalid value',
        expected: 'an MD5 digest of 32 hex digits (genhash)',
        found: quote(digestValue.text),
      });
    const codes = urlSettings.get('status_code');
    if (codes !== undefined) {
      const valid = codes.args.filter((code) => {
        if (/^[1-5][0-9]{2}(-[1-5][0-9]{2})?$/.test(code.text)) return true;
        this.error(code, {
          key: 'status_code',
          message: 'invalid value',
          expected: 'a status code or a range such as 200-299',
          found: quote(code.text),
        });
        return false;
      });
      if (valid.length > 0) http.status_codes = valid.map((code) => (code.text.includes('-') ? code.text : Number(code.text)));
    }
    const regex = urlSettings.get('regex');
    const reversed = urlSettings.get('regex_no_match');
    if (regex?.args[0] !== undefined && reversed !== undefined)
      this.warn(reversed.keyword, 'regex_no_match', 'tandem cannot fail a check on a match; the regex is not used');
    else if (regex?.args[0] !== undefined) http.body_regex = regex.args[0].text;
    check.http = http;
  }

  /** The service's check from its real servers' checkers: tandem checks all alike. */
  private healthCheck(specs: (CheckerSpec | undefined)[], path: DocPath): void {
    const present = specs.filter((spec) => spec !== undefined);
    const [first] = present;
    if (first === undefined) return;
    const signature = JSON.stringify(first.check);
    for (const spec of present.slice(1)) {
      if (JSON.stringify(spec.check) !== signature)
        this.warn(
          spec.at,
          spec.at.text,
          `tandem checks all real servers of a service alike: the check at line ${first.at.line} is used for this one too`,
        );
      if (spec.quiesce !== first.quiesce)
        this.warn(
          spec.at,
          'inhibit_on_failure',
          `inhibit_on_failure applies to a whole service in tandem: ${first.quiesce ? 'on' : 'off'}, as for the first real server`,
        );
    }
    const b = this.builder;
    const place = this.place(first.at, first.at.text);
    for (const [key, value] of Object.entries(first.check)) b.set([...path, 'health_check', key], value, place);
    if (first.quiesce) b.set([...path, 'health_check', 'quiesce_server'], true, place);
  }

  // ---- values

  /** A block's statements by keyword after checking them against `known`; unknown ones
   *  are errors (warnings in global_defs, whose keywords are many and harmless). */
  private blockSettings(statement: Statement, known: Keywords, kind: string): Map<string, Statement> {
    const settings = new Map<string, Statement>();
    for (const child of this.settingsOf(statement.block ?? [], known, kind)) {
      const name = child.keyword.text;
      const repeatable = name === 'real_server' || checkerTypes.includes(name) || name === 'url';
      const earlier = settings.get(name);
      if (earlier !== undefined && !repeatable)
        this.warn(child.keyword, name, `${name} is set twice (also at line ${earlier.keyword.line}); this later value wins`);
      if (!repeatable || earlier === undefined) settings.set(name, child);
    }
    if (statement.block === undefined && statement.keyword.text !== 'url')
      this.error(statement.keyword, {
        key: statement.keyword.text,
        message: `${statement.keyword.text} needs a block`,
        expected: `${statement.keyword.text} … {`,
        found: 'no {',
      });
    return settings;
  }

  private settingsOf(statements: Statement[], known: Keywords, kind: string): Statement[] {
    const read: Statement[] = [];
    for (const statement of statements) {
      const name = statement.keyword.text;
      const handling = Object.hasOwn(known, name) ? known[name] : undefined;
      if (handling === undefined) {
        if (kind === 'global_defs keyword') this.warn(statement.keyword, name, noCounterpart);
        else this.error(statement.keyword, unknownKeyFinding(kind, name, Object.keys(known)));
        continue;
      }
      if (handling !== 'read') {
        this.warn(statement.keyword, name, handling);
        continue;
      }
      read.push(statement);
    }
    return read;
  }

  /** `NAME VALUE` pairs and bare flags after a keyword. */
  private options(
    setting: Statement,
    args: Token[],
    known: Record<string, 'word' | 'flag'>,
    use: (name: string, value: Token) => void,
  ): void {
    for (let index = 0; index < args.length; index++) {
      const name = args[index];
      if (name === undefined) break;
      const shape = Object.hasOwn(known, name.text) ? known[name.text] : undefined;
      if (shape === undefined) {
        this.error(name, {
          ...unknownKeyFinding(`${setting.keyword.text} option`, name.text, Object.keys(known)),
          key: setting.keyword.text,
        });
        return;
      }
      if (shape === 'flag') {
        use(name.text, name);
        continue;
      }
      const value = args[++index];
      if (value === undefined) {
        this.error(name, {
          key: setting.keyword.text,
          message: `${name.text} needs a value`,
          expected: `${name.text} VALUE`,
          found: 'end of line',
        });
        return;
      }
      use(name.text, value);
    }
  }

  private integer(
    token: Token | undefined,
    min: number,
    max: number,
    key: string,
    use: (value: number, place: Place) => void,
    setting?: Statement,
  ): void {
    if (token === undefined) {
      if (setting !== undefined)
        this.error(setting.keyword, { key, message: 'missing value', expected: `an integer from ${min} to ${max}`, found: 'end of line' });
      return;
    }
    const number = /^[0-9]{1,10}$/.test(token.text) ? Number(token.text) : NaN;
    if (!(number >= min && number <= max))
      this.error(token, { key, message: 'invalid value', expected: `an integer from ${min} to ${max}`, found: quote(token.text) });
    else use(number, this.place(token, key));
  }

  /** keepalived's <TIMER>: seconds with up to six decimals, kept to the millisecond. */
  private timer(setting: Statement, key: string, use: (ms: number, place: Place) => void): void {
    const token = setting.args[0];
    if (token === undefined || !/^[0-9]{1,7}(\.[0-9]{1,6})?$/.test(token.text)) {
      this.error(token ?? setting.keyword, {
        key,
        message: token === undefined ? 'missing value' : 'invalid value',
        expected: 'seconds, such as 3 or 0.5',
        found: quote(token?.text ?? 'end of line'),
      });
      return;
    }
    use(Math.round(Number(token.text) * 1000), this.place(token, key));
  }

  /** `KEYWORD [<BOOL>]`: a bare keyword means on. */
  private flag(setting: Statement | undefined): boolean {
    if (setting === undefined) return false;
    const value = setting.args[0];
    if (value === undefined) return true;
    const text = value.text.toLowerCase();
    if (['on', 'true', 'yes'].includes(text)) return true;
    if (!['off', 'false', 'no'].includes(text))
      this.error(value, {
        key: setting.keyword.text,
        message: 'invalid value',
        expected: 'on, off, true, false, yes or no',
        found: quote(value.text),
      });
    return false;
  }

  private choice<T extends string>(
    setting: Statement,
    choices: readonly T[],
    use: (value: T, place: Place) => void,
    ignoreCase = false,
  ): void {
    const token = setting.args[0];
    const text = ignoreCase ? token?.text.toUpperCase() : token?.text;
    if (token === undefined || text === undefined || !(choices as readonly string[]).includes(text)) {
      this.error(token ?? setting.keyword, {
        key: setting.keyword.text,
        message: token === undefined ? 'missing value' : 'invalid value',
        expected: `one of ${choices.join(', ')}`,
        found: quote(token?.text ?? 'end of line'),
      });
      return;
    }
    use(text as T, this.place(token, setting.keyword.text));
  }

  private place(token: Token, key?: string): Place {
    return { line: token.line, column: token.column, file: token.file, key: key ?? token.text };
  }

  private warn(at: Token | undefined, key: string, message: string): void {
    this.sink.warning(at ?? { line: 1, column: 1 }, { key, message });
  }

  /** Reports an error and marks the part of the document it leaves incomplete. */
  private error(at: Token | { line: number; column: number }, finding: Finding): void {
    this.sink.error(at, finding);
    if (this.scope !== undefined) this.builder.damage(this.scope);
  }
}

function endpointName(ip: ParsedIp, port: number): string {
  return ip.family === 6 ? `[${ip.address}]:${port}` : `${ip.address}:${port}`;
}

/** An address, or keepalived's last-part range (`192.0.2.1-10`, `ae00::2-9`). */
function addressRange(text: string): ParsedIp[] | undefined {
  const single = parseIp(text);
  if (single !== undefined) return [single];
  const match = /^(.*[.:])([0-9a-fA-F]+)-([0-9a-fA-F]+)$/.exec(text);
  if (match === null) return undefined;
  const [, head = '', fromText = '', toText = ''] = match;
  const radix = head.endsWith(':') ? 16 : 10;
  const from = parseInt(fromText, radix);
  const to = parseInt(toText, radix);
  if (!(to >= from) || to - from > 255) return undefined;
  const addresses: ParsedIp[] = [];
  for (let part = from; part <= to; part++) {
    const ip = parseIp(`${head}${part.toString(radix)}`);
    if (ip === undefined) return undefined;
    addresses.push(ip);
  }
  return addresses;
}
