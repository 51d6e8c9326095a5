// Malformed configurations of every format: each must be refused with the exact place
// (file:line:column) and key of its first error, all errors at once, and no stack trace.
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runCli, type BuiltCli } from '../../support/built-cli.js';
import { formatDiagnostic, loadConfig, maxConfigBytes, parseConfig } from '../../../src/config/index.js';
import { configError, fixture, testOptions, where } from './helpers.js';

interface Case {
  name: string;
  /** The file name decides the format (as on disk). */
  file: string;
  text: string;
  /** `line:column key` of the first error. */
  at: string;
  /** A part of its formatted text. */
  says: string;
}

const lvsCf = (body: string): string => `primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\n${body}`;
const virtual = (name: string, address: string, servers = 'server a {\n address = 10.1.0.1\n active = 1\n}'): string =>
  `virtual ${name} {\n active = 1\n address = ${address} eth0:1\n port = 80\n${servers}\n}\n`;

const cases: Case[] = [
  // Piranha lvs.cf
  {
    name: 'lvs.cf: a virtual block cut off',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n active = 1\n address = 10.0.0.10 eth0:1\n'),
    at: '4:1 virtual web',
    says: 'never closed',
  },
  {
    name: 'lvs.cf: a server block cut off',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n active = 1\n address = 10.0.0.10 eth0:1\n server a {\n  address = 10.1.0.1\n'),
    at: '4:1 virtual web',
    says: "block 'virtual web' is never closed",
  },
  { name: 'lvs.cf: unknown keyword', file: 'lvs.cf', text: lvsCf('keepalve = 2\n'), at: '4:1 keepalve', says: "did you mean 'keepalive'" },
  {
    name: 'lvs.cf: unknown keyword in a virtual block',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n  schedular = rr\n}\n'),
    at: '5:3 schedular',
    says: 'unknown keyword in a virtual block',
  },
  {
    name: 'lvs.cf: unknown keyword in a server block',
    file: 'lvs.cf',
    text: lvsCf(virtual('web', '10.0.0.10', 'server a {\n address = 10.1.0.1\n wieght = 2\n}')),
    at: '10:2 wieght',
    says: "did you mean 'weight'",
  },
  { name: 'lvs.cf: bad address', file: 'lvs.cf', text: 'primary = 10.0.0.300\n', at: '1:11 primary', says: 'invalid address' },
  { name: 'lvs.cf: bad number', file: 'lvs.cf', text: lvsCf('keepalive = two\n'), at: '4:13 keepalive', says: 'invalid value' },
  { name: 'lvs.cf: fractional seconds', file: 'lvs.cf', text: lvsCf('deadtime = 1.5\n'), at: '4:12 deadtime', says: 'invalid value' },
  {
    name: 'lvs.cf: keepalive not below deadtime',
    file: 'lvs.cf',
    text: lvsCf('keepalive = 5\ndeadtime = 5\n'),
    at: '4:13 keepalive',
    says: 'shorter than deadtime',
  },
  { name: 'lvs.cf: no equal sign', file: 'lvs.cf', text: lvsCf('keepalive 2\n'), at: '4:11 keepalive', says: 'equal sign' },
  { name: 'lvs.cf: no value', file: 'lvs.cf', text: lvsCf('keepalive =\n'), at: '4:1 keepalive', says: 'missing value' },
  { name: 'lvs.cf: two values', file: 'lvs.cf', text: lvsCf('keepalive = 2 3\n'), at: '4:15 keepalive', says: 'unexpected extra value' },
  { name: 'lvs.cf: stray closing brace', file: 'lvs.cf', text: lvsCf('}\n'), at: '4:1 }', says: 'without an open block' },
  {
    name: 'lvs.cf: unterminated quote',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n send = "GET / HTTP/1.0\n}\n'),
    at: '5:9 send',
    says: 'quotation mismatch',
  },
  {
    name: 'lvs.cf: duplicate virtual service',
    file: 'lvs.cf',
    text: lvsCf(virtual('web', '10.0.0.10') + virtual('www', '10.0.0.10')),
    at: '13:1 virtual www',
    says: 'duplicate virtual service',
  },
  {
    name: 'lvs.cf: real server twice',
    file: 'lvs.cf',
    text: lvsCf(
      virtual('web', '10.0.0.10', 'server a {\n address = 10.1.0.1\n active = 1\n}\nserver b {\n address = 10.1.0.1\n active = 1\n}'),
    ),
    at: '12:1 server b',
    says: 'listed twice',
  },
  {
    name: 'lvs.cf: unknown scheduler',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n active = 1\n address = 10.0.0.10 eth0:1\n scheduler = fastest\n}\n'),
    at: '7:14 scheduler',
    says: 'unknown scheduler',
  },
  {
    name: 'lvs.cf: bad netmask',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n vip_nmask = 255.0.255.0\n}\n'),
    at: '5:14 vip_nmask',
    says: 'invalid value',
  },
  {
    name: 'lvs.cf: bad boolean',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n active = yes\n}\n'),
    at: '5:11 active',
    says: 'invalid value',
  },
  { name: 'lvs.cf: no primary', file: 'lvs.cf', text: 'keepalive = 2\n', at: '1:1 primary', says: 'no primary director' },
  {
    name: 'lvs.cf: nat_router without device',
    file: 'lvs.cf',
    text: lvsCf('nat_router = 10.8.8.30\n'),
    at: '4:14 nat_router',
    says: 'missing value',
  },
  { name: 'lvs.cf: unknown network type', file: 'lvs.cf', text: lvsCf('network = bridge\n'), at: '4:11 network', says: 'invalid value' },
  {
    name: 'lvs.cf: unknown service name as port',
    file: 'lvs.cf',
    text: lvsCf('virtual web {\n port = gopherplus\n}\n'),
    at: '5:9 port',
    says: 'invalid value',
  },
  {
    name: 'lvs.cf: unresolvable host name',
    file: 'lvs.cf',
    text: 'primary = no-such-director\n',
    at: '1:11 primary',
    says: 'cannot resolve host name',
  },
  { name: 'lvs.cf: virtual without a name', file: 'lvs.cf', text: lvsCf('virtual {\n}\n'), at: '4:9 virtual', says: 'needs a name' },
  {
    name: 'lvs.cf: no brace after the name',
    file: 'lvs.cf',
    text: lvsCf('virtual web\n active = 1\n}\n'),
    at: '4:12 virtual web',
    says: "expected '{'",
  },
  {
    name: 'lvs.cf: a keyword named like a JavaScript property',
    file: 'lvs.cf',
    text: lvsCf('valueOf = 1\nvirtual web {\n constructor = 2\n}\n'),
    at: '4:1 valueOf',
    says: 'unknown keyword',
  },
  // ipvsadm rules
  {
    name: 'rules: -a before -A',
    file: 'ipvsadm.rules',
    text: '-a -t 192.0.2.10:80 -r 10.1.0.1 -m\n-A -t 192.0.2.10:80\n',
    at: '1:7 -t',
    says: 'Service not defined',
  },
  {
    name: 'rules: seed 000 missing port',
    file: fixture('seed-000-missing-port.rules'),
    text: '',
    at: '2:15 -t',
    says: 'Service not defined',
  },
  { name: 'rules: unknown option', file: 'ipvsadm.rules', text: '-A -t 192.0.2.10:80 -Q\n', at: '1:21 -Q', says: 'unknown option' },
  { name: 'rules: bad service address', file: 'ipvsadm.rules', text: '-A -t 300.0.0.1:80\n', at: '1:7 -t', says: 'invalid address' },
  {
    name: 'rules: weight out of range',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.1.0.1 -w 70000\n',
    at: '2:36 -w',
    says: 'illegal weight',
  },
  {
    name: 'rules: bad persistence timeout',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80 -p abc\n',
    at: '1:24 -p',
    says: 'invalid timeout',
  },
  {
    name: 'rules: zero port without persistence',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10 -s rr\n',
    at: '1:7 -t',
    says: 'zero port specified for non-persistent service',
  },
  {
    name: 'rules: service added twice',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80\n-A -t 192.0.2.10:80 -s rr\n',
    at: '2:7 -t',
    says: 'Service already exists',
  },
  {
    name: 'rules: real server added twice',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.1.0.1\n-a -t 192.0.2.10:80 -r 10.1.0.1:80\n',
    at: '3:24 -r',
    says: 'Destination already exists',
  },
  {
    name: 'rules: unknown scheduler',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80 -s fastest\n',
    at: '1:24 -s',
    says: 'unknown scheduler',
  },
  {
    name: 'rules: option without its value',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80 -s\n',
    at: '1:21 -s',
    says: 'requires a value',
  },
  {
    name: 'rules: two commands in one invocation',
    file: 'ipvsadm.rules',
    text: '-A -a -t 192.0.2.10:80\n',
    at: '1:4 -a',
    says: 'two commands',
  },
  {
    name: 'rules: unknown service name',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:gopherplus\n',
    at: '1:7 -t',
    says: "unknown port or service name 'gopherplus'",
  },
  {
    name: 'rules: udp service name that is tcp only',
    file: 'ipvsadm.rules',
    text: '-A -u 192.0.2.10:telnet\n',
    at: '1:7 -u',
    says: 'for udp',
  },
  // lvs-director lvs.conf
  {
    name: 'lvs.conf: unknown variable',
    file: 'lvs.conf',
    text: 'VIP=192.0.2.8\nTPORTS=telnet\nRIP="epsg9010"\n',
    at: '3:1 RIP',
    says: "did you mean 'RIPS'",
  },
  {
    name: 'lvs.conf: unterminated quote',
    file: 'lvs.conf',
    text: 'VIP=192.0.2.8\nTPORTS=telnet\nRIPS="epsg9010 \\\nepsg9011\n',
    at: '3:6 RIPS',
    says: 'unterminated quotation',
  },
  {
    name: 'lvs.conf: unresolvable real server',
    file: 'lvs.conf',
    text: 'VIP=192.0.2.8\nTPORTS="telnet"\nRIPS="epsg9010 \\\n  nosuchhost \\\n"\n',
    at: '4:3 RIPS',
    says: 'cannot resolve host name',
  },
  {
    name: 'lvs.conf: undefined variable',
    file: 'lvs.conf',
    text: 'VIP=192.0.2.8\nTPORTS="$WEB"\n',
    at: '2:9 TPORTS',
    says: 'not set by an earlier line',
  },
  {
    name: 'lvs.conf: unquoted blank',
    file: 'lvs.conf',
    text: 'VIP=192.0.2.8\nTPORTS=telnet ssh\n',
    at: '2:15 -',
    says: 'unexpected text after the value',
  },
  { name: 'lvs.conf: no VIP', file: 'lvs.conf', text: 'TPORTS=telnet\nRIPS=epsg9010\n', at: '1:1 VIP', says: 'no virtual IP address' },
  // tandem.yaml
  {
    name: 'yaml: unknown key',
    file: 'tandem.yaml',
    text: 'cluster: pair\nheartbeat:\n  keepalive: 100ms\n  dedtime: 1s\n',
    at: '4:3 heartbeat.dedtime',
    says: "did you mean 'deadtime'",
  },
  {
    name: 'yaml: duration without unit',
    file: 'tandem.yaml',
    text: 'heartbeat:\n  keepalive: 100\n',
    at: '2:14 heartbeat.keepalive',
    says: 'invalid value',
  },
  { name: 'yaml: duplicate key', file: 'tandem.yaml', text: 'cluster: a\ncluster: b\n', at: '2:1 -', says: 'YAML' },
  { name: 'yaml: syntax error', file: 'tandem.yaml', text: 'nodes: [ {name: a\ncluster: b\n', at: '2:1 -', says: 'YAML' },
  { name: 'yaml: wrong type', file: 'tandem.yaml', text: 'nodes: {name: a}\n', at: '1:8 nodes', says: 'expected a list' },
  {
    name: 'yaml: keepalive not below deadtime',
    file: 'tandem.yaml',
    text: 'heartbeat:\n  keepalive: 1s\n  deadtime: 800ms\n',
    at: '2:14 heartbeat.keepalive',
    says: 'shorter than deadtime',
  },
  {
    name: 'yaml: duplicate virtual service',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - {name: a, vip: {address: 192.0.2.10}, port: 80}\n  - {name: b, vip: {address: 192.0.2.10}, port: 80}\n',
    at: '3:5 virtual_services[1]',
    says: 'duplicate virtual service',
  },
  {
    name: 'yaml: label of another device',
    file: 'tandem.yaml',
    text: 'nat_router:\n  address: 192.168.3.254/24\n  device: eth1\n  label: eth0:1\n',
    at: '4:10 nat_router.label',
    says: 'start with the device name',
  },
  {
    name: 'yaml: a VIP with a /0 prefix',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - name: sip\n    vip: {address: 192.0.2.60/0, device: eth0}\n    port: 5060\n',
    at: '3:20 virtual_services[0].vip.address',
    says: 'a /0 prefix would route every address to the device',
  },
  {
    name: 'yaml: a NAT gateway with a /0 prefix',
    file: 'tandem.yaml',
    text: 'nat_router: {address: "::/0", device: eth1}\n',
    at: '1:23 nat_router.address',
    says: 'a prefix from 1 to 128',
  },
  {
    name: 'yaml: three nodes',
    file: 'tandem.yaml',
    text: 'nodes:\n  - {name: a, address: 10.0.0.1}\n  - {name: b, address: 10.0.0.2}\n  - {name: c, address: 10.0.0.3}\n',
    at: '2:3 nodes',
    says: 'at most 2',
  },
  {
    name: 'yaml: a regular expression that does not compile',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - name: w\n    vip: {address: 192.0.2.1}\n    port: 25\n    health_check: {expect: "^220 (ESMTP", use_regex: true}\n',
    at: '5:28 virtual_services[0].health_check.expect',
    says: 'invalid regular expression',
  },
  {
    name: 'yaml: a backreference, which cannot be matched in linear time',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - name: w\n    vip: {address: 192.0.2.1}\n    port: 80\n    health_check:\n      http: {path: /, body_regex: "(a)\\\\1"}\n',
    at: '6:35 virtual_services[0].health_check.http.body_regex',
    says: 'backreferences',
  },
  {
    name: 'lvs.cf: lookaround in expect',
    file: 'lvs.cf',
    text: 'service = lvs\nprimary = 192.0.2.1\nvirtual web {\n  address = 192.0.2.10 eth0:1\n  port = 80\n  use_regex = 1\n  expect = "HTTP(?!/1.0)"\n}\n',
    at: '7:12 expect',
    says: 'lookaround',
  },
  {
    name: 'yaml: a TCP check on an SCTP service',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - {name: s, vip: {address: 192.0.2.1}, port: 3868, protocol: sctp}\n',
    at: '2:5 virtual_services[0].health_check.kind',
    says: 'cannot probe an SCTP service',
  },
  {
    name: 'yaml: a key named like a JavaScript property',
    file: 'tandem.yaml',
    text: 'heartbeat:\n  __proto__: {keepalive: 1ms}\n',
    at: '2:3 heartbeat.__proto__',
    says: 'unknown key',
  },
  { name: 'yaml: not a mapping', file: 'tandem.yaml', text: '- a\n- b\n', at: '1:1 -', says: 'must be a mapping' },
  {
    name: 'yaml: bad real server address',
    file: 'tandem.yaml',
    text: 'virtual_services:\n  - name: web\n    vip: {address: 192.0.2.10}\n    port: 80\n    real_servers:\n      - address: 10.1.0\n',
    at: '6:18 virtual_services[0].real_servers[0].address',
    says: 'IPv4 or IPv6',
  },
  // any format
  { name: 'empty file', file: 'lvs.cf', text: '', at: '1:1 -', says: 'empty' },
  { name: 'only blanks', file: 'tandem.yaml', text: '  \n\n\t\n', at: '1:1 -', says: 'empty' },
  { name: 'binary garbage', file: 'lvs.cf', text: 'primary = 10.0.0.1\nkeep\u0000\u0001\u00ff', at: '2:5 -', says: 'binary data' },
  {
    name: 'bytes that are not UTF-8',
    file: 'ipvsadm.rules',
    text: '-A -t 192.0.2.10:80 -s \ufffd\ufffd\n',
    at: '1:24 -',
    says: 'binary data',
  },
  {
    name: 'undetectable format',
    file: 'config',
    text: '\n# what is this\n  <xml>not a config</xml>\n',
    at: '3:3 -',
    says: 'cannot tell the configuration format',
  },
];

