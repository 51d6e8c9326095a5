import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, toYaml } from '../../../src/config/index.js';
import { configError, fixture, noHosts, testOptions, where, wildConfig } from './helpers.js';

const wild = wildConfig;
const ldirectord = (name: string): string => fixture(`ldirectord/${name}`);

describe('ldirectord.cf: the wild files', () => {
  it('reads the production file: 70 virtuals, service names as ports, gate weights, per-service checks', async () => {
    const { model, format, warnings } = await loadConfig(wild('grimli-scriptutili.ldirectord.cf'), testOptions);
    expect(format).toBe('ldirectord');
    expect(model.virtualServices).toHaveLength(70);
    expect(model.network).toBe('direct');
    const [dnsTcp, dnsUdp, web] = model.virtualServices;
    expect(dnsTcp).toMatchObject({ name: '10.0.16.1:domain/tcp', protocol: 'tcp', port: 53, scheduler: 'wrr' });
    expect(dnsUdp).toMatchObject({ protocol: 'udp', port: 53, scheduler: 'rr' });
    expect(dnsUdp?.healthCheck).toMatchObject({ kind: 'tcp', timeout: 10000, interval: 2000, failures: 1, quiesceServer: true });
    expect(web).toMatchObject({ port: 80, scheduler: 'sed', vip: { address: '10.0.16.2', prefix: 32 } });
    expect(web?.healthCheck).toMatchObject({
      kind: 'http',
      http: { path: '/.testpage', bodyRegex: 'test', statusCodes: [{ from: 200, to: 299 }] },
    });
    expect(web?.realServers.map((s) => [s.address, s.port, s.forwarding, s.weight])).toEqual([
      ['10.0.96.112', 80, 'gate', 100],
      ['10.0.96.113', 80, 'gate', 100],
      ['10.0.96.114', 80, 'gate', 100],
      ['10.0.96.115', 80, 'gate', 100],
    ]);
    const https = model.virtualServices.find((s) => s.port === 443);
    expect(https).toMatchObject({ persistence: { timeout: 1 } });
    expect(https?.healthCheck.http).toMatchObject({ tls: true });
    expect(warnings.slice(0, 5).map(where)).toEqual([
      '4:1 autoreload',
      '5:1 logfile',
      '7:1 emailalertfreq',
      '8:1 emailalert',
      '11:1 virtual',
    ]);
  });

  it('rejects the Config::Ldirectord file for what ldirectord rejects too: a doubled real server, service=ssh', async () => {
    const error = await configError(loadConfig(wild('vincentmli-lvsadm-ini-style.ldirectord.cf'), testOptions));
    expect(error.diagnostics.map(where)).toEqual(['28:7 real', '39:10 service']);
    expect(error.warnings.map(where)).toContain('7:1 [vip]');
  });

  it('loads the ldirectord.cf of seed 002 (heartbeat + ldirectord NAT director)', async () => {
    const { model } = await loadConfig(ldirectord('seed-002-ldirectord.cf'), { hosts: noHosts });
    expect(model.network).toBe('nat');
    expect(model.virtualServices.map((s) => [s.port, s.scheduler, s.persistence?.timeout, s.healthCheck.kind])).toEqual([
      [80, 'rr', undefined, 'http'],
      [443, 'rr', undefined, 'http'],
      [21, 'rr', 600, 'tcp'],
    ]);
    expect(model.virtualServices[0]?.healthCheck).toMatchObject({
      interval: 2000,
      timeout: 10000,
      quiesceServer: true,
      http: { path: '/ldirector.html', bodyRegex: 'Test Page' },
    });
  });
});

