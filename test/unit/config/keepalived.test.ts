import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, toYaml, type Diagnostic } from '../../../src/config/index.js';
import { configError, fixture, noHosts, testOptions, where, wildConfig } from './helpers.js';

const keepalived = (name: string): string => fixture(`keepalived/${name}`);
const shown = (list: Diagnostic[]): string[] => list.map((d) => `${where(d)}: ${d.message}`);

describe('keepalived.conf: the wild files', () => {
  it('reads the fwmark sample: fwmark service, rr, NAT, persistence, TCP_CHECK on port 80', async () => {
    const { model, format, warnings } = await loadConfig(wildConfig('keepalived-sample-fwmark.keepalived.conf'), { hosts: noHosts });
    expect(format).toBe('keepalived');
    expect(warnings).toEqual([]);
    expect(model.nodes).toEqual([]);
    expect(model.network).toBe('nat');
    const [service] = model.virtualServices;
    expect(service).toMatchObject({ name: 'fwmark1', fwmark: 1, scheduler: 'rr', persistence: { timeout: 900 } });
    expect(service?.vip).toBeUndefined();
    expect(service?.healthCheck).toMatchObject({
      kind: 'tcp',
      interval: 6000,
      timeout: 3000,
      port: 80,
      failures: 2,
      retryInterval: 1000,
      reentry: 0,
    });
    expect(service?.realServers.map((s) => [s.address, s.port, s.weight, s.forwarding])).toEqual([
      ['192.168.201.100', 0, 1, 'masq'],
      ['192.168.201.101', 0, 1, 'masq'],
    ]);
  });

  it('reads the IPv6 sample; SMTP_CHECK becomes a connect check, with a warning', async () => {
    const { model, warnings } = await loadConfig(wildConfig('keepalived-sample-ipv6.keepalived.conf'), { hosts: noHosts });
    const [service] = model.virtualServices;
    expect(service).toMatchObject({ name: '[ae00::1]:80', vip: { address: 'ae00::1', family: 6, prefix: 128 }, port: 80, protocol: 'tcp' });
    expect(service?.realServers.map((s) => [s.address, s.port])).toEqual([['ae00::10', 25]]);
    expect(service?.healthCheck).toMatchObject({ kind: 'tcp', timeout: 3000, failures: 4 });
    expect(warnings.map((w) => where(w))).toEqual(['13:1 virtual_server', '24:9 SMTP_CHECK']);
  });

  it('reads the UDP DNS director: VRRP address and device, MISC_CHECK with %h, delay_before_retry at service level', async () => {
    const { model, warnings } = await loadConfig(wildConfig('snemarch-udp-dns.keepalived.conf'), { hosts: noHosts });
    expect(model.cluster).toBe('VI_1');
    expect(model.heartbeat).toMatchObject({ keepalive: 1000, deadtime: 3414 });
    expect(model.announce.refresh).toBe(60000);
    const [service] = model.virtualServices;
    expect(service).toMatchObject({
      protocol: 'udp',
      port: 53,
      scheduler: 'rr',
      vip: { address: '192.168.100.100', prefix: 32, device: 'eth0.53' },
    });
    expect(service?.healthCheck).toMatchObject({
      kind: 'exec',
      sendProgram: '/usr/bin/nslookup -type=a google.com %h',
      timeout: 1000,
      interval: 1000,
      failures: 1,
    });
    expect(warnings.map(where)).toEqual([
      '2:2 vrrp_version',
      '3:2 vrrp_garp_master_delay',
      '5:2 script_user',
      '6:2 enable_script_security',
      '10:1 vrrp_instance',
      '21:35 virtual_server',
      '27:2 quorum',
    ]);
  });

  it('rejects the Alibaba-fork file named lvs.cf, naming each foreign keyword', async () => {
    const error = await configError(
      loadConfig(wildConfig('proxyos-keepalived-syntax-named-lvs.cf'), { ...testOptions, format: 'keepalived' }),
    );
    expect(error.diagnostics.map(where)).toEqual([
      '1:1 serial_no',
      '15:1 local_address_group',
      '20:1 local_address_group',
      '27:19 sorry_server',
      '29:14 lb_kind',
      '30:6 laddr_group_name',
      '32:6 est_timeout',
      '39:25 digest',
    ]);
  });
});

