// The takeover lab: the cluster lab's two directors (real `tandem run` processes)
// with a VIP on the public switch and the NAT gateway on the server switch, a
// client `xcl01` on the public side and a real server `ics01` behind the gateway.
// Each director answers UDP probes on the VIP itself (a responder bound to it with
// ip_nonlocal_bind), so the probe follows the address; there is no IPVS here.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { run, type Host, type Watch } from './netns.js';
import { DirectorPair, type Director, type PairOptions, type StartOptions } from './director-pair.js';

export const vip = '192.0.2.100';
export const natGateway = '198.51.100.254';
export const clientAddress = '192.0.2.50';
export const serverAddress = '198.51.100.10';
export const echoPort = 7;

const echo = fileURLToPath(new URL('../../deploy/lab/echo.ts', import.meta.url));
export const prober = fileURLToPath(new URL('../../deploy/lab/probe.ts', import.meta.url));

export const services = `network: nat
enable_forwarding: true
nat_router: { address: ${natGateway}/24, device: eth1, label: "eth1:1" }
virtual_services:
  - name: echo
    vip: { address: ${vip}/24, device: eth0, label: "eth0:1" }
    protocol: udp
    port: ${echoPort}
    health_check: { kind: none }
    real_servers: [{ name: ics01, address: ${serverAddress} }]`;

export interface HeldAddress {
  address: string;
  prefix: number;
  device: string;
  label?: string;
}

export interface ProbeReply {
  seq: number;
  sentAt: number;
  rttMs: number;
  responder: string;
}

export interface ProbeRun {
  replies: ProbeReply[];
  sent: number;
  /** The longest time between two answered probes (by send time): how long the VIP did not answer. */
  gapMs: number;
}

export interface Probe {
  /** Resolves once `n` more replies came from `responder`. */
  answeredBy(responder: string, n?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<ProbeRun>;
}

/**
 * The longest interval between two consecutive answered probes, by their send times;
 * with `from`, only from the last probe answered that was sent before it (a fault's
 * time), so the prober's own start does not count.
 */
export function largestGap(replies: ProbeReply[], from = -Infinity): number {
  const sorted = [...replies].sort((a, b) => a.seq - b.seq);
  const first = Math.max(
    0,
    sorted.findLastIndex((r) => r.sentAt < from),
  );
  let gap = 0;
  for (let i = first + 1; i < sorted.length; i++) gap = Math.max(gap, sorted[i]!.sentAt - sorted[i - 1]!.sentAt);
  return gap;
}

export function parseReply(line: string): ProbeReply | undefined {
  const match = /^reply (\d+) ([\d.]+) ([\d.]+) (\S+)$/.exec(line);
  return match ? { seq: Number(match[1]), sentAt: Number(match[2]), rttMs: Number(match[3]), responder: match[4]! } : undefined;
}

/** A daemon as `die` ends it: frozen at once, killed once its cables are out. */
export interface Mortal {
  freeze(): void;
  kill(): Promise<unknown>;
}

export interface TakeoverLabOptions extends Omit<PairOptions, 'services'> {
  /**
   * SCHED_RR priority for the client's probe and the responders (default: normal
   * scheduling). They stand for a client on another machine and for the kernel's
   * forwarding, which no daemon of the pair can starve: above --realtime daemons, a
   * probe sent late or answered late on a shared CPU is not charged to the pair.
   */
  toolPriority?: number;
}

export class TakeoverLab {
  /** Each director's UDP responder on the VIP. */
  readonly responders = new Map<string, ChildProcess>();

  private constructor(
    readonly pair: DirectorPair,
    readonly client: Host,
    readonly server: Host,
    private readonly toolPriority: number | undefined,
  ) {}

  static async create({ toolPriority, ...options }: TakeoverLabOptions): Promise<TakeoverLab> {
    const pair = await DirectorPair.create({ ...options, services });
    try {
      const { lab } = pair;
      const client = await lab.addHost('xcl01');
      await lab.connect(client, 'eth0', 'sw0', [`${clientAddress}/24`]);
      const server = await lab.addHost('ics01');
      await lab.connect(server, 'eth0', 'sw1', [`${serverAddress}/24`]);
      await lab.exec(server, 'ip', ['route', 'add', 'default', 'via', natGateway]);
      const takeover = new TakeoverLab(pair, client, server, toolPriority);
      for (const node of pair.nodes) {
        await lab.exec(node.host, 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
        await takeover.startResponder(node);
      }
      return takeover;
    } catch (error) {
      await pair.destroy();
      throw error;
    }
  }

  async startResponder(node: Director): Promise<void> {
    const child = this.pair.lab.spawn(node.host, process.execPath, ['--import', 'tsx', echo, vip, String(echoPort), node.name]);
    this.responders.set(node.name, child);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', () => resolve());
      child.once('exit', (code) => reject(new Error(`the responder on ${node.name} exited (${code})`)));
    });
    await this.keepPrompt(child.pid);
  }

  get nodes(): [Director, Director] {
    return this.pair.nodes;
  }