describe('ldirectord.cf: every keyword tandem maps', () => {
  it('maps globals, overrides, ranges, thresholds, fallbacks and every checktype', async () => {
    const { model, warnings } = await loadConfig(ldirectord('full.ldirectord.cf'), testOptions);
    const [web, tls, dns, mark, smtp, mysql, ssh] = model.virtualServices;
    expect(web).toMatchObject({
      port: 80,
      scheduler: 'wlc',
      persistence: { timeout: 300, netmask: '255.255.255.0' },
      sorryServer: { address: '127.0.0.1', port: 80, forwarding: 'masq' },
    });
    expect(web?.healthCheck).toMatchObject({
      kind: 'http',
      interval: 7000,
      timeout: 8000,
      failures: 2,
      port: 8081,
      quiesceServer: true,
      http: { path: '/check.html', host: 'www.example.com', bodyRegex: 'OK' },
    });
    expect(web?.realServers.map((s) => [s.address, s.port, s.weight, s.lowerThreshold, s.upperThreshold])).toEqual([
      ['10.0.0.11', 80, 3, 0, 0],
      ['10.0.0.12', 8080, 2, 10, 100],
      ['10.0.0.13', 8080, 2, 10, 100],
    ]);
    expect(tls?.healthCheck).toMatchObject({ kind: 'tcp', timeout: 4000, interval: 5000, quiesceServer: false });
    expect(dns).toMatchObject({ protocol: 'udp', onePacket: true, sorryServer: { address: '192.0.2.99', port: 53, forwarding: 'gate' } });
    expect(dns?.healthCheck.kind).toBe('none');
    expect(mark).toMatchObject({ fwmark: 12 });
    expect(mark?.healthCheck).toMatchObject({ kind: 'exec', sendProgram: '/usr/local/bin/check 12 0 %h %p' });
    expect(mark?.realServers[0]).toMatchObject({ forwarding: 'ipip', weight: 5, port: 0 });
    expect(smtp?.healthCheck).toMatchObject({ kind: 'send-expect', send: '/HELO tandem\n', expect: '^250', useRegex: true, timeout: 6000 });
    expect(mysql?.healthCheck.kind).toBe('tcp');
    expect(ssh?.healthCheck.kind).toBe('none');
    expect(ssh?.realServers[0]?.active).toBe(false);
    expect(warnings.map(where)).toEqual([
      '9:1 autoreload',
      '10:1 logfile',
      '11:1 emailalert',
      '13:1 virtual',
      '55:5 service',
      '63:5 checktype',
    ]);
  });

  it('converts to YAML that loads to the same model', async () => {
    for (const file of [ldirectord('full.ldirectord.cf'), ldirectord('seed-002-ldirectord.cf'), wild('grimli-scriptutili.ldirectord.cf')]) {
      const { model } = await loadConfig(file, testOptions);
      expect((await parseConfig(await toYaml(model), 'converted.yaml')).model).toEqual(model);
    }
  });
});

describe('ldirectord.cf: malformed files', () => {
  const load = (text: string) => parseConfig(text, 'ldirectord.cf', { ...testOptions, format: 'ldirectord' });

  it.each([
    [
      'an unknown global',
      'checktimout=3\nvirtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n',
      '1:1 checktimout',
      "did you mean 'checktimeout'",
    ],
    [
      'an unknown virtual keyword',
      'virtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n\tschedular=rr\n',
      '3:2 schedular',
      "did you mean 'scheduler'",
    ],
    ['a bad forwarding method', 'virtual=192.0.2.1:80\n\treal=10.0.0.1:80 route\n', '2:7 real', 'invalid real server'],
    ['a bad checktype', 'virtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n\tchecktype=sometimes\n', '3:12 checktype', 'invalid value'],
    ['a bad virtual address', 'virtual=192.0.2.1\n\treal=10.0.0.1:80 gate\n', '1:9 virtual', 'invalid address'],
    ['a protocol that does not fit', 'virtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n\tprotocol=fwm\n', '3:11 protocol', 'invalid value'],
    ['an unknown port name', 'virtual=192.0.2.1:nosuch\n\treal=10.0.0.1 gate\n', '1:9 virtual', "unknown port 'nosuch'"],
    [
      'an indented line after a blank one',
      'virtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n\n\tscheduler=rr\n',
      '4:2 -',
      'outside a virtual section',
    ],
    ['a bad quiescent', 'quiescent=maybe\nvirtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n', '1:11 quiescent', 'invalid value'],
  ])('rejects %s with line:col and key', async (_, text, place, says) => {
    const error = await configError(load(text));
    expect(error.diagnostics.map(where)).toEqual([place]);
    expect(error.diagnostics[0]?.message).toContain(says);
  });

  it('is detected by its content even when named .cf like Piranha files', async () => {
    const { format } = await parseConfig('virtual=192.0.2.1:80\n\treal=10.0.0.1:80 gate\n', 'director.cf', testOptions);
    expect(format).toBe('ldirectord');
  });
});
