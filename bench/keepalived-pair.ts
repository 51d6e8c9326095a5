// keepalived in the takeover lab's two director namespaces, for the takeover
// benchmark's side-by-side comparison: one VRRPv3 instance per director holding the
// lab's VIP on eth0, its VRRP subsystem only, in the foreground, each instance with
// its own configuration and pid files, ended by PID.
import type { ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Director } from '../test/support/director-pair.js';
import { Collector, run, stopChild } from '../test/support/netns.js';
import { vip, type Mortal, type TakeoverLab } from '../test/support/takeover-lab.js';

export const keepalivedBinary = '/usr/sbin/keepalived';

/** `keepalived --version`'s first line, e.g. `Keepalived v2.2.7 (01/16,2022)`. */
export async function keepalivedVersion(): Promise<string> {
  const { stdout, stderr } = await run(keepalivedBinary, ['--version']);
  return `${stdout}${stderr}`.split('\n')[0]!.trim();
}

interface Instance {
  parent: ChildProcess;
  /** The VRRP child's PID: the process that sends the adverts and holds the VIP. */
  vrrpPid: number;
  logs: Collector<string>;
}

type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

export class KeepalivedPair {
  private readonly instances = new Map<string, Instance>();

  /** `advertInterval`: keepalived's `advert_int` in seconds (VRRPv3: centiseconds, 0.01 the least). */
  constructor(
    private readonly lab: TakeoverLab,
    private readonly advertInterval: number,
  ) {}

  /**
   * Starts keepalived on the node (which removes the VIP a killed instance left).
   * Resolves once its VRRP instance has entered its first state.
   */
  async start(node: Director): Promise<void> {
    const files = this.filesOf(node);
    const peer = this.lab.nodes.find((other) => other !== node)!;
    await writeFile(files.config, configText(node, peer, this.advertInterval));
    await Promise.all([rm(files.pid, { force: true }), rm(files.vrrpPid, { force: true })]);
    const parent = this.lab.pair.lab.spawn(node.host, keepalivedBinary, [
      '--dont-fork',
      '--log-console',
      '--log-detail',
      '--no-syslog',
      '--vrrp',
      '--use-file',
      files.config,
      '--pid',
      files.pid,
      '--vrrp_pid',
      files.vrrpPid,
    ]);
    const logs = new Collector<string>(`keepalived on ${node.name}`);
    for (const stream of [parent.stdout!, parent.stderr!]) createInterface({ input: stream }).on('line', (line) => logs.push(line));
    await logs.waitFor((line) => stateOf(line) !== undefined, 10_000);
    const vrrpPid = Number((await readFile(files.vrrpPid, 'utf8')).trim());
    this.instances.set(node.name, { parent, vrrpPid, logs });
  }

  async startBoth(): Promise<void> {
    await Promise.all(this.lab.nodes.map((node) => this.start(node)));
  }

  /** SIGTERM to keepalived's main process (as `systemctl stop`); resolves once it has exited, with when it was signalled. */
  async stop(node: Director): Promise<number> {
    const at = Date.now();
    await stopChild(this.instanceOf(node).parent);
    this.instances.delete(node.name);
    return at;
  }

  async stopBoth(): Promise<void> {
    await Promise.all(this.lab.nodes.filter((node) => this.instances.has(node.name)).map((node) => this.stop(node)));
  }

  /** The node's keepalived for `TakeoverLab.die`: both its processes frozen, then killed. */
  mortal(node: Director): Mortal {
    const { parent, vrrpPid } = this.instanceOf(node);
    return {
      freeze: () => {
        process.kill(vrrpPid, 'SIGSTOP');
        parent.kill('SIGSTOP');
      },
      kill: async () => {
        const exited = new Promise((resolve) => parent.once('exit', resolve));
        parent.kill('SIGKILL');
        process.kill(vrrpPid, 'SIGKILL');
        await Promise.all([exited, gone(vrrpPid)]);
        this.instances.delete(node.name);
      },
    };
  }

  /**
   * Waits until one instance is MASTER and holds the VIP, the other BACKUP without it,
   * unchanged for `steadyMs`; returns [master, backup]. Unicast adverts to a peer
   * whose address is not resolved yet are dropped, so a starting (or revived) backup
   * can time out, become MASTER too, and win by its higher address: a first sight of
   * one master is not yet the outcome.
   */
  async settled(timeoutMs = 10_000, steadyMs = 300): Promise<[Director, Director]> {
    const deadline = Date.now() + timeoutMs;
    let since: { master: Director; at: number } | undefined;
    for (;;) {
      const nodes = this.lab.nodes;
      const states = nodes.map((node) => this.state(node));
      const holds = await Promise.all(nodes.map(async (node) => (await this.lab.managed(node)).some((a) => a.address === vip)));
      const master = states.indexOf('MASTER');
      const settled = master >= 0 && states[1 - master] === 'BACKUP' && holds[master] && !holds[1 - master];
      if (!settled) since = undefined;
      else if (since === undefined || since.master !== nodes[master]) since = { master: nodes[master]!, at: Date.now() };
      else if (Date.now() - since.at >= steadyMs) return [nodes[master], nodes[1 - master]!];
      if (Date.now() > deadline) throw new Error(`keepalived did not settle: states ${states.join(', ')}, VIP held ${holds.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The VRRP instance's state from its last `Entering … STATE` line. */
  state(node: Director): VrrpState | undefined {
    return this.instances.get(node.name)?.logs.items.reduce<VrrpState | undefined>((state, line) => stateOf(line) ?? state, undefined);
  }

  private instanceOf(node: Director): Instance {
    const instance = this.instances.get(node.name);
    if (!instance) throw new Error(`keepalived does not run on ${node.name}`);
    return instance;
  }

  private filesOf(node: Director): { config: string; pid: string; vrrpPid: string } {
    const base = join(this.lab.pair.dir, `keepalived-${node.name}`);
    return { config: `${base}.conf`, pid: `${base}.pid`, vrrpPid: `${base}-vrrp.pid` };
  }
}

function stateOf(line: string): VrrpState | undefined {
  return /entering (INIT|BACKUP|MASTER|FAULT|STOP) state/i.exec(line)?.[1]?.toUpperCase() as VrrpState | undefined;
}

/** Resolves once the process has gone, or is a zombie (its new parent may never reap it). */
async function gone(pid: number): Promise<void> {
  for (;;) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * As tandem runs in this lab: equal priorities without preemption (tandem's `preempt:
 * false`), so a node that comes back stays backup; unicast adverts on the public
 * path, as tandem's heartbeats go (VRRP multicast would work on the bridge as well,
 * but unicast does not depend on its multicast snooping). The gratuitous ARP settings
 * are keepalived's defaults, spelled out: 5 frames back to back on becoming master
 * (tandem's `announce.count` is 5 too, its first frame sent at once), and 5 more after 5 s.
 */
function configText(node: Director, peer: Director, advertInterval: number): string {
  return `global_defs {
  router_id ${node.name}
  vrrp_version 3
  vrrp_garp_master_delay 5
  vrrp_garp_master_repeat 5
}
vrrp_instance lab {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int ${advertInterval}
  unicast_src_ip ${node.publicAddress}
  unicast_peer {
    ${peer.publicAddress}
  }
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
}
`;
}
