// Two directors in network namespaces running the built `tandem run`, joined by
// two switches (the public and the private heartbeat path), for the cluster lab
// tests and the failover benchmark.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execFile, type ChildProcess } from 'node:child_process';
import type { Role } from '../../src/cluster/index.js';
import { sendControlRequest, type DaemonStatus } from '../../src/control/index.js';
import { Collector, Lab, stopChild, type Host } from './netns.js';

export const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** The node flags the tandem command starts with (the first line of src/cli/main.ts). */
export const nodeFlags = ['--single-threaded-gc', '--max-semi-space-size=1', '--v8-pool-size=1', '--no-memory-reducer'];
export const heartbeatPort = 539;

/** A JSON log line of a daemon. */
export interface LogEvent {
  event?: string;
  msg?: string;
  time: number;
  /** When the test read the line (its own clock: a daemon's may be stepped). */
  receivedAt?: number;
  [field: string]: unknown;
}

export interface Director {
  name: string;
  host: Host;
  publicAddress: string;
  privateAddress: string;
  socket: string;
  config: string;
  process?: ChildProcess;
  /** This run's log events. */
  logs: Collector<LogEvent>;
}

export interface StartOptions {
  /** More arguments for `tandem run`. */
  args?: string[];
  /** A command the daemon runs behind, e.g. ['taskset', '-c', '1']. */
  prefix?: string[];
  /** How long the daemon may take to start (default 10 s; the emulated IPVS VM needs more). */
  timeoutMs?: number;
}

export interface PairOptions {
  keepalive: string;
  deadtime: string;
  /** Default: twice the deadtime. */
  initdead?: string;
  /** 1: the public path only (no private addresses in the configuration); default 2. */
  paths?: 1 | 2;
  /** Extra lines for the configuration (YAML, top level). */
  extraConfig?: string;
  /** The `network` and `virtual_services` lines (YAML, top level); default: direct, none. */
  services?: string;
  /** Serial number per node (default 1 for both). */
  serials?: [number, number];
}

/**
 * Sends datagrams as another host: bound with IP_TRANSPARENT (which Node cannot
 * set) to that host's address and the heartbeat port, so they pass the receiver's
 * connected heartbeat socket. Each stdin line is a batch, one word per datagram: `x`
 * and its hex, so that an empty datagram is a word too. After each batch it prints
 * the sends the kernel refused, by errno.
 */
const spooferScript = `
import errno, json, socket, sys
source, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
s.bind((source, port))
print('ready', flush=True)
for batch, line in enumerate(sys.stdin, 1):
    failed = {}
    for word in line.split():
        try:
            s.sendto(bytes.fromhex(word[1:]), (target, port))
        except OSError as error:
            name = errno.errorcode.get(error.errno, str(error.errno))
            failed[name] = failed.get(name, 0) + 1
    print('sent', batch, json.dumps(failed), flush=True)
`;

/** An attacker's sender that passes for one director towards the other. */
export interface Spoofer {
  /** Sends the datagrams back to back; resolves once they are sent, with the sends that failed by errno. */
  send(datagrams: Buffer[]): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export class DirectorPair {
  private constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly nodes: [Director, Director],
    readonly keyFile: string,
    /** A third host on the public switch, e.g. for an attacker. */
    readonly outsider: Host,
  ) {}

