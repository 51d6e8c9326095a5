// Long-lived TCP connections between two lab hosts exchanging data at a steady pace,
// for the tests that must show connections surviving a failover: an echo server on
// one host, clients on the other counting per connection what they sent and got back,
// resets and the longest silence (tcp-flows-process.ts does the work in the namespaces).
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector, stopChild, type Host, type Lab } from './netns.js';

const script = fileURLToPath(new URL('./tcp-flows-process.ts', import.meta.url));
/** Ahead of the machine's other work, so a silence measures the network, not a starved client. */
const niceness = ['-n', '-10'];

/** One connection as its client saw it. */
export interface FlowFigures {
  /** Bytes written, and bytes echoed back. */
  sent: number;
  received: number;
  resets: number;
  /** Error codes in order (ECONNRESET, ETIMEDOUT, …). */
  errors: string[];
  closed: boolean;
  /** The longest time without an echo since the last mark (up to now). */
  maxSilenceMs: number;
  /** Since the last echo (or the mark). */
  silentForMs: number;
}

export interface TcpFlows {
  /** Every connection's figures now. */
  report(): Promise<FlowFigures[]>;
  /** Starts a new window for maxSilenceMs. */
  mark(): void;
  /** Stops writing; what was sent can then be echoed in full. */
  quiesce(): void;
  stop(): Promise<void>;
}

function lines(child: ChildProcess, source: string): Collector<Record<string, unknown>> {
  const collected = new Collector<Record<string, unknown>>(source);
  createInterface({ input: child.stdout! }).on('line', (line) => collected.push(JSON.parse(line) as Record<string, unknown>));
  return collected;
}

/** An echo server on `host`, listening on `port` (every address) once this resolves. */
export async function startEchoServer(lab: Lab, host: Host, port: number): Promise<void> {
  const child = lab.spawn(host, 'nice', [...niceness, process.execPath, '--import', 'tsx', script, 'server', String(port)]);
  await lines(child, `echo server on ${host.name}`).waitFor((line) => line.listening === true, 20_000);
}

/** `count` connections from `host` to `target`:`port`, each writing every `intervalMs`; resolves once all are open. */
export async function startTcpFlows(
  lab: Lab,
  host: Host,
  target: { address: string; port: number },
  count: number,
  intervalMs: number,
): Promise<TcpFlows> {
  const child = lab.spawn(host, 'nice', [
    ...niceness,
    process.execPath,
    '--import',
    'tsx',
    script,
    'client',
    target.address,
    String(target.port),
    String(count),
    String(intervalMs),
  ]);
  const output = lines(child, `flows from ${host.name}`);
  const opened = await output.waitFor((line) => line.ready === true || 'failed' in line, 30_000);
  if ('failed' in opened) throw new Error(`flows from ${host.name}: ${String(opened.failed)}`);
  const command = (text: string) => child.stdin!.write(`${text}\n`);
  let reports = 0;
  return {
    report: async () => {
      const seen = reports++;
      command('report');
      const answers = () => output.items.filter((line) => 'report' in line);
      await output.waitFor(() => answers().length > seen, 10_000);
      return answers()[seen]!.report as FlowFigures[];
    },
    mark: () => command('mark'),
    quiesce: () => command('quiesce'),
    stop: () => stopChild(child),
  };
}
