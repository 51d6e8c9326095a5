// Shared by the sync tests of the VM tier: the loopback daemons' settings as normalise
// fills them in, and the director's connection table read through the table's parser.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout } from 'node:timers/promises';
import type { IpvsKernelSyncSpec } from '../../src/config/model.js';
import { forwardingLookup, parseProcLine, toConnection } from '../../src/sync/ipvs/proc.js';
import type { IpvsConnection } from '../../src/sync/ipvs/index.js';
import { Collector, stopChild, type Host, type Lab } from '../support/netns.js';

export const sleep = (ms: number) => setTimeout(ms);

/** Flows through the VIP in the sync files (test/ipvs/run sets 50; the issue asks for 200). */
export const flowCount = Number(process.env.TANDEM_SYNC_FLOWS ?? 200);
/** How often each flow exchanges a line. */
export const flowEveryMs = 50;

/** `sync.ipvs.kernel` as normalise fills it in by default (a unit test holds them equal), and any overrides. */
export function ipvsKernelSync(overrides: Partial<IpvsKernelSyncSpec> = {}): IpvsKernelSyncSpec {
  return { ...defaultIpvsKernelSync, ...overrides };
}

export const defaultIpvsKernelSync: IpvsKernelSyncSpec = {
  group: '239.255.84.78',
  port: 8850,
  threshold: 3,
  period: 0,
  refreshPeriod: 10,
  retries: 0,
  persistMode: false,
  ports: 1,
};

/** The connections of /proc/net/ip_vs_conn (of this namespace, or of the process `pid`'s). */
export function kernelConnections(pid?: number): Promise<IpvsConnection[]> {
  const text = readFileSync(pid === undefined ? '/proc/net/ip_vs_conn' : `/proc/${pid}/net/ip_vs_conn`, 'utf8');
  const forwarding = forwardingLookup([]);
  return Promise.resolve(
    text.split('\n').flatMap((line, index) => {
      const parsed = parseProcLine(line, index + 1);
      return parsed ? [toConnection(parsed, forwarding)] : [];
    }),
  );
}

/** Resolves once `probe` holds; throws naming `what` after `timeoutMs`. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A process in a lab namespace: JSON lines in, JSON lines out (sync-bridge.ts, flows.ts). */
export class LineProcess {
  private readonly lines = new Collector<Record<string, unknown>>('line process');
  private readonly listeners = new Set<(message: Record<string, unknown>) => void>();
  private taken = 0;

  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const message = JSON.parse(line) as Record<string, unknown>;
      for (const listener of this.listeners) listener(message);
      this.lines.push(message);
    });
    child.stderr?.on('data', (data: Buffer) => process.stderr.write(data));
    // once its output is read: a process that ended (a crash, the guest's OOM killer) fails
    // what waits for it at once, not with 'nothing' at a time limit
    child.once('close', (code, signal) => this.lines.push({ op: 'exited', code, signal }));
  }

  /** `node --import tsx test/ipvs/SCRIPT ARGS` in the host's namespace. */
  static start(lab: Lab, host: Host, script: string, args: string[] = []): LineProcess {
    return new LineProcess(lab.spawn(host, process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args]));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  send(message: object | string): void {
    this.child.stdin?.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /** The next message (after the ones already taken) that matches. */
  async next(predicate: (message: Record<string, unknown>) => boolean, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const message = await this.lines.waitFor(
      (candidate) => this.lines.items.indexOf(candidate) >= this.taken && (predicate(candidate) || candidate.op === 'exited'),
      timeoutMs,
    );
    if (message.op === 'exited' && !predicate(message))
      throw new Error(`line process ${this.pid} ended (code ${String(message.code)}, signal ${String(message.signal)}) before it answered`);
    this.taken = this.lines.items.indexOf(message) + 1;
    return message;
  }

  on(listener: (message: Record<string, unknown>) => void): void {
    this.listeners.add(listener);
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** sync-bridge.ts: the IPVS table of a lab namespace. */
export class TableBridge {
  private constructor(readonly process: LineProcess) {}

  static async start(lab: Lab, host: Host): Promise<TableBridge> {
    const bridge = new TableBridge(LineProcess.start(lab, host, 'sync-bridge.ts'));
    await bridge.count(600_000);
    return bridge;
  }

  async count(timeoutMs?: number): Promise<{ total: number; established: number }> {
    this.process.send({ op: 'count' });
    return (await this.process.next((message) => message.op === 'count', timeoutMs)) as unknown as { total: number; established: number };
  }

  async dump(): Promise<{ records: string[]; ms: number }> {
    const records: string[] = [];
    const collect = (message: Record<string, unknown>) => {
      if (message.op === 'dump') records.push(...(message.records as string[]));
    };
    this.process.on(collect);
    this.process.send({ op: 'dump' });
    const end = await this.process.next((message) => message.op === 'dump-end');
    return { records, ms: end.ms as number };
  }

  async commit(records: string[]): Promise<{ written: number; failed: number; ms: number }> {
    this.process.send({ op: 'commit', records });
    return (await this.process.next((message) => message.op === 'commit')) as unknown as { written: number; failed: number; ms: number };
  }

  /** Every change the table sees from now on goes to `onRecords`. */
  async watch(onRecords: (records: string[]) => void): Promise<void> {
    this.process.on((message) => {
      if (message.op === 'changes') onRecords(message.records as string[]);
    });
    this.process.send({ op: 'watch' });
    await this.process.next((message) => message.op === 'watching');
  }
}