describe('malformed configurations', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('$name: refused at $at', async ({ file, text, at, says }) => {
    const load = file.startsWith('/') ? loadConfig(file, testOptions) : parseConfig(text, file, testOptions);
    const error = await configError(load);
    const [first] = error.diagnostics;
    expect(where(first)).toBe(at);
    expect(formatDiagnostic(first!)).toContain(says);
    for (const diagnostic of error.diagnostics) {
      expect(diagnostic.severity).toBe('error');
      expect(diagnostic.file).toBe(file);
      expect(formatDiagnostic(diagnostic)).not.toMatch(/\n\s+at /);
    }
    expect(error.message).toBe(error.diagnostics.map(formatDiagnostic).join('\n'));
  });

  it('reports every error of a file at once', async () => {
    const text = lvsCf(
      'keepalive = two\nnetwork = bridge\nvirtual web {\n active = maybe\n scheduler = fastest\n server a {\n  address = 10.1.0.300\n }\n}\n',
    );
    const error = await configError(parseConfig(text, 'lvs.cf', testOptions));
    expect(error.diagnostics.map(where)).toEqual(['4:13 keepalive', '5:11 network', '7:11 active', '10:13 address']);
  });

  it('refuses a file over the limit by its size, before reading it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-config-'));
    try {
      const big = join(dir, 'lvs.cf');
      await writeFile(big, `primary = 10.0.0.1\n${'# padding padding padding padding padding padding\n'.repeat(210_000)}`);
      await truncate(big, maxConfigBytes + 10_000_000); // sparse: the size alone must refuse it
      const error = await configError(loadConfig(big, testOptions));
      expect(error.diagnostics).toHaveLength(1);
      expect(where(error.diagnostics[0])).toBe('1:1 -');
      expect(error.diagnostics[0]?.found).toBe(`${maxConfigBytes + 10_000_000} bytes`);
      expect(error.diagnostics[0]?.expected).toBe(`at most ${maxConfigBytes} bytes`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a string over the limit the same way', async () => {
    const line = '-A -t 192.0.2.10:80\n';
    const error = await configError(parseConfig(line.repeat(Math.ceil(maxConfigBytes / line.length) + 1), 'ipvsadm.rules', testOptions));
    expect(error.diagnostics.map(where)).toEqual(['1:1 -']);
  });

  it('stops listing errors after 100 in a file of garbage', async () => {
    const error = await configError(parseConfig('bogus = 1\n'.repeat(5000), 'lvs.cf', testOptions));
    expect(error.diagnostics).toHaveLength(101);
    expect(error.diagnostics[100]?.message).toContain('too many errors');
  });

  it('names an unreadable file without a line', async () => {
    const error = await configError(loadConfig('/nonexistent/tandem.yaml'));
    expect(formatDiagnostic(error.diagnostics[0]!)).toBe(
      '/nonexistent/tandem.yaml: error: cannot read the file: ENOENT (expected a readable file, found "/nonexistent/tandem.yaml")',
    );
  });
});

