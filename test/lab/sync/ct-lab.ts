// Namespaces for the conntrack lab tests and bench, named `ct-<id>-<name>` so they never
// collide with another lab's; bridges live in a switch namespace of their own. Processes
// are ended by PID and the namespaces deleted by destroy().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector, requireRoot, run, stopChild, type ExecResult } from '../../support/netns.js';

const AGENT = fileURLToPath(new URL('./fixtures/ct-agent.ts', import.meta.url));

export class CtLab {
  readonly id = randomBytes(3).toString('hex');
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private veths = 0;
  private switchNetns: string | undefined;

  async addNamespace(name: string): Promise<string> {
    requireRoot();
    const netns = `ct-${this.id}-${name}`;
    await run('ip', ['netns', 'add', netns]);
    this.namespaces.push(netns);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    return netns;
  }

  /** A bridge in the lab's switch namespace. */
  async addSwitch(name: string): Promise<string> {
    this.switchNetns ??= await this.addNamespace('sw');
    await this.ip(this.switchNetns, [`link add ${name} type bridge`, `link set ${name} up`]);
    return name;
  }

  /** Cables `netns` to bridge `sw` as `ifname`, with addresses (CIDR) and optionally a MAC. */
  async connect(netns: string, ifname: string, sw: string, addresses: string[], mac?: string): Promise<void> {
    if (!this.switchNetns) throw new Error('no switch yet');
    const port = `ct${this.id}p${this.veths}`;
    const peer = `ct${this.id}h${this.veths++}`;
    await this.ip(this.switchNetns, [
      `link add ${port} type veth peer name ${peer}`,
      `link set ${port} master ${sw} up`,
      `link set ${peer} netns ${netns}`,
    ]);
    await this.ip(netns, [
      `link set ${peer} name ${ifname}`,
      ...(mac ? [`link set ${ifname} address ${mac}`] : []),
      ...addresses.map((address) => `addr add ${address} dev ${ifname} nodad`),
      `link set ${ifname} up`,
    ]);
  }

  async ip(netns: string, lines: string[]): Promise<void> {
    await run('ip', ['-n', netns, '-batch', '-'], lines.join('\n') + '\n');
  }

  exec(netns: string, cmd: string, args: string[] = [], input?: string): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', netns, cmd, ...args], input);
  }

  spawn(netns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: 'pipe', env });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** The conntrack agent (fixtures/ct-agent.ts) in `netns`; `built` runs dist/ rather than src/. */
  async agent(netns: string, options: { built?: boolean; nodeArgs?: string[] } = {}): Promise<CtAgent> {
    const env = { ...process.env, ...(options.built && { CT_AGENT_BUILT: '1' }) };
    const child = this.spawn(netns, process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', AGENT], env);
    return CtAgent.start(child, netns);
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((child) => stopChild(child)));
    for (const netns of this.namespaces.reverse()) await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    this.namespaces.length = 0;
  }
}

export interface AgentEvent {
  event: string;
  [key: string]: unknown;
}

/** JSON lines to and from the agent: requests with ids, events without. */
export class CtAgent {
  readonly events: Collector<AgentEvent>;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;

  private constructor(
    private readonly child: ChildProcess,
    netns: string,
    readonly logs: string[],
  ) {
    this.events = new Collector<AgentEvent>(`conntrack agent in ${netns}`);
  }

  static async start(child: ChildProcess, netns: string): Promise<CtAgent> {
    const logs: string[] = [];
    const agent = new CtAgent(child, netns, logs);
    if (!child.stdout || !child.stderr) throw new Error('the agent has no pipes');
    createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => {
        reject(new Error(`conntrack agent in ${netns} exited (${code}):\n${logs.join('\n')}`));
        for (const waiter of agent.pending.values()) waiter.reject(new Error(`conntrack agent exited (${code}):\n${logs.join('\n')}`));
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as { id?: number; event?: string; result?: unknown; error?: string };
        if (message.event === 'ready') resolve();
        else if (message.id !== undefined) {
          const waiter = agent.pending.get(message.id);
          agent.pending.delete(message.id);
          if (message.error !== undefined) waiter?.reject(new Error(message.error));
          else waiter?.resolve(message.result);
        } else if (message.event !== undefined) agent.events.push(message as AgentEvent);
      });
    });
    return agent;
  }

  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
  }
}
