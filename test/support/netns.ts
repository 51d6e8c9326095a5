// A throw-away lab of network namespaces for tests that touch the real kernel.
// Everything a lab creates lives in namespaces it created (the switches too: bridges
// sit in a namespace of their own), so the host's root namespace is never touched and
// destroying the namespaces removes every link. Processes started in the lab are
// ended by PID.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export async function run(cmd: string, args: string[], input?: string): Promise<ExecResult> {
  try {
    const running = execFileAsync(cmd, args, { maxBuffer: 64 << 20 });
    if (input !== undefined) running.child.stdin?.end(input);
    const { stdout, stderr } = await running;
    return { stdout, stderr };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface Watch {
  /** Output lines (stdout) so far. */
  lines: string[];
  /** Resolves with the first line (already seen or to come) that matches. */
  waitFor(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
  /** The command's process ID (`ip netns exec` runs it in its own place). */
  pid?: number;
}

export interface Host {
  /** The short name given to addHost (e.g. `ifw01`). */
  name: string;
  /** The namespace's name (unique per lab). */
  netns: string;
}

export class Lab {
  readonly id: string;
  private readonly switchNetns: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private vethCount = 0;
  /** The switch-side end of each cable, by `netns/ifname` of the host side. */
  private readonly ports = new Map<string, string>();

  private constructor(id: string) {
    this.id = id;
    this.switchNetns = `tdm${id}-sw`;
  }

  /** Creates the lab's switch namespace. Interface names stay within IFNAMSIZ. */
  static async create(): Promise<Lab> {
    const lab = new Lab(randomBytes(3).toString('hex'));
    await lab.addNamespace(lab.switchNetns);
    return lab;
  }

  private async addNamespace(netns: string): Promise<void> {
    await run('ip', ['netns', 'add', netns]);
    this.namespaces.push(netns);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  }

  async addHost(name: string): Promise<Host> {
    const netns = `tdm${this.id}-${name}`;
    await this.addNamespace(netns);
    return { name, netns };
  }

  /**
   * The host as after a reboot: its namespace (and its cables with it) deleted and
   * created again under the same name, empty. Processes still running in it are not ended.
   */
  async replaceHost(host: Host): Promise<Host> {
    await run('ip', ['netns', 'del', host.netns]);
    this.namespaces.splice(this.namespaces.indexOf(host.netns), 1);
    for (const cable of [...this.ports.keys()]) if (cable.startsWith(`${host.netns}/`)) this.ports.delete(cable);
    return this.addHost(host.name);
  }

  /** A learning bridge inside the switch namespace. */
  async addSwitch(name: string): Promise<string> {
    await this.ipBatch(this.switchNetns, [`link add ${name} type bridge`, `link set ${name} up`]);
    return name;
  }

  /**
   * Connects `host` to switch `sw` with a veth pair; `ifname` is the name inside the host.
   * Addresses are CIDR strings. Returns the host side's MAC address.
   */
  async connect(host: Host, ifname: string, sw: string, addresses: string[] = [], mac?: string): Promise<string> {
    const portName = `p${this.vethCount++}`;
    const tmpName = `tdm${this.id}x${this.vethCount}`;
    await this.ipBatch(this.switchNetns, [
      `link add ${portName} type veth peer name ${tmpName}`,
      `link set ${portName} master ${sw} up`,
      `link set ${tmpName} netns ${host.netns}`,
    ]);
    this.ports.set(`${host.netns}/${ifname}`, portName);
    await this.ipBatch(host.netns, [
      `link set ${tmpName} name ${ifname}`,
      ...(mac ? [`link set ${ifname} address ${mac}`] : []),
      ...addresses.map((a) => `addr add ${a} dev ${ifname}`),
      `link set ${ifname} up`,
    ]);
    return this.macOf(host, ifname);
  }

  async macOf(host: Host, ifname: string): Promise<string> {
    const { stdout } = await run('ip', ['-n', host.netns, '-j', 'link', 'show', ifname]);
    const [link] = JSON.parse(stdout) as Array<{ address: string }>;
    if (!link) throw new Error(`no link ${ifname} in ${host.netns}`);
    return link.address;
  }

  /** Sets the host's own end of a cable administratively down or up (as `ip link set` on the host). */
  async setCable(host: Host, ifname: string, up: boolean): Promise<void> {
    await run('ip', ['-n', host.netns, 'link', 'set', ifname, up ? 'up' : 'down']);
  }

  /**
   * Sets the switch's end of the host's cable down or up: the host's link stays
   * administratively up and loses its carrier, as when a switch port fails.
   */
  async setSwitchPort(host: Host, ifname: string, up: boolean): Promise<void> {
    await run('ip', ['-n', this.switchNetns, 'link', 'set', this.switchPort(host, ifname), up ? 'up' : 'down']);
  }

  /** The switch-side port of the host's cable (for filters on the bridge). */
  switchPort(host: Host, ifname: string): string {
    const port = this.ports.get(`${host.netns}/${ifname}`);
    if (!port) throw new Error(`${host.name} has no cable ${ifname}`);
    return port;
  }

  /** Runs a command inside the switches' namespace (e.g. nft on the bridges). */
  execSwitch(cmd: string, args: string[] = [], input?: string): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.switchNetns, cmd, ...args], input);
  }

  async ipBatch(netns: string, lines: string[]): Promise<void> {
    await run('ip', ['-n', netns, '-batch', '-'], lines.join('\n') + '\n');
  }

  /** Runs a command to completion inside the host's namespace. */
  exec(host: Host, cmd: string, args: string[] = [], input?: string): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', host.netns, cmd, ...args], input);
  }

  /**
   * The kernel's IP and UDP counters of the host's namespace (/proc/net/snmp), named
   * as nstat names them: `IpReasmFails`, `UdpRcvbufErrors`, …
   */
  async snmp(host: Host): Promise<Record<string, number>> {
    const { stdout } = await this.exec(host, 'cat', ['/proc/net/snmp']);
    const counters: Record<string, number> = {};
    const lines = stdout.trim().split('\n');
    // pairs of lines: `Udp: InDatagrams NoPorts …` then `Udp: 12 0 …`
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const [protocol, ...names] = lines[i]!.split(/\s+/);
      const values = lines[i + 1]!.split(/\s+/).slice(1);
      names.forEach((name, at) => (counters[`${protocol!.replace(':', '')}${name}`] = Number(values[at])));
    }
    return counters;
  }

  /** Starts a long-running process inside the host's namespace; destroy() ends it. */
  spawn(host: Host, cmd: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', host.netns, cmd, ...args], { stdio: 'pipe', ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Starts a long-running command (tcpdump, `ip monitor`) and collects its output
   * lines. With `ready`, resolves once a line of stdout or stderr matches it (e.g.
   * tcpdump's "listening on").
   */
  async watch(host: Host, cmd: string, args: string[], ready?: RegExp): Promise<Watch> {
    const child = this.spawn(host, cmd, args);
    const lines = new Collector<string>(cmd);
    let readySeen: () => void = () => undefined;
    const readyPromise = new Promise<void>((resolve) => (readySeen = resolve));
    const collect = (stream: NodeJS.ReadableStream | null, keep: boolean) => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (line) => {
        if (ready?.test(line)) readySeen();
        if (keep) lines.push(line);
      });
    };
    collect(child.stdout, true);
    collect(child.stderr, false);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`${cmd} exited (${code}) before it was ready`))),
    );
    exited.catch(() => undefined);
    if (ready) await Promise.race([readyPromise, exited]);
    return {
      lines: lines.items,
      waitFor: (predicate, timeoutMs) => lines.waitFor(predicate, timeoutMs),
      stop: () => stopChild(child),
      ...(child.pid !== undefined && { pid: child.pid }),
    };
  }

  /** Ends every process this lab started (by PID) and deletes its namespaces. */
  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((child) => stopChild(child)));
    for (const netns of this.namespaces.reverse()) {
      await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    }
    this.namespaces.length = 0;
  }
}

/** Items arriving over time (output lines, events), with a wait for one that matches. */
export class Collector<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(private readonly source: string) {}

  push(item: T): void {
    this.items.push(item);
    for (const wake of this.waiters) wake();
  }

  /** Resolves with the first item (already seen or to come) that matches. */
  waitFor(predicate: (item: T) => boolean, timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = this.items.find(predicate);
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.source}: nothing matching within ${timeoutMs} ms; got:${this.items.length === 0 ? ' nothing' : `\n${this.items.map((i) => JSON.stringify(i)).join('\n')}`}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Lab tests need root; under CI=true a missing privilege is a failure, never a skip. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('lab tests create network namespaces and must run as root');
  }
}
