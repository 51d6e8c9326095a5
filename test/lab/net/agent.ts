// Drives test/lab/net/fixtures/net-agent.ts inside a lab host.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector, Lab, requireRoot, type Host } from '../../support/netns.js';

const AGENT = fileURLToPath(new URL('./fixtures/net-agent.ts', import.meta.url));

export interface AgentMessage {
  id?: number;
  event?: string;
  result?: unknown;
  error?: string;
  [key: string]: unknown;
}

export interface Agent {
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Every event received so far (link events, …). */
  events: AgentMessage[];
  waitForEvent(predicate: (event: AgentMessage) => boolean, timeoutMs?: number): Promise<AgentMessage>;
  /** Everything the agent logged (JSON lines on stderr). */
  logs: string[];
}

export async function startAgent(lab: Lab, host: Host): Promise<Agent> {
  const child = lab.spawn(host, process.execPath, ['--import', 'tsx', AGENT]);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const events = new Collector<AgentMessage>(`net agent in ${host.name}`);
  const logs: string[] = [];
  let nextId = 1;
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`net agent in ${host.name} exited (${code}):\n${logs.join('\n')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as AgentMessage;
      if (message.event === 'ready') {
        resolve();
        return;
      }
      if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.result);
        return;
      }
      events.push(message);
    });
  });
  await ready;
  return {
    events: events.items,
    logs,
    call: <T>(op: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      }),
    waitForEvent: (predicate, timeoutMs) => events.waitFor(predicate, timeoutMs),
  };
}

export interface DirectorLab {
  lab: Lab;
  director: Host;
  agent: Agent;
}

/**
 * A lab with one director, `ifw01`, its links cabled to one switch (`cables`: link
 * name -> CIDR addresses), running the net agent.
 */
export async function directorLab(cables: Record<string, string[]> = {}): Promise<DirectorLab> {
  requireRoot();
  const lab = await Lab.create();
  try {
    const director = await lab.addHost('ifw01');
    if (Object.keys(cables).length > 0) {
      const sw = await lab.addSwitch('sw0');
      for (const [ifname, addresses] of Object.entries(cables)) await lab.connect(director, ifname, sw, addresses);
    }
    return { lab, director, agent: await startAgent(lab, director) };
  } catch (error) {
    await lab.destroy();
    throw error;
  }
}