describe('keepalived.conf: every keyword tandem maps', () => {
  it('maps the MASTER of a unicast pair, with its include', async () => {
    const { model, warnings } = await loadConfig(keepalived('lb1.keepalived.conf'), { hosts: noHosts });
    expect(model.nodes).toEqual([
      { name: 'lb1', address: '198.51.100.11', priority: 150 },
      { name: 'peer', address: '198.51.100.12', priority: 149 },
    ]);
    // advert_int 0.5, priority 150: 3 × 500 + (256 − 150) × 500 / 256 ms.
    expect(model.heartbeat).toMatchObject({ keepalive: 500, deadtime: 1707 });
    expect(model.preempt).toBe(true);
    expect(model.sync).toEqual({
      enabled: true,
      interface: 'eth1',
      syncId: 7,
      port: 8849,
      conntrack: { enabled: true, cacheMaxEntries: 262144, commit: 'before-announce', filter: { include: [], exclude: [] } },
      ipvs: { enabled: true },
    });
    expect(model.ipvsTimeouts).toEqual({ tcp: 900, tcpFin: 30, udp: 60 });
    expect(model.announce).toEqual({ count: 3, interval: 100, refresh: 60000 });
    expect(model.monitorLinks.interfaces).toEqual(['eth2']);
    expect(model.hooks).toMatchObject({
      activeCmd: '/etc/keepalived/master.sh web',
      inactiveCmd: '/etc/keepalived/backup.sh',
      notify: '/etc/keepalived/notify.sh',
    });
    expect(model.natRouter).toEqual({ address: '10.0.0.1', family: 4, prefix: 24, device: 'eth1' });
    const [web, tls, mark, dns] = model.virtualServices;
    expect(web).toMatchObject({
      vip: { address: '192.0.2.10', prefix: 24, device: 'eth0', label: 'eth0:1' },
      scheduler: 'wrr',
      persistence: { timeout: 600, netmask: '255.255.255.0' },
      sorryServer: { address: '10.0.0.99', port: 8080, forwarding: 'masq' },
    });
    expect(web?.healthCheck).toMatchObject({
      kind: 'http',
      interval: 5000,
      timeout: 2000,
      failures: 3,
      retryInterval: 1500,
      port: 8081,
      quiesceServer: true,
      http: {
        path: '/health',
        host: 'www.example.com',
        statusCodes: [
          { from: 200, to: 299 },
          { from: 301, to: 301 },
        ],
        digest: '9b3a0c85a887a256d6939da88aabd8cd',
      },
    });
    expect(web?.realServers.map((s) => [s.address, s.port, s.weight, s.upperThreshold, s.lowerThreshold])).toEqual([
      ['10.0.0.11', 8080, 3, 1000, 800],
      ['10.0.0.12', 8080, 2, 0, 0],
    ]);
    expect(tls).toMatchObject({ scheduler: 'lc', vip: { address: '192.0.2.11', prefix: 24, device: 'eth0' } });
    expect(tls?.healthCheck).toMatchObject({
      kind: 'http',
      http: { tls: true, path: '/', statusCodes: [{ from: 200, to: 299 }] },
      retryInterval: 3000,
    });
    expect(tls?.realServers[0]?.forwarding).toBe('gate');
    expect(mark).toMatchObject({ fwmark: 7, persistence: { timeout: 360 } });
    expect(mark?.healthCheck).toMatchObject({
      kind: 'exec',
      sendProgram: '/usr/local/bin/check-node %h --fast',
      timeout: 4000,
      failures: 1,
    });
    expect(mark?.realServers[0]?.forwarding).toBe('ipip');
    expect(dns).toMatchObject({ protocol: 'udp', port: 53, onePacket: true, scheduler: 'wlc' });
    expect(dns?.healthCheck).toMatchObject({ kind: 'tcp', interval: 2000 });
    expect(dns?.healthCheck.port).toBeUndefined();
    expect(warnings.map(where)).toEqual([
      '4:4 notification_email',
      '29:9 unicast_peer',
      '31:5 authentication',
      '41:9 virtual_ipaddress',
      '45:5 notify_fault',
      '46:5 notify',
    ]);
    expect(shown(warnings)[3]).toContain('2001:db8::10 is no virtual_server');
  });

  it('maps the BACKUP of the same pair to the same nodes, the MASTER first', async () => {
    const { model } = await loadConfig(keepalived('lb2.keepalived.conf'), { hosts: noHosts });
    expect(model.nodes).toEqual([
      { name: 'peer', address: '198.51.100.11', priority: 101 },
      { name: 'lb2', address: '198.51.100.12', priority: 100 },
    ]);
    expect(model.preempt).toBe(false);
  });

  it('converts to YAML that loads to the same model', async () => {
    for (const name of ['lb1.keepalived.conf', 'lb2.keepalived.conf']) {
      const { model } = await loadConfig(keepalived(name), { hosts: noHosts });
      const again = await parseConfig(await toYaml(model), 'converted.yaml');
      expect(again.model).toEqual(model);
    }
    const { model } = await loadConfig(wildConfig('snemarch-udp-dns.keepalived.conf'), { hosts: noHosts });
    expect((await parseConfig(await toYaml(model), 'converted.yaml')).model).toEqual(model);
  });
});