  static async create(options: PairOptions): Promise<DirectorPair> {
    const lab = await Lab.create();
    const dir = await mkdtemp(join(tmpdir(), 'tandem-pair-'));
    try {
      const publicSwitch = await lab.addSwitch('sw0');
      const privateSwitch = await lab.addSwitch('sw1');
      const keyFile = join(dir, 'authkey');
      await writeFile(keyFile, `1 ${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
      const names = ['ifw01', 'ifw02'] as const;
      const nodes = (await Promise.all(
        names.map(async (name, i) => {
          const host = await lab.addHost(name);
          const publicAddress = `192.0.2.${i + 1}`;
          const privateAddress = `198.51.100.${i + 1}`;
          await lab.connect(host, 'eth0', publicSwitch, [`${publicAddress}/24`]);
          // With `paths: 1` the cable stays (labs put servers on that switch); only the heartbeat leaves it.
          await lab.connect(host, 'eth1', privateSwitch, [`${privateAddress}/24`]);
          const config = join(dir, `${name}.yaml`);
          await writeFile(config, configText(options, keyFile, options.serials?.[i] ?? 1));
          return {
            name,
            host,
            publicAddress,
            privateAddress,
            socket: join(dir, `${name}.sock`),
            config,
            logs: new Collector<LogEvent>(name),
          };
        }),
      )) as [Director, Director];
      const outsider = await lab.addHost('xatk');
      await lab.connect(outsider, 'eth0', publicSwitch, ['192.0.2.66/24']);
      return new DirectorPair(lab, dir, nodes, keyFile, outsider);
    } catch (error) {
      await lab.destroy();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Starts `tandem run` for the node (with more arguments, or behind a command such as taskset); resolves once it runs. */
  async start(node: Director, options: StartOptions = {}): Promise<void> {
    node.logs = new Collector<LogEvent>(node.name);
    // As the tandem command starts node (see src/cli/main.ts).
    const command = [
      ...(options.prefix ?? []),
      process.execPath,
      ...nodeFlags,
      cli,
      'run',
      '--config',
      node.config,
      '--node',
      node.name,
      '--socket',
      node.socket,
      ...(options.args ?? []),
    ];
    const child = this.lab.spawn(node.host, command[0]!, command.slice(1));
    node.process = child;
    const logs = node.logs;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push({ ...(JSON.parse(line) as LogEvent), receivedAt: Date.now() });
      } catch {
        logs.push({ msg: line, time: Date.now() });
      }
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`${node.name} exited (${code}): ${stderr}`))),
    );
    exited.catch(() => undefined);
    // Generous by default: on a loaded machine starting Node alone can take seconds.
    const started = logs
      .waitFor((e) => e.event === 'daemon.start', options.timeoutMs ?? 30_000)
      .catch((error: unknown) => {
        // one that hangs before its first log line may have said why on stderr only
        throw new Error(`${(error as Error).message}\n${node.name} ${processState(child.pid)}; its stderr: ${stderr.trim() || '(empty)'}`);
      });
    await Promise.race([started, exited]);
  }

  /** The next `count` heartbeats `from` sends `to` on the public path, as `to` receives them (UDP payloads). */
  async captureHeartbeats(from: Director, to: Director, count: number): Promise<Buffer[]> {
    const capture = join(this.dir, `capture-${randomBytes(4).toString('hex')}.pcap`);
    const filter = `udp dst port ${heartbeatPort} and src host ${from.publicAddress}`;
    await this.lab.exec(to.host, 'tcpdump', ['-i', 'eth0', '-U', '-w', capture, '-c', String(count), filter]);
    return udpPayloads(await readFile(capture));
  }

  /** A sender on the outsider host that passes for `as` (its public address, the heartbeat port) towards `to`. */
  async spoofer(as: Director, to: Director): Promise<Spoofer> {
    const child = this.lab.spawn(this.outsider, 'python3', [
      '-c',
      spooferScript,
      as.publicAddress,
      String(heartbeatPort),
      to.publicAddress,
    ]);
    const lines = new Collector<string>('spoofer');
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
    await lines.waitFor((line) => line === 'ready', 10_000);
    let batches = 0;
    return {
      send: async (datagrams) => {
        const batch = ++batches;
        child.stdin!.write(`${datagrams.map((d) => `x${d.toString('hex')}`).join(' ')}\n`);
        const done = await lines.waitFor((line) => line.startsWith(`sent ${batch} `), 10_000);
        return JSON.parse(done.slice(`sent ${batch} `.length)) as Record<string, number>;
      },
      stop: () => stopChild(child),
    };
  }

  async startBoth(options: StartOptions = {}): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.start(node, options)));
  }

  /** Waits until one node is ACTIVE and the other BACKUP; returns [active, backup]. */
  async settled(timeoutMs = 10_000): Promise<[Director, Director]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const roles = await Promise.all(
        this.nodes.map((node) =>
          this.status(node)
            .then((s) => s.role)
            .catch(() => undefined),
        ),
      );
      const active = roles.indexOf('ACTIVE');
      if (active >= 0 && roles[1 - active] === 'BACKUP') return [this.nodes[active]!, this.nodes[1 - active]!];
      if (Date.now() > deadline) throw new Error(`roles did not settle: ${roles.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async status(node: Director): Promise<DaemonStatus> {
    const response = await sendControlRequest(node.socket, { command: 'status' });
    if (response.command !== 'status' || !response.ok) throw new Error(`status of ${node.name} failed: ${JSON.stringify(response)}`);
    return response.status;
  }

  /** Runs the built CLI against the node's control socket. */
  tandem(node: Director, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args, '--socket', node.socket], (error, stdout, stderr) => {
        resolve({ stdout, stderr, code: error ? Number(error.code ?? 1) : 0 });
      });
    });
  }