  /** Roles settled and the addresses where they belong: both on the active node, none on the backup. */
  async settled(timeoutMs = 10_000): Promise<[Director, Director]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [active, backup] = await this.pair.settled(timeoutMs);
      const [held, stray] = await Promise.all([this.managed(active), this.managed(backup)]);
      if (held.length === 2 && stray.length === 0) return [active, backup];
      if (Date.now() > deadline)
        throw new Error(`addresses did not settle: ${active.name} holds ${JSON.stringify(held)}, ${backup.name} ${JSON.stringify(stray)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  mac(node: Director | Host, ifname = 'eth0'): Promise<string> {
    return this.pair.lab.macOf('host' in node ? node.host : node, ifname);
  }

  /** The addresses tandem may manage that a director holds (the VIP, the NAT gateway), as `ip -j addr` shows them. */
  async managed(node: Director): Promise<HeldAddress[]> {
    return (await this.addresses(node)).filter((a) => a.address === vip || a.address === natGateway);
  }

  async addresses(node: Director): Promise<HeldAddress[]> {
    const { stdout } = await this.pair.lab.exec(node.host, 'ip', ['-j', '-4', 'addr', 'show']);
    const links = JSON.parse(stdout) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number; label?: string }> }>;
    return links.flatMap((link) =>
      link.addr_info.map((a) => ({ address: a.local, prefix: a.prefixlen, device: link.ifname, ...(a.label && { label: a.label }) })),
    );
  }

  async neighbour(host: Host, address: string): Promise<string | undefined> {
    const { stdout } = await this.pair.lab.exec(host, 'ip', ['-j', 'neigh', 'show', address, 'dev', 'eth0']);
    return (JSON.parse(stdout) as Array<{ lladdr?: string }>)[0]?.lladdr;
  }

  /** Polls until the host's neighbour entry for `address` is `mac`. */
  async neighbourBecomes(host: Host, address: string, mac: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.neighbour(host, address);
      if (now === mac) return;
      if (Date.now() > deadline) throw new Error(`${host.name}'s neighbour entry for ${address} is ${now ?? 'missing'}, not ${mac}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Both neighbours learn where the VIP and the gateway are: a few probes from the client, pings from the server. */
  async warmNeighbours(): Promise<void> {
    const { lab } = this.pair;
    await lab.exec(this.client, process.execPath, ['--import', 'tsx', prober, vip, String(echoPort), '--count', '3', '--wait', '200']);
    await lab.exec(this.server, 'ping', ['-c', '2', '-i', '0.1', '-W', '1', natGateway]);
  }

  /** tcpdump of ARP in the host's namespace, with link-level addresses. */
  captureArp(host: Host): Promise<Watch> {
    return this.pair.lab.watch(host, 'tcpdump', ['-l', '-n', '-e', '--immediate-mode', '-i', 'eth0', 'arp'], /listening on/);
  }

  /** Starts probing the VIP from the client every `intervalMs`. */
  async probe(intervalMs = 10): Promise<Probe> {
    const watch = await this.pair.lab.watch(this.client, process.execPath, [
      '--import',
      'tsx',
      prober,
      vip,
      String(echoPort),
      '--interval',
      String(intervalMs),
    ]);
    if (this.toolPriority !== undefined) {
      // its first reply: Node has started
      await watch.waitFor((line) => line.startsWith('reply '), 10_000);
      await this.keepPrompt(watch.pid);
    }
    const replies = () => watch.lines.flatMap((line) => parseReply(line) ?? []);
    return {
      answeredBy: async (responder, n = 1, timeoutMs = 5000) => {
        const skip = replies().length;
        const deadline = Date.now() + timeoutMs;
        while (
          replies()
            .slice(skip)
            .filter((r) => r.responder === responder).length < n
        ) {
          if (Date.now() > deadline)
            throw new Error(
              `the VIP did not answer from ${responder} within ${timeoutMs} ms; last replies: ${watch.lines.slice(-5).join(' | ')}`,
            );
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      stop: async () => {
        await watch.stop();
        const all = replies();
        const sent = Number(/^sent (\d+)$/.exec(watch.lines.at(-1) ?? '')?.[1] ?? NaN);
        return { replies: all, sent, gapMs: largestGap(all) };
      },
    };
  }

  /**
   * The node dies: its daemon and its responder freeze at the same instant (no last
   * word to the peer, no more answers), then its switch ports go down and both are
   * killed. The daemon is the node's `tandem run` unless given (keepalived, for the
   * benchmark's comparison). Returns when it froze (Date.now()).
   */
  async die(node: Director, daemon: Mortal = this.tandemOf(node)): Promise<number> {
    const responder = this.responders.get(node.name)!;
    const at = Date.now();
    daemon.freeze();
    responder.kill('SIGSTOP');
    await Promise.all(['eth0', 'eth1'].map((ifname) => this.pair.lab.setSwitchPort(node.host, ifname, false)));
    const responderExited = new Promise((resolve) => responder.once('exit', resolve));
    responder.kill('SIGKILL');
    await Promise.all([daemon.kill(), responderExited]);
    return at;
  }

  /**
   * A running tool (the probe, a responder) gets the tools' priority, if one is set. Only
   * once it runs: Node starting up (compiling with tsx) above the daemons would starve them.
   */
  private async keepPrompt(pid: number | undefined): Promise<void> {
    if (this.toolPriority === undefined || pid === undefined) return;
    await run('chrt', ['--all-tasks', '--rr', '--pid', String(this.toolPriority), String(pid)]);
  }

  private tandemOf(node: Director): Mortal {
    return { freeze: () => node.process!.kill('SIGSTOP'), kill: () => this.pair.kill(node) };
  }

  /** A dead node comes back: its daemon starts (removing what the dead one left), then its cables are plugged in. */
  async revive(node: Director, options: StartOptions = {}): Promise<void> {
    await this.reviveWith(node, () => this.pair.start(node, options));
  }

  /** As revive, with another daemon's start (which must remove what the dead one left). */
  async reviveWith(node: Director, startDaemon: () => Promise<void>): Promise<void> {
    await startDaemon();
    await this.startResponder(node);
    await Promise.all(['eth0', 'eth1'].map((ifname) => this.pair.lab.setSwitchPort(node.host, ifname, true)));
  }

  async destroy(): Promise<void> {
    await this.pair.destroy();
  }
}
