import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, toYaml, type Model } from '../../../src/config/index.js';
import { desiredTable, formatSave } from '../../../src/ipvs/index.js';
import { configError, fixture, noHosts, readFixture, services, testOptions, where } from './helpers.js';

const rules = async (text: string): Promise<Model> => (await parseConfig(text, 'ipvsadm.rules', testOptions)).model;

describe('ipvsadm rules', () => {
  it.each(['seed-000-save.rules', 'seed-000-commands.rules'])('loads seed 000: %s', async (name) => {
    const { model, format, warnings } = await loadConfig(fixture(name), { hosts: noHosts, services });
    expect(format).toBe('ipvsadm');
    expect(warnings).toEqual([]);
    expect(model.nodes).toEqual([]);
    expect(model.network).toBe('nat');
    const [service] = model.virtualServices;
    expect(model.virtualServices).toHaveLength(1);
    expect(service).toMatchObject({
      name: 'tcp/200.0.0.10:80',
      active: true,
      vip: { address: '200.0.0.10', family: 4, prefix: 32 },
      protocol: 'tcp',
      port: 80,
      scheduler: 'wlc',
      persistence: { timeout: 600 },
      healthCheck: { kind: 'none' },
    });
    expect(service?.vip?.device).toBeUndefined();
    expect(service?.realServers).toEqual([
      {
        name: name === 'seed-000-save.rules' ? '192.168.3.2:80' : '192.168.3.2',
        address: '192.168.3.2',
        family: 4,
        port: name === 'seed-000-save.rules' ? 80 : 0,
        weight: 100,
        active: true,
        forwarding: 'masq',
        upperThreshold: 0,
        lowerThreshold: 0,
      },
    ]);
  });

  it("loads seed 000's hand-edited /etc/ipvsadm.rules (comment, round robin)", async () => {
    const { model } = await loadConfig(fixture('seed-000-ipvsadm.rules'), { hosts: noHosts, services });
    expect(model.virtualServices[0]).toMatchObject({ scheduler: 'rr', port: 80 });
    expect(model.virtualServices[0]?.persistence).toBeUndefined();
    expect(model.virtualServices[0]?.realServers[0]).toMatchObject({ address: '192.168.3.2', port: 80, weight: 1, forwarding: 'masq' });
  });

  it('refuses seed 000\'s missing port as ipvsadm does: "Service not defined"', async () => {
    const error = await configError(loadConfig(fixture('seed-000-missing-port.rules'), { hosts: noHosts, services }));
    expect(error.diagnostics).toHaveLength(1);
    expect(where(error.diagnostics[0])).toBe('2:15 -t');
    expect(error.diagnostics[0]).toMatchObject({
      message: 'Service not defined: tcp 200.0.0.10:80',
      expected: 'an earlier -A for tcp 200.0.0.10:80',
      found: 'only tcp 200.0.0.10:0 (line 1)',
    });
  });

  it('loads seed 004: /sbin/ipvsadm prefixes, service names, -p without timeout, two commands on a line', async () => {
    const { model, warnings } = await loadConfig(fixture('seed-004-vs-tun.rules'), { hosts: noHosts, services });
    expect(warnings.map(where)).toEqual(['3:67 /sbin/ipvsadm']);
    expect(warnings[0]?.message).toContain('2 ipvsadm commands on one line');
    expect(model.network).toBe('tunnel');
    expect(model.virtualServices.map((s) => [s.name, s.vip?.address, s.port, s.scheduler, s.persistence?.timeout])).toEqual([
      ['tcp/192.168.1.176:23', '192.168.1.176', 23, 'wlc', 360],
      ['tcp/192.168.1.176:22', '192.168.1.176', 22, 'wlc', 360],
    ]);
    for (const service of model.virtualServices) {
      expect(service.realServers).toMatchObject([{ address: '192.168.1.175', port: 0, weight: 3, forwarding: 'ipip' }]);
    }
  });

  it("resolves service names per protocol, as getservbyname does (www is http's alias)", async () => {
    const model = await rules('-A -t 192.0.2.10:www\n-A -u 192.0.2.10:xdmcp\n-A -t 192.0.2.10:https\n-A -u 192.0.2.10:https\n');
    expect(model.virtualServices.map((s) => `${s.protocol}/${s.port}`)).toEqual(['tcp/80', 'udp/177', 'tcp/443', 'udp/443']);
  });

  it('resolves host names through the resolver it is given', async () => {
    const model = await rules('-A -t ifw01.local:www -p\n-a -t ifw01.local:80 -r ics01.local -m\n');
    expect(model.virtualServices[0]?.vip?.address).toBe('198.51.100.11');
    expect(model.virtualServices[0]?.realServers[0]?.address).toBe('192.168.3.2');
  });

  it('seed 000 and seed 001 load into the same model shape', async () => {
    const fromRules = (await loadConfig(fixture('seed-000-save.rules'), { hosts: noHosts, services })).model;
    const fromLvsCf = (await loadConfig(fixture('seed-001-lvs.cf'), { hosts: noHosts, services })).model;
    const optional = new Set(['natRouter']);
    const keys = (value: object): string[] =>
      Object.keys(value)
        .filter((key) => !optional.has(key))
        .sort();
    expect(keys(fromRules)).toEqual(keys(fromLvsCf));
    for (const part of ['heartbeat', 'auth', 'sync', 'hooks', 'announce', 'monitorLinks'] as const)
      expect(keys(fromRules[part])).toEqual(keys(fromLvsCf[part]));
    const [ruleService, cfService] = [fromRules.virtualServices[0], fromLvsCf.virtualServices[0]];
    expect(ruleService !== undefined && cfService !== undefined).toBe(true);
    expect(keys(ruleService!.realServers[0]!)).toEqual(keys(cfService!.realServers[0]!));
    expect(keys(ruleService!.healthCheck).filter((k) => !['send', 'expect', 'loadMonitor'].includes(k))).toEqual(
      keys(cfService!.healthCheck).filter((k) => !['send', 'expect', 'loadMonitor'].includes(k)),
    );
  });

  it.each(['seed-000-save.rules', 'seed-000-commands.rules', 'seed-000-ipvsadm.rules', 'seed-004-vs-tun.rules'])(
    'converts %s to YAML and back without loss',
    async (name) => {
      const { model } = await loadConfig(fixture(name), { hosts: noHosts, services });
      expect((await parseConfig(await toYaml(model), 'converted.yaml', { services })).model).toEqual(model);
    },
  );

  it('applies -C, -E, -e, -D and -d in order', async () => {
    const model = await rules(
      [
        '-A -t 192.0.2.1:80',
        '-C',
        '-A -t 192.0.2.10:80 -s rr',
        '-a -t 192.0.2.10:80 -r 10.1.0.1:80 -m',
        '-a -t 192.0.2.10:80 -r 10.1.0.2:80 -m',
        '-a -t 192.0.2.10:80 -r 10.1.0.3:80 -m',
        '-E -t 192.0.2.10:80 -s wlc -p 60',
        '-e -t 192.0.2.10:80 -r 10.1.0.2:80 -m -w 5',
        '-d -t 192.0.2.10:80 -r 10.1.0.3:80',
        '-A -t 192.0.2.11:80',
        '-D -t 192.0.2.11:80',
      ].join('\n'),
    );
    expect(model.virtualServices).toHaveLength(1);
    expect(model.virtualServices[0]).toMatchObject({ vip: { address: '192.0.2.10' }, scheduler: 'wlc', persistence: { timeout: 60 } });
    expect(model.virtualServices[0]?.realServers.map((s) => `${s.address} ${s.weight}`)).toEqual(['10.1.0.1 1', '10.1.0.2 5']);
  });

  it('reads fwmark, IPv6, one-packet, thresholds, netmasks and long or attached options', async () => {
    const model = await rules(
      [
        'ipvsadm --add-service --fwmark-service 80 --scheduler=sh --persistent=30 -M 255.255.255.0',
        'ipvsadm -a -f 80 -r 10.1.0.1:80 -m -w3 -x 1000 -y 800',
        '-A -f 81 -6 -p -M 64',
        '-A -t [2001:DB8::10]:443 -s wrr',
        '-a -t [2001:db8::10]:443 -r [2001:db8::1:0:0:1]:8443 -m --weight 7',
        '-A -u 192.0.2.10:53 -o -s sh',
      ].join('\n'),
    );
    const [mark, mark6, web6, dns] = model.virtualServices;
    expect(mark).toMatchObject({
      name: 'fwmark/80',
      fwmark: 80,
      port: 0,
      scheduler: 'sh',
      persistence: { timeout: 30, netmask: '255.255.255.0' },
    });
    expect(mark?.vip).toBeUndefined();
    expect(mark?.realServers[0]).toMatchObject({ port: 80, weight: 3, upperThreshold: 1000, lowerThreshold: 800, forwarding: 'masq' });
    expect(mark6).toMatchObject({ fwmark: 81, family: 6, persistence: { timeout: 360, netmask: '64' } });
    expect(web6).toMatchObject({ vip: { address: '2001:db8::10', family: 6, prefix: 128 }, port: 443, scheduler: 'wrr' });
    expect(web6?.realServers[0]).toMatchObject({
      name: '[2001:db8::1:0:0:1]:8443',
      address: '2001:db8::1:0:0:1',
      family: 6,
      port: 8443,
      weight: 7,
    });
    expect(dns).toMatchObject({ protocol: 'udp', onePacket: true });
  });

  it('takes IPVS timeouts from --set and the sync daemon from --start-daemon', async () => {
    const model = await rules('--set 900 120 300\n--start-daemon master --mcast-interface eth1 --syncid 7\n-A -t 192.0.2.10:80\n');
    expect(model.ipvsTimeouts).toEqual({ tcp: 900, tcpFin: 120, udp: 300 });
    expect(model.sync).toMatchObject({ enabled: true, interface: 'eth1', syncId: 7 });
  });

  it('warns about listing commands instead of refusing them', async () => {
    const { warnings } = await parseConfig('/sbin/ipvsadm\n/sbin/ipvsadm -L -n\n-A -t 192.0.2.10:80\n', 'ipvsadm.rules', testOptions);
    expect(warnings.map(where)).toEqual(['1:1 /sbin/ipvsadm', '2:15 -L']);
  });

  describe("ipvsadm 1.31's options", () => {
    const options = async () => (await loadConfig(fixture('ipvsadm-1.31-options.rules'), { hosts: noHosts, services })).model;

    it('reads tunnels (--tun-type, --tun-port, --tun-*csum), -b, --pe, -o and -M', async () => {
      const model = await options();
      const [tunnels, hashed, maglev, flagged, sip, six, marked] = model.virtualServices;
      expect(tunnels?.realServers.map((server) => [server.address, server.forwarding, server.weight, server.tunnel])).toEqual([
        ['10.1.0.1', 'ipip', 1, undefined],
        ['10.1.0.2', 'ipip', 2, { type: 'gue', port: 6080, checksum: 'none' }],
        ['10.1.0.3', 'ipip', 1, { type: 'gue', port: 6081, checksum: 'csum' }],
        ['10.1.0.4', 'ipip', 1, { type: 'gue', port: 6082, checksum: 'remcsum' }],
        ['10.1.0.5', 'ipip', 1, { type: 'gre', checksum: 'none' }],
        ['10.1.0.6', 'ipip', 3, { type: 'gre', checksum: 'csum' }],
        ['10.1.0.7', 'masq', 1, undefined],
      ]);
      expect(hashed).toMatchObject({
        scheduler: 'sh',
        schedulerFlags: ['sh-fallback', 'sh-port'],
        persistence: { timeout: 600, netmask: '255.255.255.0' },
      });
      expect(maglev).toMatchObject({ scheduler: 'mh', schedulerFlags: ['mh-fallback', 'mh-port'] });
      expect(flagged).toMatchObject({ scheduler: 'rr', schedulerFlags: ['flag-1', 'flag-2', 'flag-3'] });
      expect(sip).toMatchObject({ protocol: 'udp', persistence: { timeout: 180 }, persistenceEngine: 'sip', onePacket: true });
      expect(six?.realServers.map((server) => server.tunnel)).toEqual([{ type: 'gue', port: 6080, checksum: 'csum' }, undefined]);
      expect(marked?.realServers[0]?.tunnel).toEqual({ type: 'gre', checksum: 'csum' });
    });

    it('programs what it reads: the table saves back to the same rules, line for line', async () => {
      expect(formatSave(desiredTable(await options(), { role: 'active' }).services)).toBe(readFixture('ipvsadm-1.31-options.rules'));
    });

    it('converts to YAML and back without loss', async () => {
      const model = await options();
      expect((await parseConfig(await toYaml(model), 'converted.yaml', { services })).model).toEqual(model);
    });

    it("reads ipvsadm 1.31's save of tunnel destinations (shigehiro-l3dsr)", async () => {
      const model = await rules(
        [
          '-A -t 192.168.50.100:53 -s rr',
          '-a -t 192.168.50.100:53 -r 192.168.52.100:53 -i -w 1 --tun-type ipip',
          '-A -u 192.168.50.100:53 -s rr',
          '-a -u 192.168.50.100:53 -r 192.168.52.100:53 -i -w 1 --tun-type ipip',
        ].join('\n'),
      );
      expect(model.network).toBe('tunnel');
      expect(model.virtualServices.flatMap((s) => s.realServers.map((r) => [r.forwarding, r.tunnel]))).toEqual([
        ['ipip', undefined],
        ['ipip', undefined],
      ]);
    });

    it('checks -b against the scheduler the service ends up with, in any order; -E keeps the one it has', async () => {
      const model = await rules(
        [
          '-A -t 192.0.2.1:80 -b sh-port -s sh',
          '-A -t 192.0.2.1:81 -s mh',
          '-E -t 192.0.2.1:81 -b mh-port,,flag-3',
          '-E -t 192.0.2.1:80 -b sh-fallback',
        ].join('\n'),
      );
      expect(model.virtualServices.map((service) => service.schedulerFlags)).toEqual([['sh-fallback'], ['mh-port', 'flag-3']]);
    });

    it('gives a tunnel anew with -i or tunnel options on -e, keeps it otherwise, drops it with another method', async () => {
      const model = await rules(
        [
          '-A -t 192.0.2.1:80',
          '-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gue --tun-port 6080',
          '-a -t 192.0.2.1:80 -r 10.0.0.2 -i --tun-type gue --tun-port 6080',
          '-a -t 192.0.2.1:80 -r 10.0.0.3 -i --tun-type gue --tun-port 6080',
          '-a -t 192.0.2.1:80 -r 10.0.0.4 -i --tun-type gue --tun-port 6080',
          '-e -t 192.0.2.1:80 -r 10.0.0.1 -w 5',
          '-e -t 192.0.2.1:80 -r 10.0.0.2 -i',
          '-e -t 192.0.2.1:80 -r 10.0.0.3 -m',
          '-e -t 192.0.2.1:80 -r 10.0.0.4 --tun-type gre --tun-csum',
        ].join('\n'),
      );
      expect(model.virtualServices[0]?.realServers.map((server) => [server.weight, server.forwarding, server.tunnel?.type])).toEqual([
        [5, 'ipip', 'gue'],
        [1, 'ipip', undefined],
        [1, 'masq', undefined],
        [1, 'ipip', 'gre'],
      ]);
    });

    it("takes the sync daemon's --mcast-group, --mcast-port, --mcast-ttl and --sync-maxlen", async () => {
      const model = await rules(
        '--start-daemon master --mcast-interface eth1 --syncid 7 --mcast-group ff02::1:81 --mcast-port 8849 --mcast-ttl 2 --sync-maxlen 1400\n',
      );
      expect(model.sync).toMatchObject({
        enabled: true,
        interface: 'eth1',
        syncId: 7,
        port: 8849,
        group: 'ff02::1:81',
        ttl: 2,
        maxLength: 1400,
      });
      expect((await parseConfig(await toYaml(model), 'converted.yaml', { services })).model).toEqual(model);
    });

    it("refuses sync daemon settings out of ipvsadm's ranges, naming each option", async () => {
      const error = await configError(
        parseConfig(
          '--start-daemon backup --syncid 256 --mcast-group 192.0.2.1 --mcast-port 0 --mcast-ttl 256 --sync-maxlen 65508\n',
          'ipvsadm.rules',
          testOptions,
        ),
      );
      expect(error.diagnostics.map((d) => `${where(d)}: ${d.message}`)).toEqual([
        '1:32 --syncid: illegal syncid specified',
        '1:50 --mcast-group: invalid IPv4 mcast-group',
        '1:73 --mcast-port: illegal mcast-port specified',
        '1:87 --mcast-ttl: illegal mcast-ttl specified',
        '1:105 --sync-maxlen: illegal sync-maxlen specified',
      ]);
    });

    it('ignores --tun-info, a listing option', async () => {
      const { warnings } = await parseConfig('-A -t 192.0.2.10:80\n-L -n --tun-info\n', 'ipvsadm.rules', testOptions);
      expect(warnings.map(where)).toEqual(['2:1 -L']);
    });

    it.each([
      [
        '-a -t 192.0.2.1:80 -r 10.0.0.1 --tun-type gue --tun-port 1',
        '2:32 --tun-type',
        'Tunnel options conflict with forward method',
        '-g (direct routing, the default)',
      ],
      ['-a -t 192.0.2.1:80 -r 10.0.0.1 -m --tun-csum', '2:35 --tun-csum', 'Tunnel options conflict with forward method', '-m'],
      ['-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type vxlan', '2:46 --tun-type', 'illegal tunnel type specified', '"vxlan"'],
      ['-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gue --tun-port 65536', '2:61 --tun-port', 'illegal tunnel port specified', '"65536"'],
      [
        '-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type=gue',
        '2:46 --tun-type',
        "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        'none',
      ],
      [
        '-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-port 6080',
        '2:35 --tun-port',
        "Illegal 'tun-port' option with the 'ipip' tunnel type",
        '--tun-port',
      ],
      [
        '-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gre --tun-remcsum',
        '2:50 --tun-remcsum',
        "Illegal 'tun-remcsum' option with the 'gre' tunnel type",
        '--tun-remcsum',
      ],
      [
        '-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gue --tun-port 1 --tun-remcsum --tun-csum',
        // ipvsadm checks in its own order (port, nocsum, csum, remcsum), not the line's
        '2:63 --tun-remcsum',
        "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type",
        '--tun-remcsum',
      ],
      ['-E -t 192.0.2.1:80 -b sh-port', '2:23 -b', "incompatible scheduler flag 'sh-port'", '-s wlc'],
      ['-E -t 192.0.2.1:80 -s sh --sched-flags sh-port,mh-port', '2:48 --sched-flags', "incompatible scheduler flag 'mh-port'", '-s sh'],
      ['-E -t 192.0.2.1:80 -b flag-1,flag-4', '2:30 -b', "invalid scheduler flag 'flag-4'", '"flag-4"'],
      ['-E -t 192.0.2.1:80 -b ,', '2:23 -b', 'no scheduler flag given', '","'],
      ['-E -t 192.0.2.1:80 --pe rtsp', '2:25 --pe', 'invalid value', '"rtsp"'],
    ])('refuses %s at file:line:column with the key', async (line, at, message, found) => {
      const error = await configError(parseConfig(`-A -t 192.0.2.1:80\n${line}\n`, 'ipvsadm.rules', testOptions));
      expect(error.diagnostics).toHaveLength(1);
      expect(where(error.diagnostics[0])).toBe(at);
      expect(error.diagnostics[0]).toMatchObject({ file: 'ipvsadm.rules', message, found });
    });
  });

  it('recognises rules by their content, whatever the file is called', async () => {
    const { format } = await parseConfig('# saved rules\n-A -t 192.0.2.10:80\n', '/etc/sysconfig/ipvsadm', testOptions);
    expect(format).toBe('ipvsadm');
  });
});
