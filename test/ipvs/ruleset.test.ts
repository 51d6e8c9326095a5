// Rulesets programmed by tandem over generic netlink look, to ipvsadm, exactly like the
// same rules loaded with `ipvsadm -R`; tandem's own listings match ipvsadm's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, servicesTableResolver, type HostResolver, type Model } from '../../src/config/index.js';
import { desiredTable, formatList, formatSave, IpvsReconciler, readTable } from '../../src/ipvs/index.js';
import { createLogger } from '../../src/log.js';
import { run } from '../support/netns.js';
import { ipvs, ipvsadm, resetIpvs } from './director.js';
import { model, realServer, virtualService } from '../support/ipvs-models.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });

interface Case {
  name: string;
  model: () => Promise<Model>;
  /** The same ruleset, as ipvsadm rules. */
  rules: string;
}

const fixtures = new URL('../fixtures/config/', import.meta.url);
const services = servicesTableResolver(readFileSync(new URL('services', fixtures), 'utf8'));
const noHosts: HostResolver = () => Promise.resolve([]);
const seed = (name: string) => async () => (await loadConfig(fileURLToPath(new URL(name, fixtures)), { hosts: noHosts, services })).model;
/** The lines ipvsadm -R takes: no comments or blank lines, no leading program name. */
const restorable = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => line.replace(/^\s*(\S*\/)?ipvsadm\s+/, ''))
    .join('\n') + '\n';

/** A rules file of the fixtures as ipvsadm -R takes it. */
const rulesOf = (name: string) => restorable(readFileSync(new URL(name, fixtures), 'utf8'));

// Real rule files from the field (SOURCES.md there), read in place, never copied.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const wildConfigs = resolve(repoRoot, '../shared/wild-configs');
const wildRuleFiles = readdirSync(wildConfigs).filter((file) => file.endsWith('.rules'));
assert.notEqual(wildRuleFiles.length, 0, `no .rules files in ${wildConfigs}`);
const wildCases: Case[] = wildRuleFiles.map((file) => ({
  name: `wild config ${file}`,
  // the guest's /etc/services, as ipvsadm -R resolves names there
  model: async () => (await loadConfig(join(wildConfigs, file), { hosts: noHosts })).model,
  rules: restorable(readFileSync(join(wildConfigs, file), 'utf8')),
}));

const cases: Case[] = [
  { name: "seed 000: ifw01's /etc/ipvsadm.rules", model: seed('seed-000-ipvsadm.rules'), rules: rulesOf('seed-000-ipvsadm.rules') },
  { name: 'seed 000: what ipvsadm -S -n printed on ifw01', model: seed('seed-000-save.rules'), rules: rulesOf('seed-000-save.rules') },
  {
    name: 'seed 000: the ipvsadm commands typed on ifw01',
    model: seed('seed-000-commands.rules'),
    rules: '-A -t 200.0.0.10:80 -p 600\n-a -t 200.0.0.10:80 -r 192.168.3.2 -m -w 100\n',
  },
  {
    name: "seed 001: Piranha's lvs.cf (firewall mark 80, persistent 30, NAT)",
    model: seed('seed-001-lvs.cf'),
    rules: '-A -f 80 -s wlc -p 30\n-a -f 80 -r 10.8.8.33:80 -m -w 1\n-a -f 80 -r 10.8.8.34:80 -m -w 1\n',
  },
  {
    name: 'seed 004: VS/TUN with service names',
    model: seed('seed-004-vs-tun.rules'),
    rules: [
      '-A -t 192.168.1.176:telnet -s wlc -p',
      '-A -t 192.168.1.176:ssh -s wlc -p',
      '-a -t 192.168.1.176:telnet -r 192.168.1.175 -i -w 3',
      '-a -t 192.168.1.176:ssh -r 192.168.1.175 -i -w 3',
      '',
    ].join('\n'),
  },
  {
    name: 'ipvsadm 1.31: tunnels (ipip, gue with port and checksums, gre), -b, --pe sip, -o, -M',
    model: seed('ipvsadm-1.31-options.rules'),
    rules: rulesOf('ipvsadm-1.31-options.rules'),
  },
  {
    name: 'every kind of service and destination tandem programs',
    model: () =>
      Promise.resolve(
        model([
          virtualService('web', '198.51.100.10', {
            scheduler: 'wrr',
            persistence: { timeout: 1800, netmask: '255.255.255.0' },
            realServers: [
              realServer('10.0.0.1', { weight: 3 }),
              realServer('10.0.0.2', { port: 8080, forwarding: 'gate', weight: 0 }),
              realServer('10.0.0.3', { forwarding: 'ipip' }),
              realServer('10.0.0.4', { active: false }),
            ],
          }),
          virtualService('dns', '198.51.100.10', {
            protocol: 'udp',
            port: 53,
            scheduler: 'sh',
            onePacket: true,
            realServers: [realServer('10.0.0.5')],
          }),
          virtualService('diameter', '198.51.100.11', {
            protocol: 'sctp',
            port: 3868,
            scheduler: 'rr',
            realServers: [realServer('10.0.0.6')],
          }),
          virtualService('all-ports', '198.51.100.12', { port: 0, persistence: { timeout: 300 }, realServers: [realServer('10.0.0.7')] }),
          virtualService('web6', '2001:db8::10', {
            scheduler: 'lc',
            persistence: { timeout: 60, netmask: '64' },
            realServers: [realServer('2001:db8:1::1', { forwarding: 'gate', weight: 2 }), realServer('2001:db8:1::2', { port: 8443 })],
          }),
          virtualService('marked6', undefined, {
            fwmark: 7,
            family: 6,
            port: 0,
            scheduler: 'rr',
            realServers: [realServer('2001:db8:1::3', { forwarding: 'ipip' })],
          }),
          virtualService('inactive', '198.51.100.13', { active: false, realServers: [realServer('10.0.0.8')] }),
        ]),
      ),
    rules: [
      '-A -t 198.51.100.10:80 -s wrr -p 1800 -M 255.255.255.0',
      '-a -t 198.51.100.10:80 -r 10.0.0.1:80 -m -w 3',
      '-a -t 198.51.100.10:80 -r 10.0.0.2:8080 -g -w 0',
      '-a -t 198.51.100.10:80 -r 10.0.0.3:80 -i -w 1',
      '-A -u 198.51.100.10:53 -s sh -o',
      '-a -u 198.51.100.10:53 -r 10.0.0.5:53 -m -w 1',
      '-A --sctp-service 198.51.100.11:3868 -s rr',
      '-a --sctp-service 198.51.100.11:3868 -r 10.0.0.6:3868 -m -w 1',
      '-A -t 198.51.100.12:0 -s wlc -p 300',
      '-a -t 198.51.100.12:0 -r 10.0.0.7:0 -m -w 1',
      '-A -t [2001:db8::10]:80 -s lc -p 60 -M 64',
      '-a -t [2001:db8::10]:80 -r [2001:db8:1::1]:80 -g -w 2',
      '-a -t [2001:db8::10]:80 -r [2001:db8:1::2]:8443 -m -w 1',
      '-A -f 7 -6 -s rr',
      '-a -f 7 -6 -r [2001:db8:1::3]:0 -i -w 1',
      '',
    ].join('\n'),
  },
];