describe('keepalived.conf: includes and malformed files', () => {
  const load = (text: string, file = keepalived('inline.conf')) => parseConfig(text, file, { ...testOptions, format: 'keepalived' });
  const server = 'virtual_server 192.0.2.50 80 {\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n';

  it('reports an include cycle at the include line of the included file', async () => {
    const error = await configError(loadConfig(keepalived('cycle-a.conf'), testOptions));
    expect(error.diagnostics.map((d) => `${d.file.split('/').pop() ?? ''}:${where(d)}`)).toEqual(['cycle-b.conf:1:9 include']);
  });

  it('warns about an include that matches nothing, and reads braces glued to words', async () => {
    const { model, warnings } = await load(
      `include missing/*.conf\nvirtual_server 192.0.2.50 80{\n protocol TCP\n real_server 10.0.0.50 80\n {\n }\n}\n`,
    );
    expect(model.virtualServices).toHaveLength(1);
    expect(warnings.map(where)).toContain('1:9 include');
  });

  it.each([
    [
      'an unknown keyword, with a suggestion',
      `virtual_server 192.0.2.50 80 {\n  lb_algoo rr\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n`,
      '2:3 lb_algoo',
      "did you mean 'lb_algo'",
    ],
    [
      'an unknown scheduler',
      `virtual_server 192.0.2.50 80 {\n  lb_algo fastest\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n`,
      '2:11 lb_algo',
      'unknown scheduler',
    ],
    [
      'an invalid lb_kind',
      `virtual_server 192.0.2.50 80 {\n  lb_kind FNAT\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n`,
      '2:11 lb_kind',
      'invalid value',
    ],
    [
      'a bad real server address',
      `virtual_server 192.0.2.50 80 {\n  protocol TCP\n  real_server 10.0.0.500 80 {\n  }\n}\n`,
      '3:15 real_server',
      'invalid address',
    ],
    [
      'a bad port',
      `virtual_server 192.0.2.50 99999 {\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n`,
      '1:27 virtual_server',
      'invalid value',
    ],
    [
      'a bad status code',
      `virtual_server 192.0.2.50 80 {\n  protocol TCP\n  real_server 10.0.0.50 80 {\n    HTTP_GET {\n      url {\n        status_code 2xx\n      }\n    }\n  }\n}\n`,
      '6:21 status_code',
      'invalid value',
    ],
    [
      'a bad digest',
      `virtual_server 192.0.2.50 80 {\n  protocol TCP\n  real_server 10.0.0.50 80 {\n    HTTP_GET {\n      url {\n        digest xyz\n      }\n    }\n  }\n}\n`,
      '6:16 digest',
      'invalid value',
    ],
    ['a block never closed', `virtual_server 192.0.2.50 80 {\n  protocol TCP\n`, '1:1 virtual_server', 'never closed'],
    ["a '}' too many", `${server}}\n`, '6:1 }', 'without an open block'],
    ['an unmatched quote', `vrrp_instance VI_1 {\n  notify_master "/bin/x\n}\n${server}`, '2:17 notify_master', 'unmatched quote'],
    ['a bad timer', `vrrp_instance VI_1 {\n  advert_int fast\n}\n${server}`, '2:14 advert_int', 'invalid value'],
    [
      'a bad VRRP address',
      `vrrp_instance VI_1 {\n  virtual_ipaddress {\n    192.0.2.300/24 dev eth0\n  }\n}\n${server}`,
      '3:5 virtual_ipaddress',
      'invalid address',
    ],
    ['conditional configuration', `@lb1 router_id lb1\n${server}`, '1:1 -', 'not supported'],
    [
      'a group that does not exist',
      `virtual_server group NOPE {\n  protocol TCP\n  real_server 10.0.0.50 80 {\n  }\n}\n`,
      '1:22 virtual_server group',
      'no such virtual_server_group',
    ],
  ])('rejects %s with file:line:col and key', async (_, text, place, says) => {
    const error = await configError(load(text));
    expect(error.diagnostics.map(where)).toEqual([place]);
    expect(error.diagnostics[0]?.message).toContain(says);
    expect(error.diagnostics[0]?.file).toBe(keepalived('inline.conf'));
  });

  it('expands a virtual_server_group into one service per address', async () => {
    const text = `virtual_server_group WEB {\n  192.0.2.1-3 80\n  fwmark 9\n}\nvirtual_server group WEB {\n  protocol TCP\n  persistence_timeout 60\n  real_server 10.0.0.50 80 {\n  }\n}\n`;
    const { model } = await load(text);
    expect(model.virtualServices.map((s) => s.name)).toEqual(['WEB 192.0.2.1:80', 'WEB 192.0.2.2:80', 'WEB 192.0.2.3:80', 'WEB fwmark9']);
  });

  it('takes UDP when protocol is missing, as keepalived does, with a warning', async () => {
    const { model, warnings } = await load('virtual_server 192.0.2.50 53 {\n  real_server 10.0.0.50 53 {\n  }\n}\n');
    expect(model.virtualServices[0]?.protocol).toBe('udp');
    expect(warnings.map(where)).toContain('1:1 protocol');
  });

  it('is detected by its content whatever the file is called', async () => {
    const { format } = await parseConfig(`! comment\nglobal_defs {\n}\n${server}`, 'director.cf', testOptions);
    expect(format).toBe('keepalived');
  });
});
