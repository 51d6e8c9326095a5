import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, systemHostResolver } from '../../../src/config/index.js';
import { configError, fixture, hosts, services, testOptions, where } from './helpers.js';

describe("lvs-director's lvs.conf", () => {
  it('loads the configuration of seed 003, host names resolved', async () => {
    const { model, format, warnings } = await loadConfig(fixture('seed-003-lvs.conf'), { hosts, services });
    expect(format).toBe('lvs.conf');
    expect(warnings.map(where)).toEqual(['3:1 LVS_IF']);
    expect(warnings[0]?.message).toContain('net.ipv4.conf.eth0.send_redirects=0');
    expect(model.nodes).toEqual([]);
    expect(model.network).toBe('nat');
    expect(model.virtualServices.map((s) => [s.name, s.protocol, s.port, s.healthCheck.kind])).toEqual([
      ['telnet/tcp', 'tcp', 23, 'tcp'],
      ['xdmcp/udp', 'udp', 177, 'tcp'],
    ]);
    for (const service of model.virtualServices) {
      expect(service.vip).toEqual({ address: '192.0.2.8', family: 4, prefix: 32, device: 'eth0', label: 'eth0:110' });
      expect(service.realServers.map((s) => `${s.name}=${s.address} ${s.forwarding}`)).toEqual(
        [10, 11, 12, 13, 14, 15].map((n) => `epsg90${n}=192.0.2.${n} masq`),
      );
    }
  });

  it('reads shell quoting, escapes, continuations, export, comments and helper variables', async () => {
    const text = [
      '# director settings',
      'export VIP=192.0.2.8   # the service address',
      "VIP_IF='eth0:1'",
      'NET=192.0.2',
      'TPORTS="telnet 8080" ; UPORTS=5\\3',
      'RIPS="${NET}.21 \\',
      '      $NET.22" ',
      'RIPS="$RIPS ${NET}.23"',
    ].join('\n');
    const { model } = await parseConfig(text, 'lvs.conf', testOptions);
    expect(model.virtualServices.map((s) => s.port)).toEqual([23, 8080, 53]);
    expect(model.virtualServices[0]?.realServers.map((s) => s.address)).toEqual(['192.0.2.21', '192.0.2.22', '192.0.2.23']);
    expect(model.virtualServices[0]?.vip).toMatchObject({ device: 'eth0', label: 'eth0:1' });
  });

  it('names the file, line and key of a host name that does not resolve', async () => {
    const error = await configError(
      parseConfig('VIP=epsg9008\nTPORTS=telnet\nRIPS="epsg9010 epsg9099"\n', '/etc/lvs.conf', {
        hosts: () => Promise.resolve([]),
        services,
      }),
    );
    expect(error.diagnostics.map((d) => `${d.file}:${where(d)}`)).toEqual([
      '/etc/lvs.conf:1:5 VIP',
      '/etc/lvs.conf:3:7 RIPS',
      '/etc/lvs.conf:3:16 RIPS',
    ]);
    expect(error.diagnostics[2]).toMatchObject({ message: 'cannot resolve host name (no address found)', found: '"epsg9099"' });
  });

  it.each([
    ['a line that is not an assignment', 'VIP=192.0.2.8\nstart the director\nTPORTS=telnet\nRIPS=epsg9010\n', '2:1 start'],
    ['a shell command in a value', 'VIP=192.0.2.8\nTPORTS=`cat ports`\nRIPS=epsg9010\n', '2:8 TPORTS'],
  ])('reports %s once, and reads the next line', async (_, text, at) => {
    const error = await configError(parseConfig(text, 'lvs.conf', testOptions));
    expect(error.diagnostics.map(where)).toEqual([at]);
    expect(error.warnings).toEqual([]);
  });

  it('resolves through /etc/hosts by default (here a hosts file of the test)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-hosts-'));
    try {
      await writeFile(
        join(dir, 'hosts'),
        '127.0.0.1 localhost\n192.0.2.8   epsg9008 epsg9008.example.net # the VIP\n2001:db8::8 epsg9008\n192.0.2.10 EPSG9010\n',
      );
      const resolve = systemHostResolver({ hostsFile: join(dir, 'hosts'), dnsTimeoutMs: 200 });
      expect(await resolve('epsg9008')).toEqual(['192.0.2.8', '2001:db8::8']);
      expect(await resolve('epsg9010')).toEqual(['192.0.2.10']);
      expect(await resolve('no-such-host.invalid')).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
