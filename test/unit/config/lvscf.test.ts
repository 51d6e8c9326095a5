import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, toYaml } from '../../../src/config/index.js';
import { fixture, noHosts, testOptions, where } from './helpers.js';

describe('lvs.cf (Piranha)', () => {
  it('loads the lvs.cf of seed 001 exactly', async () => {
    const { model, format } = await loadConfig(fixture('seed-001-lvs.cf'), { hosts: noHosts });
    expect(format).toBe('lvs.cf');
    expect(model.serialNo).toBe(3);
    expect(model.nodes).toEqual([
      { name: 'primary', address: '10.10.1.31', priority: 200 },
      { name: 'backup', address: '10.10.1.32', priority: 100 },
    ]);
    expect(model.heartbeat).toEqual({ port: 539, keepalive: 2000, deadtime: 6000, warntime: 4000, initdead: 12000 });
    expect(model.preempt).toBe(true);
    expect(model.network).toBe('nat');
    expect(model.natRouter).toEqual({ address: '10.8.8.30', family: 4, prefix: 24, device: 'eth1', label: 'eth1:0' });
    expect(model.monitorLinks.enabled).toBe(true);
    expect(model.sync.enabled).toBe(false);
    const [service] = model.virtualServices;
    expect(service).toMatchObject({
      name: 'http_server',
      active: true,
      vip: { address: '10.10.1.30', family: 4, prefix: 32, device: 'eth0', label: 'eth0:1' },
      protocol: 'tcp',
      fwmark: 80,
      port: 80,
      scheduler: 'wlc',
      persistence: { timeout: 30 },
    });
    expect(service?.healthCheck).toMatchObject({
      kind: 'send-expect',
      send: 'GET / HTTP/1.0\r\n\r\n',
      expect: 'HTTP',
      useRegex: false,
      interval: 6000,
      timeout: 6000,
      reentry: 0,
      reentryChecks: 2,
      slowStart: 108_000,
      slowStartCurve: 'doubling',
      quiesceServer: false,
      loadMonitor: 'none',
    });
    expect(service?.realServers.map((s) => [s.name, s.address, s.port, s.weight, s.active, s.forwarding])).toEqual([
      ['lvs-03', '10.8.8.33', 0, 1, true, 'masq'],
      ['lvs-04', '10.8.8.34', 0, 1, true, 'masq'],
    ]);
  });

  it('converts to YAML and back without loss', async () => {
    const { model } = await loadConfig(fixture('seed-001-lvs.cf'), { hosts: noHosts });
    const again = await parseConfig(await toYaml(model), 'converted.yaml');
    expect(again.model).toEqual(model);
  });
});

