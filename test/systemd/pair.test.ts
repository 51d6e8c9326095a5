// The Debian package on the ifw01/ifw02 pair under a real systemd: PID 1 of the test VM
// (test/systemd/run boots Debian's kernel with the host's systemd as init, so IPVS is
// there). ifw01 is the VM itself: the package installed with dpkg, its unit
// tandem.service joined to ifw01's network namespace by a drop-in. ifw02 is a second
// installation (dpkg --root=/srv/ifw02) with its own /etc/tandem, run as a copy of its
// unit that sees ifw02's files at the usual paths (bind mounts), so the two nodes can
// run different versions during the upgrade. The scenarios follow README's "Installing
// on a pair" and "Upgrading", in order, with one pair of daemons.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { sendControlRequest, type DaemonStatus } from '../../src/control/index.js';
import { Lab, run, type Host } from '../support/netns.js';
import { until as poll } from '../support/until.js';

const packages = { old: process.env.TANDEM_SYSTEMD_DEB ?? '', next: process.env.TANDEM_SYSTEMD_NEXT_DEB ?? '' };
const vip = '198.51.100.10';
const gateway = '192.168.3.254';
const ifw02Root = '/srv/ifw02';
/** The daemon's capabilities as the unit grants them: NET_BIND_SERVICE, NET_ADMIN, NET_RAW, SYS_NICE. */
const unitCapabilities = (1n << 10n) | (1n << 12n) | (1n << 13n) | (1n << 23n);

interface Node {
  name: 'ifw01' | 'ifw02';
  unit: string;
  socket: string;
  /** Its /etc/tandem, as seen from outside the unit. */
  etc: string;
  host: Host;
  addresses: [string, string];
}

interface JournalEntry {
  event?: string;
  [field: string]: unknown;
}

/** A progress line: the setup alone takes minutes under emulation. */
const step = (text: string) => process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${text}\n`);

const systemctl = (...args: string[]) =>
  run('systemctl', args).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}\n${await recentJournal()}`);
  });
/**
 * For both drop-ins: under emulation a start of the CLI (ExecReload's `tandem reload`,
 * ExecStopPost's `tandem cleanup`) takes 30-90 s, longer than systemd's default limit
 * and the unit's 10 s for a stop. The daemon's own graceful stop is no slower.
 */
const slowCli = '# the CLI starts slowly in the emulated VM\nTimeoutStartSec=600\nTimeoutStopSec=600\n';

/** What the units said last, their state and the busiest processes, for a failure's message. */
async function recentJournal(): Promise<string> {
  const commands: [string, string[]][] = [
    ['systemctl', ['status', '--no-pager', '-n', '0', 'tandem', 'tandem-ifw02']],
    ['journalctl', ['-u', 'tandem', '-u', 'tandem-ifw02', '-n', '40', '-o', 'short-monotonic', '--no-pager']],
    ['ps', ['-eo', 'pid,cls,rtprio,pcpu,rss,args', '--sort=-pcpu']],
  ];
  const outputs = await Promise.all(
    commands.map(([command, args]) =>
      run(command, args).then(
        ({ stdout }) => stdout,
        (error: unknown) => String(error),
      ),
    ),
  );
  return outputs.map((output) => output.split('\n').slice(0, 50).join('\n')).join('\n');
}

/** Waits for `probe`; a timeout shows the units' recent journal. */
const until = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number) =>
  poll(what, probe, timeoutMs, recentJournal);
const tandem = async (...args: string[]) => (await run('/usr/sbin/tandem', args)).stdout;
const dpkgIfw02 = (...args: string[]) =>
  run('dpkg', [`--root=${ifw02Root}`, '--force-script-chrootless', '--force-depends', '--log=/dev/null', ...args]);

/** The unit's journal entries (`journalctl -o cat`: the JSON lines), optionally from a priority up. */
async function journal(node: Node, priority?: string): Promise<JournalEntry[]> {
  const { stdout } = await run('journalctl', ['-u', node.unit, '-o', 'cat', '--no-pager', ...(priority ? ['-p', priority] : [])]);
  return stdout.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as JournalEntry];
    } catch {
      return [];
    }
  });
}

async function status(node: Node): Promise<DaemonStatus> {
  const response = await sendControlRequest(node.socket, { command: 'status' });
  if (response.command !== 'status' || !response.ok) throw new Error(`status of ${node.name}: ${JSON.stringify(response)}`);
  return response.status;
}