  /** SIGKILL: no graceful stop, the peer has to notice the silence. Returns the time of the kill. */
  async kill(node: Director): Promise<number> {
    const child = node.process!;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const at = Date.now();
    child.kill('SIGKILL');
    await exited;
    return at;
  }

  async stop(node: Director): Promise<number> {
    const at = Date.now();
    await stopChild(node.process!);
    return at;
  }

  /** The node's next role.change to `role` (already logged or to come). */
  roleChange(node: Director, to: Role, after = 0, timeoutMs = 5000): Promise<LogEvent> {
    return node.logs.waitFor((e) => e.event === 'role.change' && e.to === to && Date.parse(String(e.at)) >= after, timeoutMs);
  }

  roleChanges(node: Director): LogEvent[] {
    return node.logs.items.filter((e) => e.event === 'role.change');
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether the process still runs, and if so where the kernel has each of its threads (which call it sleeps in, its nice value). */
function processState(pid: number | undefined): string {
  try {
    const threads = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const wchan = readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
      return `${comm} ${fields[0]} ${wchan === '0' || wchan === '' ? '' : `${wchan} `}nice ${fields[16]} cpu ${Number(fields[11]) + Number(fields[12])} ticks`;
    });
    return `is still running; its threads: ${threads.join(', ')}`;
  } catch {
    return 'has exited';
  }
}

function configText(options: PairOptions, keyFile: string, serial: number): string {
  const privateAddress = (i: number) => (options.paths === 1 ? '' : `\n    private_address: 198.51.100.${i}`);
  return `cluster: lab
serial_no: ${serial}
nodes:
  - name: ifw01
    address: 192.0.2.1${privateAddress(1)}
    priority: 100
  - name: ifw02
    address: 192.0.2.2${privateAddress(2)}
    priority: 100
heartbeat:
  port: ${heartbeatPort}
  keepalive: ${options.keepalive}
  deadtime: ${options.deadtime}${options.initdead ? `\n  initdead: ${options.initdead}` : ''}
auth:
  key_file: ${keyFile}
  key_id: 1
preempt: false
${options.services ?? 'network: direct\nvirtual_services: []'}
${options.extraConfig ?? ''}`;
}

/** The UDP payloads of a pcap file (Ethernet, IPv4). */
export function udpPayloads(pcap: Buffer): Buffer[] {
  const littleEndian = pcap.readUInt32LE(0) === 0xa1b2c3d4 || pcap.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (at: number) => (littleEndian ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  const payloads: Buffer[] = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const length = u32(at + 8);
    const frame = pcap.subarray(at + 16, at + 16 + length);
    at += 16 + length;
    if (frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    if (ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    payloads.push(Buffer.from(udp.subarray(8, udp.readUInt16BE(4))));
  }
  return payloads;
}