async function programWithTandem(config: Model): Promise<void> {
  const result = await new IpvsReconciler(await ipvs(), logger).reconcile(desiredTable(config, { role: 'active' }), 'test');
  assert.deepEqual(result.failures, []);
}

void describe('rulesets: tandem over generic netlink against ipvsadm -R', { timeout: 120_000 }, () => {
  beforeEach(resetIpvs);

  for (const { name, model: config, rules } of [...cases, ...wildCases]) {
    void it(name, async () => {
      await programWithTandem(await config());
      const kernel = await ipvs();
      const byTandem = { list: await ipvsadm(['-Ln']), save: await ipvsadm(['-S', '-n']) };
      // tandem's own listings of what it programmed, as ipvsadm prints them
      assert.equal(formatList(await readTable(kernel), { info: await kernel.info() }), byTandem.list);
      assert.equal(formatSave(await readTable(kernel)), byTandem.save);

      await ipvsadm(['-C']);
      await ipvsadm(['-R'], rules);
      assert.equal(await ipvsadm(['-Ln']), byTandem.list);
      assert.equal(await ipvsadm(['-S', '-n']), byTandem.save);
    });
  }

  void it('thresholds, which ipvsadm -S leaves out', async () => {
    await programWithTandem(
      model([
        virtualService('limited', '198.51.100.20', { realServers: [realServer('10.0.0.1', { upperThreshold: 100, lowerThreshold: 10 })] }),
      ]),
    );
    const thresholds = await ipvsadm(['-Ln', '--thresholds']);
    assert.match(thresholds, /10\.0\.0\.1:80 +100 +10 /);
    const saved = formatSave(await readTable(await ipvs()));
    await ipvsadm(['-C']);
    await ipvsadm(['-R'], saved);
    assert.equal(await ipvsadm(['-Ln', '--thresholds']), thresholds);
  });

  void it('`tandem ipvs` and `tandem ipvs --save` print what ipvsadm -Ln and -S -n print', async () => {
    const everything = cases.at(-1)!;
    await programWithTandem(await everything.model());
    // side by side: each start of the built CLI takes ~10 s in the emulated guest
    const [list, save] = await Promise.all([
      run('node', ['dist/cli/main.js', 'ipvs']),
      run('node', ['dist/cli/main.js', 'ipvs', '--save']),
    ]);
    assert.equal(list.stdout, await ipvsadm(['-Ln']));
    assert.equal(save.stdout, await ipvsadm(['-S', '-n']));
  });
});