async function holds(node: Node, address: string): Promise<boolean> {
  const { stdout } = await run('ip', ['-n', node.host.netns, '-o', 'addr', 'show']);
  return stdout.includes(` ${address}/`);
}

async function rules(node: Node): Promise<string> {
  return (await run('ip', ['netns', 'exec', node.host.netns, 'ipvsadm', '-S', '-n'])).stdout;
}

/** Edits /etc/tandem/tandem.yaml on ifw01 and copies it to ifw02, as the operator does. */
async function editConfig(nodes: Node[], edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<void> {
  const doc = parseDocument(await readFile('/etc/tandem/tandem.yaml', 'utf8'));
  edit(doc);
  await writeFile('/etc/tandem/tandem.yaml', doc.toString());
  for (const node of nodes) if (node.etc !== '/etc/tandem') await copyFile('/etc/tandem/tandem.yaml', `${node.etc}/tandem.yaml`);
}

void describe('the package on two directors under systemd', { timeout: 2_700_000 }, () => {
  let lab: Lab;
  let nodes: [Node, Node];
  let ifw01: Node;
  let ifw02: Node;
  let oldVersion: string;
  let nextVersion: string;

  /** [active, backup] once the pair has settled. */
  const settled = (timeoutMs = 300_000) =>
    until(
      'one ACTIVE and one BACKUP',
      async () => {
        const [a, b] = await Promise.all(nodes.map(status));
        if (a!.role === 'ACTIVE' && b!.role === 'BACKUP') return [nodes[0], nodes[1]] as const;
        if (b!.role === 'ACTIVE' && a!.role === 'BACKUP') return [nodes[1], nodes[0]] as const;
        return undefined;
      },
      timeoutMs,
    );

  before(async () => {
    assert.equal(process.env.TANDEM_IPVS_VM, '1', 'runs inside the test VM: bash test/systemd/run');
    assert.equal((await readFile('/proc/1/comm', 'utf8')).trim(), 'systemd', 'systemd is PID 1 (TANDEM_VM_INIT=systemd)');
    assert.ok(packages.old && packages.next, 'TANDEM_SYSTEMD_DEB and TANDEM_SYSTEMD_NEXT_DEB name the packages');
    oldVersion = (await run('dpkg-deb', ['-f', packages.old, 'Version'])).stdout.trim();
    nextVersion = (await run('dpkg-deb', ['-f', packages.next, 'Version'])).stdout.trim();
    // man-db's trigger would index the host's every man page, minutes under emulation
    await rm('/var/lib/man-db/auto-update', { force: true });

    // README, "Setting up ifw01 and ifw02", step 1 on both directors
    step(`installing ${oldVersion} for ifw01 (dpkg -i) and ifw02 (dpkg --root=${ifw02Root})`);
    for (const dir of ['info', 'updates', 'triggers']) await mkdir(`${ifw02Root}/var/lib/dpkg/${dir}`, { recursive: true });
    await writeFile(`${ifw02Root}/var/lib/dpkg/status`, '');
    const [installed] = await Promise.all([run('dpkg', ['-i', packages.old]), dpkgIfw02('-i', packages.old)]);
    assert.match(installed.stdout, /wrote a new heartbeat key/);

    step('the namespaces, the configuration, the units');
    lab = await Lab.create();
    const [publicSwitch, serverSwitch] = [await lab.addSwitch('br0'), await lab.addSwitch('br1')];
    const addNode = async (name: Node['name'], unit: string, socket: string, etc: string, addresses: [string, string]) => {
      const host = await lab.addHost(name);
      await lab.connect(host, 'eth0', publicSwitch, [`${addresses[0]}/24`]);
      await lab.connect(host, 'eth1', serverSwitch, [`${addresses[1]}/24`]);
      // README, "Forwarding for NAT": the host forwards, as a NAT director must
      await run('ip', ['netns', 'exec', host.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      return { name, unit, socket, etc, host, addresses };
    };
    ifw01 = await addNode('ifw01', 'tandem.service', '/run/tandem/tandem.sock', '/etc/tandem', ['198.51.100.11', '192.168.3.251']);
    ifw02 = await addNode('ifw02', 'tandem-ifw02.service', '/run/tandem-ifw02/tandem.sock', `${ifw02Root}/etc/tandem`, [
      '198.51.100.12',
      '192.168.3.252',
    ]);
    nodes = [ifw01, ifw02];

    // Step 2: the example the package installed, with timers the emulated VM keeps and
    // no health checks (no real servers here: the table keeps them with their weights).
    // Step 3: the same file and key on ifw02.
    await editConfig([], (doc) => {
      doc.setIn(['heartbeat', 'keepalive'], '500ms');
      doc.setIn(['heartbeat', 'deadtime'], '5s');
      doc.setIn(['virtual_services', 0, 'health_check'], doc.createNode({ kind: 'none' }));
    });
    await copyFile('/etc/tandem/tandem.yaml', `${ifw02.etc}/tandem.yaml`);
    await copyFile('/etc/tandem/authkey', `${ifw02.etc}/authkey`);

    await mkdir('/etc/systemd/system/tandem.service.d', { recursive: true });
    await writeFile(
      '/etc/systemd/system/tandem.service.d/netns.conf',
      `[Service]\nNetworkNamespacePath=/run/netns/${ifw01.host.netns}\n${slowCli}`,
    );
    await copyFile(`${ifw02Root}/usr/lib/systemd/system/tandem.service`, '/etc/systemd/system/tandem-ifw02.service');
    await mkdir('/etc/systemd/system/tandem-ifw02.service.d', { recursive: true });
    await writeFile(
      '/etc/systemd/system/tandem-ifw02.service.d/ifw02.conf',
      `# ifw02's namespace, installation, configuration and control socket
[Service]
NetworkNamespacePath=/run/netns/${ifw02.host.netns}
BindReadOnlyPaths=${ifw02Root}/usr/lib/tandem:/usr/lib/tandem ${ifw02Root}/etc/tandem:/etc/tandem
RuntimeDirectory=
RuntimeDirectory=tandem-ifw02
BindPaths=/run/tandem-ifw02:/run/tandem
${slowCli}`,
    );
    await systemctl('daemon-reload');
    // Step 5
    step('systemctl enable --now');
    await systemctl('enable', '--now', ifw01.unit, ifw02.unit);
  });

  after(async () => {
    await systemctl('stop', ifw01.unit, ifw02.unit).catch(() => undefined);
    await lab.destroy();
  });

  void it('runs as the unit on both: one ACTIVE with the VIP, status shows the peer and the versions', async () => {
    const [active, backup] = await settled();
    assert.ok(await holds(active, vip));
    assert.ok(await holds(active, gateway));
    assert.ok(!(await holds(backup, vip)));
    assert.match(await rules(active), /-a -t 198\.51\.100\.10:80 -r 192\.168\.3\.2:80 -m -w 100/);
    // Step 6: `tandem status` on both
    const shown = await tandem('status');
    assert.match(shown, /^ifw01 \(cluster lic\): (ACTIVE|BACKUP)/);
    assert.match(shown, new RegExp(`version: tandem ${oldVersion.replaceAll('.', '\\.')}\\n`));
    assert.match(shown, /peer ifw02: (ACTIVE|BACKUP)/);
    assert.match(await tandem('status', '--socket', ifw02.socket), /^ifw02 \(cluster lic\)/);
    // least privilege, as the unit grants it
    for (const node of nodes) {
      const pid = (await systemctl('show', '-P', 'MainPID', node.unit)).stdout.trim();
      const capabilities = /^CapEff:\s*([0-9a-f]+)$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      assert.equal(BigInt(`0x${capabilities ?? '0'}`), unitCapabilities, `${node.unit}'s capabilities`);
    }
  });

  void it('systemctl reload changes a weight without a role change', async () => {
    const [active, backup] = await settled();
    const before = await Promise.all(nodes.map(status));
    const transitions = await Promise.all(nodes.map(async (node) => (await journal(node)).filter((e) => e.event === 'role.change').length));
    await editConfig(nodes, (doc) => doc.setIn(['virtual_services', 0, 'real_servers', 0, 'weight'], 50));
    await systemctl('reload', active.unit);
    await systemctl('reload', backup.unit);
    await until('the new weight in the table', async () => (await rules(active)).includes('-r 192.168.3.2:80 -m -w 50'), 60_000);
    const after = await Promise.all(nodes.map(status));
    assert.deepEqual(
      after.map((s) => [s.role, s.term]),
      before.map((s) => [s.role, s.term]),
    );
    for (const [i, node] of nodes.entries()) {
      const entries = await journal(node);
      assert.equal(entries.filter((e) => e.event === 'role.change').length, transitions[i], `${node.name} changed role`);
      assert.ok(entries.some((e) => e.event === 'config.reload' && e.ok === true));
    }
  });

  void it('journalctl -p warning shows a provoked split brain', async () => {
    await settled();
    // A firewall that drops the heartbeats (UDP 539) on both: each takes the other for dead.
    const firewall = (node: Node, rules: string) => run('ip', ['netns', 'exec', node.host.netns, 'nft', '-f', '-'], rules);
    for (const node of nodes)
      await firewall(node, 'table inet ops {\n  chain input {\n    type filter hook input priority 0;\n    udp dport 539 drop\n  }\n}\n');
    await until('both ACTIVE', async () => (await Promise.all(nodes.map(status))).every((s) => s.role === 'ACTIVE'), 60_000);
    for (const node of nodes) await firewall(node, 'delete table inet ops\n');
    await settled(60_000);
    const warnings = (await Promise.all(nodes.map((node) => journal(node, 'warning')))).flat();
    assert.ok(
      warnings.some((e) => e.event === 'role.split-brain'),
      `role.split-brain in journalctl -p warning: ${warnings.map((e) => e.event).join(' ')}`,
    );
    assert.ok(warnings.some((e) => e.event === 'peer.dead'));
    // and the priority is the event's own: role changes are info, not shown
    assert.ok(!warnings.some((e) => e.event === 'role.change'));
  });

  void it('systemctl kill -s KILL on the active: the cleanup leaves no VIP there, the peer holds it', async () => {
    const [active, backup] = await settled();
    const cleanups = (await journal(active)).filter((e) => e.event === 'cleanup.done').length;
    await systemctl('kill', '-s', 'KILL', active.unit);
    const done = await until(
      "systemd's ExecStopPost cleanup",
      async () => (await journal(active)).filter((e) => e.event === 'cleanup.done')[cleanups],
      300_000,
    );
    assert.deepEqual([...(done.removed as string[])].sort(), [`${gateway}/24 eth1`, `${vip}/32 eth0`]);
    assert.ok(!(await holds(active, vip)));
    assert.ok(!(await holds(active, gateway)));
    assert.equal(await rules(active), '');
    await until('the peer holds the VIP', async () => (await status(backup)).role === 'ACTIVE' && (await holds(backup, vip)), 60_000);
    // Restart=on-failure brings the killed node back, as BACKUP
    assert.deepEqual(await settled(), [backup, active]);
    assert.ok(!(await holds(active, vip)));
    assert.notEqual((await systemctl('show', '-P', 'NRestarts', active.unit)).stdout.trim(), '0');
  });

  void it('upgrades one node at a time, the backup first; status shows both versions meanwhile', async () => {
    /** README, "Upgrading", steps 1 to 3 on one node; resolves with its `tandem status`. */
    const upgrade = async (node: Node, peer: Node) => {
      // `tandem standby` (each start of the CLI costs half a minute in the emulated VM)
      const standby = await sendControlRequest(node.socket, { command: 'standby' }, 120_000);
      assert.ok(standby.ok, JSON.stringify(standby));
      assert.equal((await status(node)).role, 'STANDBY');
      await until(
        `${peer.name} ACTIVE with the VIP`,
        async () => (await status(peer)).role === 'ACTIVE' && (await holds(peer, vip)),
        120_000,
      );
      if (node === ifw01) {
        await run('dpkg', ['-i', packages.next]);
      } else {
        // on a host of its own the package's postinst restarts the daemon; here a
        // restart of its unit stands in for that
        await dpkgIfw02('-i', packages.next);
        await systemctl('restart', node.unit);
      }
      await until(`${node.name} on the new version`, async () => (await status(node)).version === nextVersion, 300_000);
      assert.deepEqual(await settled(), [peer, node], 'back as BACKUP, no resume needed');
      assert.ok(!(await holds(node, vip)));
      return tandem('status', '--socket', node.socket);
    };
    const [active, backup] = await settled();
    const during = await upgrade(backup, active);
    assert.match(during, new RegExp(`^  version: tandem ${escape(nextVersion)}$`, 'm'));
    assert.match(during, new RegExp(`^  version: tandem ${escape(oldVersion)} \\(differs from ours`, 'm'));
    assert.equal((await status(active)).version, oldVersion);
    assert.match(await readFile('/etc/tandem/tandem.yaml', 'utf8'), /weight: 50/, 'the configuration survives the upgrade');

    const done = await upgrade(active, backup);
    assert.ok(!done.includes('differs from ours'), done);
    assert.deepEqual(
      (await Promise.all(nodes.map(status))).map((s) => s.version),
      [nextVersion, nextVersion],
    );
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
