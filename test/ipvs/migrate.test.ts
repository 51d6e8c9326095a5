// Migrating: a keepalived.conf or ldirectord.cf converted with `tandem convert --to yaml`
// and run by `tandem run` programs the IPVS table the original daemon programs from the
// original file, compared as `ipvsadm -S -n` prints it. Both run as standalone directors
// in the director's namespace; the real servers are unchecked (keepalived: no checker,
// ldirectord: checktype=on), so the tables do not wait for health checks.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { run, stopChild } from '../support/netns.js';
import { addresses, ipvsadm, resetIpvs } from './director.js';

const vip = addresses.vip;
/** On the VIP's subnet (director.ts's natLab uses its own links for it). */
const directorAddress = `${vip.replace(/\.\d+$/, '.250')}/24`;

const keepalivedConf = `global_defs {
  router_id director
}
virtual_server ${vip} 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  real_server 10.0.0.1 8080 {
    weight 3
  }
  real_server 10.0.0.2 8080 {
    weight 1
  }
}
virtual_server ${vip} 53 {
  lb_algo sh
  lb_kind DR
  protocol UDP
  ops
  real_server 10.0.0.3 53 {
  }
}
virtual_server fwmark 7 {
  lb_algo rr
  lb_kind TUN
  real_server 10.0.0.4 {
    weight 2
  }
}
`;

const ldirectordCf = `checkinterval=1
quiescent=no
virtual=${vip}:80
\treal=10.0.0.1:80 masq 3
\treal=10.0.0.2:80 masq
\tscheduler=wlc
\tpersistent=300
\tchecktype=on
virtual=${vip}:53
\treal=10.0.0.3:53 gate 2
\tprotocol=udp
\tscheduler=rr
\tchecktype=on
`;

/** What ldirectord's documentation says it runs for the file above (ipvsadm -A/-a per
 *  virtual and real), for a guest without ldirectord. */
const ldirectordCommands = [
  `-A -t ${vip}:80 -s wlc -p 300`,
  `-a -t ${vip}:80 -r 10.0.0.1:80 -m -w 3`,
  `-a -t ${vip}:80 -r 10.0.0.2:80 -m -w 1`,
  `-A -u ${vip}:53 -s rr`,
  `-a -u ${vip}:53 -r 10.0.0.3:53 -g -w 2`,
  '',
].join('\n');

/** The table as `ipvsadm -S -n` lines, in a stable order. */
async function savedTable(): Promise<string[]> {
  return (await ipvsadm(['-S', '-n'])).split('\n').filter(Boolean).sort();
}

/** Waits until the table has `lines` lines and holds still for a second. */
async function settledTable(lines: number, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let previous: string[] = [];
  for (;;) {
    const table = await savedTable();
    if (table.length === lines && table.join('\n') === previous.join('\n')) return table;
    if (Date.now() > deadline) assert.fail(`the table did not settle at ${lines} lines: ${table.join(' | ')}`);
    previous = table;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function hasCommand(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

void describe('migrating: converted files program the table the original daemons do', { timeout: 300_000 }, () => {
  let dir: string;
  const children: ChildProcess[] = [];
  const start = (command: string, args: string[]): ChildProcess => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
    return child;
  };

  beforeEach(async () => {
    await resetIpvs();
    // What an operator's director has: an address of its own on the VIPs' subnet (the VIPs
    // are claimed on that device) and forwarding on for VS/NAT.
    await run('ip', ['link', 'add', 'mig0', 'type', 'veth', 'peer', 'name', 'mig1']);
    await run('ip', ['address', 'add', directorAddress, 'dev', 'mig0']);
    await run('ip', ['link', 'set', 'mig0', 'up']);
    await run('ip', ['link', 'set', 'mig1', 'up']); // an interface counts as the host's only while it runs
    await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    dir = await mkdtemp(join(tmpdir(), 'tandem-migrate-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await stopChild(child);
    await resetIpvs();
    await run('ip', ['link', 'del', 'mig0']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  /** `tandem convert --to yaml` of `original`, then `tandem run` on the result. */
  async function tableOfTandem(original: string, lines: number): Promise<string[]> {
    const converted = await run('node', ['dist/cli/main.js', 'convert', original, '--to', 'yaml']);
    const yaml = join(dir, 'tandem.yaml');
    await writeFile(yaml, converted.stdout);
    const daemon = start('node', ['dist/cli/main.js', 'run', '--config', yaml, '--node', 'director', '--socket', join(dir, 'tandem.sock')]);
    const table = await settledTable(lines);
    await stopChild(daemon);
    return table;
  }

  void it('keepalived.conf: keepalived and tandem program the same ipvsadm -S -n', async () => {
    const file = join(dir, 'keepalived.conf');
    await writeFile(file, keepalivedConf);
    const lines = 7;
    const keepalived = start('keepalived', [
      '--check',
      '--dont-fork',
      '--log-console',
      '--use-file',
      file,
      '--pid',
      join(dir, 'keepalived.pid'),
      '--checkers_pid',
      join(dir, 'checkers.pid'),
    ]);
    const byKeepalived = await settledTable(lines);
    await stopChild(keepalived);
    await resetIpvs();
    assert.deepEqual(await tableOfTandem(file, lines), byKeepalived);
  });

  void it('ldirectord.cf: ldirectord (or the ipvsadm commands it documents) and tandem program the same ipvsadm -S -n', async () => {
    const file = join(dir, 'ldirectord.cf');
    await writeFile(file, ldirectordCf);
    const lines = 5;
    if (await hasCommand('ldirectord')) {
      const ldirectord = start('ldirectord', ['-d', file, 'start']);
      const byLdirectord = await settledTable(lines);
      await stopChild(ldirectord);
      await resetIpvs();
      assert.deepEqual(await tableOfTandem(file, lines), byLdirectord);
      return;
    }
    await ipvsadm(['-R'], ldirectordCommands);
    const documented = await savedTable();
    await resetIpvs();
    assert.deepEqual(await tableOfTandem(file, lines), documented);
  });
});