describe('lvs.cf keywords and Piranha defaults', () => {
  const load = (text: string) => parseConfig(text, 'lvs.cf', testOptions);

  it('reads every global keyword Piranha accepts, the fos and GUI ones with a warning', async () => {
    const text = [
      'serial_no = 7',
      'primary = ifw01.local',
      'primary_private = 192.168.3.251',
      'primary_shared = 10.9.9.1',
      'service = lvs',
      'backup_active = 1',
      'backup = 198.51.100.12',
      'backup_private = 192.168.3.252',
      'backup_shared = 10.9.9.2',
      'heartbeat = 1',
      'heartbeat_port = 1539',
      'keepalive = 1',
      'deadtime = 3',
      'network = direct',
      'nat_router = 192.168.3.254 eth1:1',
      'nat_nmask = 255.255.254.0',
      'debug_level = 1',
      'monitor_links = 0',
      'syncdaemon = 1',
      'syncd_iface = eth2',
      'syncd_id = 9',
      'tcp_timeout = 900',
      'tcpfin_timeout = 0',
      'udp_timeout = 300',
      'hard_shutdown = 0',
      'active_cmd = "/usr/local/sbin/became-active --now"',
      'inactive_cmd = /usr/local/sbin/became-backup',
      'rsh_command = ssh',
      'reservation_conflict_action = preempt',
      'sync = 0',
      'ipvsadm = /sbin/ipvsadm',
    ].join('\r\n');
    const { model, warnings } = await load(`${text}\r\n`);
    expect(model).toMatchObject({
      serialNo: 7,
      nodes: [
        { name: 'primary', address: '198.51.100.11', privateAddress: '192.168.3.251', priority: 200 },
        { name: 'backup', address: '198.51.100.12', privateAddress: '192.168.3.252', priority: 100 },
      ],
      heartbeat: { port: 1539, keepalive: 1000, deadtime: 3000, warntime: 2000, initdead: 6000 },
      preempt: true,
      network: 'direct',
      natRouter: { address: '192.168.3.254', prefix: 23, device: 'eth1', label: 'eth1:1' },
      monitorLinks: { enabled: false },
      sync: { enabled: true, interface: 'eth2', syncId: 9 },
      ipvsTimeouts: { tcp: 900, udp: 300 },
      hooks: { activeCmd: '/usr/local/sbin/became-active --now', inactiveCmd: '/usr/local/sbin/became-backup' },
    });
    expect(warnings.map((w) => w.key)).toEqual([
      'primary_shared',
      'backup_shared',
      'debug_level',
      'hard_shutdown',
      'rsh_command',
      'reservation_conflict_action',
      'sync',
      'ipvsadm',
    ]);
    expect(warnings[0]?.message).toContain("used only by Piranha's failover (fos) mode");
  });

  it("reads every virtual and server keyword, with Piranha's defaults for the rest", async () => {
    const text = `primary = 10.0.0.1
virtual dns {
  active = 1
  address = 192.0.2.53 eth0:2
  vip_nmask = 255.255.255.0
  sorry_server = 10.1.0.99
  protocol = udp
  port = domain
  scheduler = sh
  persistent = 120
  pmask = 255.255.255.0
  send_program = "/usr/local/bin/check-dns %h"
  use_regex = 1
  expect = "^ok\\r?$"
  timeout = 3
  reentry = 30
  load_monitor = ruptime
  quiesce_server = 1
  client_monitor = /usr/sbin/nanny
  server ns1 {
    address = 10.1.0.53
    active = 1
    weight = 5
    port = 5353
    nmask = 255.255.255.255
  }
}
virtual web {
  address = 192.0.2.80 eth0:3
  server web1 {
    address = 10.1.0.80
  }
}
`;
    const { model, warnings } = await parseConfig(text, 'lvs.cf', {
      hosts: noHosts,
      services: (name, protocol) => (name === 'domain' && protocol === 'udp' ? 53 : undefined),
    });
    const [dns, web] = model.virtualServices;
    expect(dns).toMatchObject({
      name: 'dns',
      active: true,
      vip: { address: '192.0.2.53', prefix: 24, device: 'eth0', label: 'eth0:2' },
      protocol: 'udp',
      port: 53,
      scheduler: 'sh',
      persistence: { timeout: 120, netmask: '255.255.255.0' },
      sorryServer: { address: '10.1.0.99', port: 0, forwarding: 'masq', weight: 1 },
      healthCheck: {
        kind: 'exec',
        sendProgram: '/usr/local/bin/check-dns %h',
        expect: '^ok\\r?$',
        useRegex: true,
        interval: 3000,
        timeout: 3000,
        reentry: 0,
        reentryChecks: 10,
        failures: 1,
        loadMonitor: 'ruptime',
        quiesceServer: true,
      },
      realServers: [{ name: 'ns1', address: '10.1.0.53', port: 5353, weight: 5, active: true }],
    });
    // Piranha's parser zeroes services and servers: without `active = 1` they stay out.
    expect(web).toMatchObject({
      active: false,
      port: 80,
      protocol: 'tcp',
      scheduler: 'wlc',
      healthCheck: {
        kind: 'send-expect',
        send: 'GET / HTTP/1.0\r\n\r\n',
        expect: 'HTTP',
        interval: 10000,
        timeout: 10000,
        reentryChecks: 18,
        slowStart: 120_000,
      },
    });
    expect(web?.realServers[0]).toMatchObject({ active: false, weight: 1, port: 0 });
    expect(warnings.map(where)).toEqual(['19:3 client_monitor', '25:5 nmask', '28:1 virtual', '30:3 server']);
  });

  it('runs standalone when the backup is not active, as Piranha does', async () => {
    const { model, warnings } = await load('primary = 10.0.0.1\nbackup = 10.0.0.2\n');
    expect(model.nodes.map((n) => n.name)).toEqual(['primary']);
    expect(warnings.map(where)).toEqual(['2:1 backup']);
  });

  it('accepts failover blocks (fos mode) with a warning and ignores them', async () => {
    const text =
      'primary = 10.0.0.1\nservice = fos\nfailover ftp {\n  address = 10.0.0.21 eth0:1\n  start_cmd = "/etc/init.d/vsftpd start"\n  stop_cmd = "/etc/init.d/vsftpd stop"\n}\n';
    const { model, warnings } = await load(text);
    expect(model.virtualServices).toEqual([]);
    expect(warnings.map(where)).toEqual(['2:1 service', '3:1 failover']);
  });

  it('checks a UDP service with the default probe (a datagram that must not bounce)', async () => {
    const { model, warnings } = await load(
      'primary = 10.0.0.1\nvirtual syslog {\n active = 1\n address = 192.0.2.5 eth0:1\n protocol = udp\n port = 514\n}\n',
    );
    expect(model.virtualServices[0]?.healthCheck.kind).toBe('tcp');
    expect(warnings).toEqual([]);
  });

  it("reads the GUI's 0.0.0.0 masks as not given, never as a /0", async () => {
    const text = `primary = 10.0.0.1
network = nat
nat_router = 192.168.3.254 eth1:1
nat_nmask = 0.0.0.0
virtual sip {
  active = 1
  address = 192.0.2.60 eth0:2
  vip_nmask = 0.0.0.0
  port = 5060
  persistent = 400
  pmask = 0.0.0.0
}
`;
    const { model, warnings } = await load(text);
    expect(model.natRouter).toMatchObject({ address: '192.168.3.254', prefix: 24 });
    expect(model.virtualServices[0]?.vip).toMatchObject({ address: '192.0.2.60', prefix: 32 });
    expect(model.virtualServices[0]?.persistence).toEqual({ timeout: 400 });
    expect(warnings.map(where)).toEqual(['3:1 nat_router']);
  });
});
