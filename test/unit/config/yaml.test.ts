import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TSchema } from '@sinclair/typebox';
import { loadConfig, parseConfig, toYaml } from '../../../src/config/index.js';
import { jsonSchema } from '../../../src/config/schema.js';
import { DocumentSchema } from '../../../src/config/schema.js';
import { configError, noHosts, services, testOptions, where } from './helpers.js';

const example = (name: string): string => new URL(`../../../deploy/examples/${name}`, import.meta.url).pathname;
const yaml = (text: string) => parseConfig(text, 'tandem.yaml', { hosts: noHosts, services });

describe('tandem.yaml', () => {
  it('fills the native defaults, aimed at sub-second failover', async () => {
    const { model, warnings } = await yaml(
      'nodes:\n  - {name: ifw01, address: 198.51.100.11}\n  - {name: ifw02, address: 198.51.100.12}\n',
    );
    expect(warnings).toEqual([]);
    expect(model).toEqual({
      cluster: 'tandem',
      serialNo: 0,
      nodes: [
        { name: 'ifw01', address: '198.51.100.11', priority: 200 },
        { name: 'ifw02', address: '198.51.100.12', priority: 100 },
      ],
      heartbeat: { port: 539, keepalive: 100, deadtime: 500, warntime: 250, initdead: 1000 },
      auth: { keyFile: '/etc/tandem/authkey', keyId: 1 },
      preempt: false,
      network: 'nat',
      enableForwarding: false,
      virtualServices: [],
      sync: {
        enabled: true,
        syncId: 0,
        port: 8848,
        conntrack: { enabled: false, cacheMaxEntries: 262144, commit: 'before-announce', filter: { include: [], exclude: [] } },
        ipvs: { enabled: true },
      },
      ipvsTimeouts: {},
      hooks: { timeout: 10000 },
      announce: { count: 5, interval: 200, refresh: 0 },
      monitorLinks: { enabled: true, interfaces: [] },
      keepServicesOnRelease: false,
    });
  });

  it('derives warntime and initdead from keepalive and deadtime unless given', async () => {
    const derived = await yaml('heartbeat: {keepalive: 1s, deadtime: 3s}\n');
    expect(derived.model.heartbeat).toMatchObject({ warntime: 2000, initdead: 6000 });
    const given = await yaml('heartbeat: {keepalive: 50ms, deadtime: 300ms, warntime: 120ms, initdead: 2s}\n');
    expect(given.model.heartbeat).toEqual({ port: 539, keepalive: 50, deadtime: 300, warntime: 120, initdead: 2000 });
  });

  it('reads durations with units and service names as ports', async () => {
    const { model } = await yaml(
      'virtual_services:\n  - name: web\n    vip: {address: 192.0.2.10, device: "eth0:1"}\n    port: www\n    persistence: {timeout: 1.5m, netmask: 255.255.255.0}\n    health_check: {interval: 1.5s, timeout: 250ms, reentry: 1h}\n    real_servers:\n      - {address: 10.1.0.1, port: https}\n',
    );
    const [service] = model.virtualServices;
    expect(service).toMatchObject({
      port: 80,
      vip: { device: 'eth0', label: 'eth0:1' },
      persistence: { timeout: 90, netmask: '255.255.255.0' },
    });
    expect(service?.healthCheck).toMatchObject({ kind: 'tcp', interval: 1500, timeout: 250, reentry: 3_600_000 });
    expect(service?.realServers[0]).toMatchObject({ name: '10.1.0.1:443', port: 443, forwarding: 'masq' });
  });

  it('loads the ifw01/ifw02 example', async () => {
    const { model, warnings } = await loadConfig(example('tandem.yaml'), testOptions);
    expect(warnings).toEqual([]);
    expect(model.nodes.map((n) => `${n.name} ${n.address} ${n.privateAddress} ${n.priority}`)).toEqual([
      'ifw01 198.51.100.11 192.168.3.251 200',
      'ifw02 198.51.100.12 192.168.3.252 100',
    ]);
    expect(model.natRouter).toEqual({ address: '192.168.3.254', family: 4, prefix: 24, device: 'eth1', label: 'eth1:1' });
    expect(model.virtualServices[0]?.healthCheck).toMatchObject({ kind: 'http', http: { path: '/infrastructure/host1', status: 200 } });
  });

  it('describes the same pair as the example lvs.cf', async () => {
    const native = (await loadConfig(example('tandem.yaml'), testOptions)).model;
    const piranha = (await loadConfig(example('lvs.cf'), testOptions)).model;
    const addresses = (m: typeof native) => m.nodes.map((n) => [n.address, n.privateAddress, n.priority]);
    expect(addresses(piranha)).toEqual(addresses(native));
    expect(piranha.natRouter).toEqual(native.natRouter);
    expect(piranha.sync).toEqual(native.sync);
    const table = (m: typeof native) => m.virtualServices.map((s) => ({ ...s, healthCheck: undefined }));
    expect(table(piranha)).toEqual(table(native));
  });

  it('writes only what differs from the defaults, and reads it back to the same model', async () => {
    const { model } = await loadConfig(example('tandem.yaml'), testOptions);
    const written = await toYaml(model);
    expect(written).not.toContain('announce');
    expect(written).not.toContain('keep_services_on_release');
    expect((await yaml(written)).model).toEqual(model);
  });

  it('round-trips every setting there is', async () => {
    const text = `cluster: everything
serial_no: 42
nodes:
  - {name: a, address: 2001:db8::a, private_address: fd00::a, priority: 10}
  - {name: b, address: 2001:db8::b, private_address: fd00::b, priority: 20}
heartbeat: {port: 7000, keepalive: 20ms, deadtime: 90ms, warntime: 70ms, initdead: 5s}
auth: {key_file: /etc/tandem/other.key, key_id: 4000000000}
preempt: true
network: direct
nat_router: {address: 192.168.9.1/25, device: bond0, label: bond0:gw}
enable_forwarding: true
virtual_services:
  - name: six
    active: false
    vip: {address: 2001:db8::80/64, device: eth0}
    protocol: tcp
    port: 8080
    scheduler: mh
    persistence: {timeout: 1h, netmask: 64}
    sorry_server: {address: 2001:db8::99, port: 80, forwarding: masq, weight: 0}
    health_check:
      kind: http
      interval: 700ms
      timeout: 300ms
      reentry: 10s
      failures: 5
      port: 8081
      http: {path: /health, host: www.example.net, status: 204, body_regex: "^ok$", tls: true}
      quiesce_server: true
      slow_start: 30s
    real_servers:
      - {name: first, address: 2001:db8::1, port: 8080, weight: 0, active: false, forwarding: ipip, upper_threshold: 100, lower_threshold: 50}
      - {address: 192.0.2.1, forwarding: ipip}
  - name: marked
    fwmark: 4294967295
    family: 6
    protocol: udp
    one_packet: true
    health_check: {kind: none, send: "x\\r\\n", expect: y, send_program: /bin/true, load_monitor: uptime}
    real_servers: [{address: 2001:db8::2, port: 53}]
sync: {enabled: false, interface: eth9, sync_id: 255, port: 1}
ipvs_timeouts: {tcp: 15m, tcp_fin: 2m, udp: 5m}
hooks: {active_cmd: /bin/a, inactive_cmd: /bin/b, notify: /bin/c, timeout: 1m}
announce: {count: 100, interval: 1ms, refresh: 30s}
monitor_links: {enabled: false, interfaces: [eth0, bond0]}
keep_services_on_release: true
`;
    const { model } = await yaml(text);
    expect(model.virtualServices[1]?.healthCheck.send).toBe('x\r\n');
    expect((await yaml(await toYaml(model))).model).toEqual(model);
  });

  it('reads tunnels, scheduler flags and the persistence engine, and writes them back', async () => {
    const { model, warnings } = await yaml(
      [
        'network: tunnel',
        'virtual_services:',
        '  - name: sip',
        '    vip: {address: 192.0.2.10}',
        '    protocol: udp',
        '    port: 5060',
        '    scheduler: sh',
        '    scheduler_flags: [sh-fallback, sh-port, sh-port]',
        '    persistence: {timeout: 3m}',
        '    persistence_engine: sip',
        '    real_servers:',
        '      - {address: 10.0.0.1, tunnel: {type: gue, port: 6080, checksum: remcsum}}',
        '      - {address: 10.0.0.2, tunnel: {type: gre}}',
        '      - {address: 10.0.0.3, tunnel: {type: ipip}}',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([]);
    const [service] = model.virtualServices;
    expect(service).toMatchObject({ schedulerFlags: ['sh-fallback', 'sh-port'], persistenceEngine: 'sip' });
    expect(service?.realServers.map((server) => server.tunnel)).toEqual([
      { type: 'gue', port: 6080, checksum: 'remcsum' },
      { type: 'gre', checksum: 'none' },
      undefined,
    ]);
    const written = await toYaml(model);
    expect(written).toContain('tunnel:\n          type: gue\n          port: 6080\n          checksum: remcsum\n');
    expect((await yaml(written)).model).toEqual(model);
  });

  it('refuses tunnels, scheduler flags and engines the kernel would not take, naming the key', async () => {
    const error = await configError(
      yaml(
        [
          'network: tunnel',
          'virtual_services:',
          '  - name: web',
          '    vip: {address: 192.0.2.10}',
          '    port: 80',
          '    scheduler: wlc',
          '    scheduler_flags: [flag-1, sh-port]',
          '    persistence_engine: rtsp',
          '    real_servers:',
          '      - {address: 10.0.0.1, tunnel: {type: gue}}',
          '      - {address: 10.0.0.2, tunnel: {type: gre, port: 1, checksum: remcsum}}',
          '      - {address: 10.0.0.3, forwarding: gate, tunnel: {type: gre}}',
          '      - {address: 10.0.0.4, tunnel: {type: vxlan}}',
          '',
        ].join('\n'),
      ),
    );
    expect(error.diagnostics.map((d) => `${where(d)}: ${d.message}`)).toEqual([
      "7:31 virtual_services[0].scheduler_flags[1]: incompatible scheduler flag 'sh-port'",
      '8:25 virtual_services[0].persistence_engine: invalid value',
      '10:37 virtual_services[0].real_servers[0].tunnel.port: a gue tunnel needs a port',
      '11:55 virtual_services[0].real_servers[1].tunnel.port: tunnel type gre takes no port',
      '11:68 virtual_services[0].real_servers[1].tunnel.checksum: tunnel type gre takes no checksum remcsum',
      '12:55 virtual_services[0].real_servers[2].tunnel: tunnel options conflict with forwarding',
      '13:44 virtual_services[0].real_servers[3].tunnel.type: invalid value',
    ]);
    expect(error.diagnostics[1]?.expected).toBe('sip');
  });

  it("takes the sync daemon's multicast group, TTL and message length; the group must be multicast", async () => {
    const { model } = await yaml('sync: {group: 239.1.2.3, ttl: 3, max_length: 1200}\n');
    expect(model.sync).toMatchObject({ enabled: true, syncId: 0, port: 8848, group: '239.1.2.3', ttl: 3, maxLength: 1200 });
    expect((await yaml(await toYaml(model))).model).toEqual(model);
    const error = await configError(yaml('sync: {group: "2001:db8::1", ttl: 0}\n'));
    expect(error.diagnostics.map((d) => `${where(d)}: ${d.message}`)).toEqual([
      '1:15 sync.group: invalid IPv6 mcast-group',
      '1:35 sync.ttl: invalid value',
    ]);
  });

  it('names a section left empty (null) instead of failing on it', async () => {
    for (const section of ['sync', 'nat_router', 'metrics']) {
      const error = await configError(yaml(`${section}:\n`));
      expect(error.diagnostics.map((d) => d.key)).toEqual([section]);
    }
  });

  it('takes the metrics listen address (absent: off), IPv4 or IPv6, and writes it back', async () => {
    expect((await yaml('cluster: lab\n')).model.metrics).toBeUndefined();
    const { model } = await yaml('metrics: {listen: "[2001:DB8::1]:9539"}\n');
    expect(model.metrics).toEqual({ host: '2001:db8::1', port: 9539 });
    expect((await yaml(await toYaml(model))).model).toEqual(model);
    expect((await yaml('metrics: {listen: 127.0.0.1:9539}\n')).model.metrics).toEqual({ host: '127.0.0.1', port: 9539 });
    for (const [listen, message] of [
      ['localhost:9539', '1:19 metrics.listen: invalid value'],
      ['127.0.0.1', '1:19 metrics.listen: invalid value'],
      ['300.0.0.1:9539', '1:19 metrics.listen: invalid listen address'],
      ['127.0.0.1:70000', '1:19 metrics.listen: invalid listen port'],
    ]) {
      const error = await configError(yaml(`metrics: {listen: "${listen}"}\n`));
      expect(error.diagnostics.map((d) => `${where(d)}: ${d.message}`)).toEqual([message]);
    }
  });

  it('warns that a persistence engine needs persistence', async () => {
    const { warnings } = await yaml('virtual_services:\n  - {name: s, vip: {address: 192.0.2.1}, port: 5060, persistence_engine: sip}\n');
    expect(warnings.map((w) => `${where(w)}: ${w.message}`)).toEqual([
      '2:74 virtual_services[0].persistence_engine: a persistence engine has no effect without persistence',
    ]);
  });

  it('ships the JSON Schema generated from the same TypeBox source (npm run schema)', () => {
    const committed = readFileSync(new URL('../../../schema/tandem.schema.json', import.meta.url), 'utf8');
    expect(committed, 'schema/tandem.schema.json is stale: run `npm run schema`').toBe(jsonSchema());
  });

  it('has every key documented in the README, with its default', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const keys = (schema: TSchema, prefix: string): string[] => {
      const items = schema.items as TSchema | undefined;
      if (schema.type === 'array' && items?.properties !== undefined) return keys(items, `${prefix}[]`);
      if (schema.properties === undefined) return [prefix];
      return Object.entries(schema.properties as Record<string, TSchema>).flatMap(([name, child]) =>
        keys(child, prefix === '' ? name : `${prefix}.${name}`),
      );
    };
    const undocumented = keys(DocumentSchema, '').filter(
      (key) => !new RegExp(`^\\| \`${key.replace(/[[\].]/g, '\\$&')}\` \\|`, 'm').test(readme),
    );
    expect(undocumented).toEqual([]);
  });

  it('lists every error of a document at once, in file order', async () => {
    const error = await configError(
      yaml(
        'heartbeat:\n  keepalive: fast\nnodes:\n  - {name: a, address: 10.0.0.1}\n  - {name: a, address: 10.0.0.1}\nvirtual_services:\n  - {name: w, vip: {address: 192.0.2.1}, port: 80, scheduler: rr2}\npreempt: sometimes\n',
      ),
    );
    expect(error.diagnostics.map(where)).toEqual([
      '2:14 heartbeat.keepalive',
      '5:12 nodes[1].name',
      '5:24 nodes[1].address',
      '7:63 virtual_services[0].scheduler',
      '8:10 preempt',
    ]);
  });
});