describe('malformed configurations through the CLI', () => {
  let cli: BuiltCli | undefined;
  const built = (): BuiltCli => {
    if (cli === undefined) throw new Error('the CLI was not built');
    return cli;
  };
  let dir: string;

  beforeAll(async () => {
    cli = await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'tandem-config-cli-'));
  }, 180_000);

  afterAll(async () => {
    await cli?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  const picked = cases.filter((c) =>
    ['lvs.cf: a virtual block cut off', 'lvs.cf: duplicate virtual service', 'yaml: unknown key', 'binary garbage', 'empty file'].includes(
      c.name,
    ),
  );

  it.each(picked)('check-config exits 2 for $name', async ({ file, text, at, says }) => {
    const path = join(dir, file);
    await writeFile(path, text);
    const result = await runCli(built(), ['check-config', path]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [line, column] = at.split(' ')[0]?.split(':') ?? [];
    expect(result.stderr).toContain(`${path}:${line}:${column}: error: `);
    expect(result.stderr).toContain(says);
    expect(result.stderr).not.toMatch(/\n\s+at |Error:/);
  });

  it('check-config exits 2 for seed 000\'s "Service not defined"', async () => {
    const result = await runCli(built(), ['check-config', fixture('seed-000-missing-port.rules')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${fixture('seed-000-missing-port.rules')}:2:15: error: -t: Service not defined: tcp 200.0.0.10:80`);
  });

  it('convert exits 2 and prints nothing on stdout for a bad file', async () => {
    const path = join(dir, 'bad.cf');
    await writeFile(path, lvsCf('keepalive = 5\ndeadtime = 1\n'));
    const result = await runCli(built(), ['convert', path, '--to', 'yaml']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${path}:4:13: error: keepalive: keepalive must be shorter than deadtime`);
  });

  it('exits 2 for a file that does not exist', async () => {
    const result = await runCli(built(), ['check-config', join(dir, 'missing.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot read the file: ENOENT');
  });
});
