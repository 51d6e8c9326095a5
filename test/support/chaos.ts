// Chaos in the takeover lab: a seeded generator injects one fault at a time into a
// pair of real `tandem run` daemons (kill -9 and restart, SIGTERM, link and switch
// faults, partitions and heartbeat loss with nftables on the bridges, CPU bursts,
// reloads, operator commands, wall-clock steps), while a client probes the VIP every
// 10 ms. After each fault it checks the invariants and records every violation with
// the seed and the fault's index, so a run can be replayed (`--seed`).
// This kernel has no sch_netem: heartbeat loss is nftables' `numgen random`, and
// delay is not injected.
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Director, LogEvent } from './director-pair.js';
import { cli, heartbeatPort } from './director-pair.js';
import { TakeoverLab, parseReply, prober, vip, echoPort } from './takeover-lab.js';
import type { Watch } from './netns.js';

export const faultKinds = [
  'kill-restart',
  'sigterm-restart',
  'link-down',
  'partition-two-way',
  'partition-one-way',
  'heartbeat-loss',
  'cpu-burst',
  'reload',
  'operator-failover',
  'operator-takeover',
  'standby-resume',
  'clock-step',
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface FaultRecord {
  index: number;
  kind: FaultKind;
  detail: string;
  startedAt: number;
  /** When the fault was undone (a partition healed, a link back up); the start for one-shot faults. */
  healedAt: number;
  settledAt: number;
  /** The longest time the VIP did not answer the client, from the fault until it settled. */
  outageMs: number;
  /** The longest time it did not answer after the heal (partitions, loss). */
  afterHealMs: number;
  /**
   * How late the daemons ran during the fault, as they logged it (the largest
   * `timer.late` lateMs or `heartbeat.late` latenessMs; both are rate-limited, so a floor).
   */
  daemonLateMs: number;
  /** Time each process's main thread waited for a CPU during the fault (run-queue wait, ms): the machine's load. */
  cpuWaitMs: Record<string, number>;
  /** Time each process's main thread ran on a CPU during the fault (ms): late with little of
   *  either, it was blocked (asleep on a lock, a page fault), not busy. */
  onCpuMs: Record<string, number>;
}

export interface Violation {
  seed: number;
  index: number;
  kind: FaultKind;
  invariant: string;
  detail: string;
}

export interface ChaosOptions {
  seed: number;
  /** Only these kinds (default: all). */
  kinds?: readonly FaultKind[];
  /** 'each': every kind once per round, in a seeded order; 'random': any kind each time (default). */
  order?: 'random' | 'each';
  /** Stop injecting after this long (ms) or after `faults` faults, whichever comes first. */
  durationMs: number;
  faults?: number;
  keepaliveMs?: number;
  deadtimeMs?: number;
  /** The longest client outage allowed per kind (default for every kind: deadtime + 50 ms). */
  outageBoundsMs?: Partial<Record<FaultKind, number>>;
  /** Extra `tandem run` arguments, e.g. ['--realtime']. */
  args?: string[];
  onFault?: (record: FaultRecord, violations: Violation[]) => void;
  /** Writes each fault's timeline here (both daemons' log events and the probe's gaps), and each node's whole log. */
  traceDir?: string;
}

export interface ChaosReport {
  seed: number;
  faults: FaultRecord[];
  violations: Violation[];
}

/** mulberry32: small, fast and seedable; enough to replay a fault schedule. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RoleSpan {
  node: string;
  from: number;
  to: number;
}

/** Where both nodes were ACTIVE at once, outside the windows in which they could not hear each other. */
export function dualActiveWhileHearing(spans: RoleSpan[], deafWindows: Array<[number, number]>): Array<[number, number]> {
  const nodes = [...new Set(spans.map((s) => s.node))];
  if (nodes.length < 2) return [];
  const [a, b] = nodes.map((n) => spans.filter((s) => s.node === n));
  const overlaps: Array<[number, number]> = [];
  for (const x of a!)
    for (const y of b!) {
      const from = Math.max(x.from, y.from);
      const to = Math.min(x.to, y.to);
      if (from < to) overlaps.push([from, to]);
    }
  return overlaps.flatMap((overlap) => subtractWindows(overlap, deafWindows));
}

function subtractWindows([from, to]: [number, number], windows: Array<[number, number]>): Array<[number, number]> {
  let pieces: Array<[number, number]> = [[from, to]];
  for (const [wFrom, wTo] of windows) {
    pieces = pieces.flatMap(([f, t]): Array<[number, number]> => {
      if (wTo <= f || wFrom >= t) return [[f, t]];
      const left: Array<[number, number]> = wFrom > f ? [[f, wFrom]] : [];
      const right: Array<[number, number]> = wTo < t ? [[wTo, t]] : [];
      return [...left, ...right];
    });
  }
  return pieces;
}

/** What the prober knows of one probe: answered (by whom), or lost (unanswered after its --report-lost wait). */
export type ProbeOutcome = { seq: number; sentAt: number } & ({ answered: true; responder: string } | { answered: false });

/** `reply SEQ SENT_AT RTT RESPONDER` or `lost SEQ SENT_AT` (deploy/lab/probe.ts with --report-lost). */
export function parseOutcome(line: string): ProbeOutcome | undefined {
  const reply = parseReply(line);
  if (reply) return { seq: reply.seq, sentAt: reply.sentAt, answered: true, responder: reply.responder };
  const lost = /^lost (\d+) ([\d.]+)$/.exec(line);
  return lost ? { seq: Number(lost[1]), sentAt: Number(lost[2]), answered: false } : undefined;
}

/**
 * The longest time within [from, to] that the VIP did not answer: from the first
 * probe of a run of lost ones to the next answered probe (or `to`). Time in which
 * the prober sent nothing (it was starved of CPU) is no outage: only lost probes
 * count, so a loaded machine does not pass for a product that dropped traffic.
 */
export function longestOutage(outcomes: readonly ProbeOutcome[], from: number, to: number): number {
  const sorted = [...outcomes].sort((a, b) => a.seq - b.seq);
  let longest = 0;
  let lostSince: number | undefined;
  const close = (until: number) => {
    if (lostSince === undefined) return;
    longest = Math.max(longest, Math.min(until, to) - Math.max(lostSince, from));
    lostSince = undefined;
  };
  for (const outcome of sorted) {
    if (outcome.answered) close(outcome.sentAt);
    else lostSince ??= outcome.sentAt;
  }
  close(to);
  return longest;
}

/** Faults that are undone while both daemons run: after the heal, at most a deadtime of loss. */
const healedFaults = new Set<FaultKind>(['link-down', 'partition-two-way', 'partition-one-way', 'heartbeat-loss']);

/** A thread's time so far: on a CPU, and runnable but waiting for one (ms). */
export interface CpuTimes {
  onCpuMs: number;
  waitMs: number;
}

/** A process's main thread's times (the first two schedstat fields, ns); undefined once it is gone. */
function mainThreadCpuTimes(pid: number): CpuTimes | undefined {
  try {
    return parseSchedstat(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** /proc/…/schedstat: on-CPU ns, run-queue wait ns, time slices run. */
export function parseSchedstat(text: string): CpuTimes {
  const [onCpu, wait] = text.trim().split(' ').map(Number);
  return { onCpuMs: (onCpu ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 };
}

/**
 * Where a daemon's log line goes on the run's clock. Its own stamp is finer than
 * when the line was read, but only while its wall clock is not stepped: steps are
 * whole seconds, and a line is read within milliseconds of being written, so a
 * stamp further than this from the line's arrival comes from a stepped clock.
 */
const steppedClockMs = 250;

export function timelineAt({ time, receivedAt }: Pick<LogEvent, 'time' | 'receivedAt'>): number {
  return receivedAt === undefined || Math.abs(time - receivedAt) < steppedClockMs ? time : receivedAt;
}

/** The probe's and responders' real-time priority: below the daemons' (defaultRealtimePriority, 10). */
const toolPriority = 5;
const execFileAsync = promisify(execFile);

/** A probe unanswered this long is lost (a reply later than that is no use to a client probing every 10 ms either). */
const reportLostAfterMs = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const faketimeLibrary = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** The lab plus what chaos needs on top: its own probe, role spans, expected exits, clock files. */
export class ChaosLab {
  private readonly outcomes: ProbeOutcome[] = [];
  private probe?: Watch;
  private readonly spans: RoleSpan[] = [];
  private readonly activeSince = new Map<string, number>();
  private readonly expectingExit = new Set<string>();
  private readonly unexpectedExits: string[] = [];
  private readonly deafWindows: Array<[number, number]> = [];
  /** Role changes, for the violation reports. */
  private readonly transitions: Array<{ at: number; text: string }> = [];
  private weight = 1;
  /** Operator commands refused once (and then carried out), for the trace. */
  private readonly refusals: string[] = [];
  /** The last checked fault's timeline, for the trace. */
  lastTrace = '';
  /** Each node's whole log across its restarts, one JSON line per event (with receivedAt), when tracing. */
  private readonly logFiles = new Map<string, WriteStream>();

  private constructor(
    readonly lab: TakeoverLab,
    private readonly options: Required<Pick<ChaosOptions, 'keepaliveMs' | 'deadtimeMs' | 'outageBoundsMs' | 'args'>> &
      Pick<ChaosOptions, 'traceDir'>,
  ) {}

  static async create(options: ChaosLab['options']): Promise<ChaosLab> {
    const lab = await TakeoverLab.create({ keepalive: `${options.keepaliveMs}ms`, deadtime: `${options.deadtimeMs}ms` });
    const chaos = new ChaosLab(lab, options);
    try {
      await Promise.all(lab.nodes.map(async (node) => writeFile(chaos.clockFile(node), '+0\n')));
      await Promise.all(lab.nodes.map((node) => chaos.start(node)));
      await lab.settled(15_000);
      await lab.warmNeighbours();
      await chaos.startProbe();
      await Promise.all(lab.nodes.map((node) => chaos.promptResponder(node)));
      return chaos;
    } catch (error) {
      await lab.destroy();
      throw error;
    }
  }

  private clockFile(node: Director): string {
    return join(this.lab.pair.dir, `${node.name}.clock`);
  }

  /** Starts the node's daemon under libfaketime, so its wall clock can be stepped while it runs. */
  async start(node: Director): Promise<void> {
    const prefix = [
      'env',
      `LD_PRELOAD=${faketimeLibrary}`,
      `FAKETIME_TIMESTAMP_FILE=${this.clockFile(node)}`,
      'FAKETIME_CACHE_DURATION=1',
      'FAKETIME_DONT_FAKE_MONOTONIC=1',
    ];
    await this.lab.pair.start(node, { prefix, args: this.options.args });
    const child = node.process!;
    const logs = node.logs;
    this.expectingExit.delete(node.name);
    child.once('exit', (code, signal) => {
      this.endActive(node.name, Date.now());
      if (!this.expectingExit.has(node.name)) this.unexpectedExits.push(`${node.name} exited (${code ?? signal})`);
    });
    // Role spans from the daemon's own log, timed by when the line arrived (its clock may be stepped).
    const follow = (event: LogEvent) => {
      this.logFile(node)?.write(`${JSON.stringify(event)}\n`);
      if (event.event !== 'role.change') return;
      const at = event.receivedAt ?? Date.now();
      this.transitions.push({ at, text: `${node.name} ${String(event.from)}->${String(event.to)} ${String(event.reason)}` });
      if (event.to === 'ACTIVE') this.activeSince.set(node.name, at);
      else this.endActive(node.name, at);
    };
    let seen = 0;
    const poll = setInterval(() => {
      while (seen < logs.items.length) follow(logs.items[seen++]!);
      if (child.exitCode !== null || child.signalCode !== null) clearInterval(poll);
    }, 5);
  }

  private logFile(node: Director): WriteStream | undefined {
    const { traceDir } = this.options;
    if (traceDir === undefined) return undefined;
    let file = this.logFiles.get(node.name);
    if (!file) this.logFiles.set(node.name, (file = createWriteStream(join(traceDir, `${node.name}.log`), { flags: 'a' })));
    return file;
  }

  /** The node is about to freeze: whatever it believes from now on, nobody hears it. */
  frozen(node: Director): void {
    this.endActive(node.name, Date.now());
  }

  private endActive(node: string, at: number): void {
    const since = this.activeSince.get(node);
    if (since === undefined) return;
    this.spans.push({ node, from: since, to: at });
    this.activeSince.delete(node);
  }

  private async startProbe(): Promise<void> {
    this.probe = await this.lab.pair.lab.watch(
      this.lab.client,
      process.execPath,
      ['--import', 'tsx', prober, vip, String(echoPort), '--interval', '10', '--report-lost', String(reportLostAfterMs)],
      /^reply /,
    );
    await this.keepPrompt(this.probe.pid);
  }

  /** (Re)starts the node's responder on the VIP. */
  async startResponder(node: Director): Promise<void> {
    await this.lab.startResponder(node);
    await this.promptResponder(node);
  }

  private promptResponder(node: Director): Promise<void> {
    return this.keepPrompt(this.lab.responders.get(node.name)?.pid);
  }

  /**
   * With --realtime the client's probe and the responders run real-time too, below the
   * daemons: they stand for the client and the service, and on a loaded machine a
   * starved prober or responder would be measured, not the pair.
   */
  private async keepPrompt(pid: number | undefined): Promise<void> {
    if (pid === undefined || !this.options.args.includes('--realtime')) return;
    await execFileAsync('chrt', ['--all-tasks', '--rr', '--pid', String(toolPriority), String(pid)]);
  }

  /** Probe outcomes so far (the probe's lines are consumed, so a long run stays small). */
  private drainProbe(): void {
    const lines = this.probe!.lines;
    for (const line of lines.splice(0, lines.length)) {
      const outcome = parseOutcome(line);
      if (outcome) this.outcomes.push(outcome);
    }
    // keep a minute of history at most
    const keepFrom = Date.now() - 60_000;
    while (this.outcomes.length > 0 && this.outcomes[0]!.sentAt < keepFrom) this.outcomes.shift();
  }

  /** Once the prober has told the fate of every probe sent up to `until` (a lost one takes its --report-lost wait). */
  private async outcomesUntil(from: number, until: number): Promise<ProbeOutcome[]> {
    const deadline = Date.now() + reportLostAfterMs + 2000;
    for (;;) {
      this.drainProbe();
      const latest = this.outcomes.reduce((max, o) => Math.max(max, o.sentAt), 0);
      if (latest >= until || Date.now() > deadline) break;
      await sleep(20);
    }
    return this.outcomes.filter((o) => o.sentAt >= from - 1000);
  }

  /** The node holding the role, and the other one. */
  async roles(): Promise<[Director, Director]> {
    return this.lab.settled(15_000);
  }

  expectExit(node: Director): void {
    this.expectingExit.add(node.name);
  }

  markDeaf(from: number, to: number): void {
    this.deafWindows.push([from, to]);
  }

  /** nftables on the switches' bridges: drop what goes from one director to the other (all, or a share of heartbeats). */
  async filterBetween(from: Director, to: Director, rule: 'all' | { heartbeatLossPercent: number }): Promise<void> {
    const { lab } = this.lab.pair;
    const match = rule === 'all' ? 'drop' : `udp dport ${heartbeatPort} numgen random mod 100 < ${rule.heartbeatLossPercent} drop`;
    const lines = ['eth0', 'eth1'].map(
      (ifname) =>
        `add rule bridge chaos forward iifname "${lab.switchPort(from.host, ifname)}" oifname "${lab.switchPort(to.host, ifname)}" ${match}`,
    );
    await lab.execSwitch(
      'nft',
      ['-f', '-'],
      [`add table bridge chaos`, `add chain bridge chaos forward { type filter hook forward priority 0; policy accept; }`, ...lines].join(
        '\n',
      ) + '\n',
    );
  }

  async clearFilters(): Promise<void> {
    await this.lab.pair.lab.execSwitch('nft', ['delete', 'table', 'bridge', 'chaos']).catch(() => undefined);
  }

  /** As the unit's ExecStopPost does after a kill: take off what the dead daemon held. */
  async cleanupAfterKill(node: Director): Promise<void> {
    await this.lab.pair.lab.exec(node.host, 'env', [
      'SERVICE_RESULT=signal',
      'EXIT_CODE=killed',
      'EXIT_STATUS=KILL',
      process.execPath,
      cli,
      'cleanup',
      '--config',
      node.config,
      '--socket',
      node.socket,
      '--after-stop',
    ]);
  }

  async stepClock(node: Director, offsetSeconds: number): Promise<void> {
    await writeFile(this.clockFile(node), `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}\n`);
  }

  /** Both configurations get the real server's new weight (the same on both nodes). */
  async setWeight(weight: number): Promise<void> {
    this.weight = weight;
    await Promise.all(
      this.lab.nodes.map(async (node) => {
        const text = await readFile(node.config, 'utf8');
        await writeFile(
          node.config,
          text.replace(/\{ name: ics01, address: ([\d.]+)(?:, weight: \d+)? \}/, `{ name: ics01, address: $1, weight: ${weight} }`),
        );
      }),
    );
  }

  get currentWeight(): number {
    return this.weight;
  }

  /**
   * An operator command; refused (exit 1, the reason on stdout), it is tried once more
   * after a deadtime, as an operator would: on a loaded machine the daemon may refuse
   * with good reason just then (e.g. the peer did not hear us for a moment).
   */
  async tandem(node: Director, args: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.lab.pair.tandem(node, args);
      if (result.code === 0) return;
      const why = `${result.stdout}${result.stderr}`.trim();
      if (attempt > 1 || result.code !== 1 || result.stdout.trim() === '')
        throw new Error(`tandem ${args.join(' ')} on ${node.name}${attempt > 1 ? ' (twice)' : ''}: ${why}`);
      this.refusals.push(`tandem ${args.join(' ')} on ${node.name}: ${why}`);
      await sleep(this.options.deadtimeMs);
    }
  }

  /** Busy loops on every CPU for `ms`, ended by PID. */
  async cpuBurst(ms: number): Promise<void> {
    const { lab } = this.lab.pair;
    const loops: ChildProcess[] = [0, 1].map(() => lab.spawn(this.lab.client, 'sh', ['-c', 'while :; do :; done']));
    await sleep(ms);
    for (const loop of loops) loop.kill('SIGKILL');
  }

  /** The invariants over [startedAt, now] for one fault. */
  async check(record: FaultRecord, seed: number): Promise<Violation[]> {
    const { deadtimeMs } = this.options;
    const violations: Violation[] = [];
    const during = this.transitions.filter((t) => t.at >= record.startedAt).map((t) => `+${t.at - record.startedAt}ms ${t.text}`);
    const violate = (invariant: string, detail: string) =>
      violations.push({ seed, index: record.index, kind: record.kind, invariant, detail: `${detail} [${during.join('; ')}]` });
    const now = Date.now();
    const open = [...this.activeSince].map(([node, from]) => ({ node, from, to: now }));
    const relevant = [...this.spans, ...open].filter((s) => s.to >= record.startedAt);
    for (const [from, to] of dualActiveWhileHearing(relevant, this.deafWindows)) {
      if (to - from > deadtimeMs) violate('one-active', `both ACTIVE for ${to - from} ms while they could hear each other`);
    }
    const outcomes = await this.outcomesUntil(record.startedAt, record.settledAt);
    record.outageMs = longestOutage(outcomes, record.startedAt, record.settledAt);
    record.afterHealMs = longestOutage(outcomes, record.healedAt, record.settledAt);
    const bound = this.options.outageBoundsMs[record.kind] ?? deadtimeMs + 50;
    if (record.outageMs > bound) violate('outage', `the VIP did not answer for ${record.outageMs.toFixed(0)} ms (at most ${bound})`);
    if (healedFaults.has(record.kind) && record.afterHealMs > deadtimeMs + 20)
      violate('heal', `after the heal the VIP did not answer for ${record.afterHealMs.toFixed(0)} ms`);
    for (const exit of this.unexpectedExits.splice(0)) violate('no-exit', exit);
    record.daemonLateMs = this.loggedLateness(record.startedAt, record.settledAt);
    this.lastTrace = this.timeline(record, outcomes);
    this.transitions.splice(0, this.transitions.length);
    // spans that ended before this fault are no longer needed
    for (let i = this.spans.length - 1; i >= 0; i--) if (this.spans[i]!.to < record.startedAt) this.spans.splice(i, 1);
    return violations;
  }

  private loggedLateness(from: number, to: number): number {
    let late = 0;
    for (const node of this.lab.nodes)
      for (const e of node.logs.items) {
        const at = e.receivedAt ?? e.time;
        if (at < from || at > to) continue;
        if (e.event === 'timer.late') late = Math.max(late, Number(e.lateMs));
        if (e.event === 'heartbeat.late') late = Math.max(late, Number(e.latenessMs));
      }
    return late;
  }

  /** Each daemon's and the prober's main-thread CPU times so far, by name, with the PID they belong to. */
  cpuTimes(): Map<string, CpuTimes & { pid: number }> {
    const processes: Array<[string, number | undefined]> = [
      ...this.lab.nodes.map((node): [string, number | undefined] => [node.name, node.process?.pid]),
      ['prober', this.probe?.pid],
    ];
    const times = new Map<string, CpuTimes & { pid: number }>();
    for (const [name, pid] of processes) {
      const sofar = pid === undefined ? undefined : mainThreadCpuTimes(pid);
      if (pid !== undefined && sofar !== undefined) times.set(name, { pid, ...sofar });
    }
    return times;
  }

  /** Both daemons' log events and the probe's gaps over 25 ms, in time order, relative to the fault's start. */
  private timeline(record: FaultRecord, outcomes: ProbeOutcome[]): string {
    const from = record.startedAt - 500;
    const lines: Array<{ at: number; text: string }> = [];
    for (const node of this.lab.nodes)
      for (const { receivedAt, time, msg, ...fields } of node.logs.items) {
        const at = timelineAt({ time, ...(receivedAt !== undefined && { receivedAt }) });
        if (at < from || at > record.settledAt) continue;
        lines.push({ at, text: `${node.name} ${msg ?? ''} ${JSON.stringify(fields)}` });
      }
    const sorted = outcomes.filter((o) => o.sentAt >= from && o.sentAt <= record.settledAt).sort((a, b) => a.seq - b.seq);
    const describe = (o: ProbeOutcome) => `seq ${o.seq} (${o.answered ? o.responder : 'lost'})`;
    for (let i = 1; i < sorted.length; i++) {
      const [before, after] = [sorted[i - 1]!, sorted[i]!];
      if (after.sentAt - before.sentAt > 25 || !after.answered || !before.answered)
        lines.push({
          at: before.sentAt,
          text: `probe ${(after.sentAt - before.sentAt).toFixed(0)} ms: ${describe(before)} -> ${describe(after)}`,
        });
    }
    for (const refusal of this.refusals.splice(0)) lines.push({ at: record.startedAt, text: `refused once: ${refusal}` });
    lines.sort((a, b) => a.at - b.at);
    const head = `fault ${record.index} ${record.kind} ${record.detail}: outage ${record.outageMs.toFixed(0)} ms, daemons late ${record.daemonLateMs} ms, CPU wait ${JSON.stringify(record.cpuWaitMs)}, on CPU ${JSON.stringify(record.onCpuMs)}`;
    return [head, ...lines.map((l) => `${(l.at - record.startedAt).toFixed(0).padStart(6)} ${l.text}`)].join('\n') + '\n';
  }

  async destroy(): Promise<void> {
    for (const node of this.lab.nodes) this.expectExit(node);
    await this.probe?.stop();
    await this.lab.destroy();
    await Promise.all([...this.logFiles.values()].map((file) => new Promise((resolve) => file.end(resolve))));
  }
}

interface FaultContext {
  chaos: ChaosLab;
  random: () => number;
  /** Records when the fault was undone, and what it hit. */
  note: (healedAt: number, detail: string) => void;
  /** An invariant the fault itself saw broken. */
  fail: (invariant: string) => void;
}

type Inject = (context: FaultContext) => Promise<void>;

const between = (random: () => number, min: number, max: number) => Math.round(min + random() * (max - min));
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** What each fault does. */
const injectors: Record<FaultKind, Inject> = {
  'kill-restart': async ({ chaos, random, note, fail }) => {
    const [active] = await chaos.roles();
    const victim = random() < 0.7 ? active : chaos.lab.nodes.find((n) => n !== active)!;
    chaos.expectExit(victim);
    chaos.frozen(victim);
    await chaos.lab.die(victim);
    await chaos.cleanupAfterKill(victim);
    if ((await chaos.lab.managed(victim)).length > 0) fail('vip-left-behind');
    await sleep(between(random, 300, 2000));
    note(Date.now(), victim.name);
    // as the lab's revive: the daemon starts (removing what the dead one left), then the cables
    await chaos.start(victim);
    await chaos.startResponder(victim);
    await Promise.all(['eth0', 'eth1'].map((ifname) => chaos.lab.pair.lab.setSwitchPort(victim.host, ifname, true)));
  },
  'sigterm-restart': async ({ chaos, random, note, fail }) => {
    const [active, backup] = await chaos.roles();
    const victim = random() < 0.7 ? active : backup;
    chaos.expectExit(victim);
    await chaos.lab.pair.stop(victim);
    if ((await chaos.lab.managed(victim)).length > 0) fail('vip-left-behind');
    await sleep(between(random, 200, 1500));
    note(Date.now(), victim.name);
    await chaos.start(victim);
  },
  'link-down': async ({ chaos, random, note }) => {
    const node = pick(random, chaos.lab.nodes);
    const ifname = pick(random, ['eth0', 'eth1']);
    const { lab } = chaos.lab.pair;
    await lab.setSwitchPort(node.host, ifname, false);
    await sleep(between(random, 300, 3000));
    await lab.setSwitchPort(node.host, ifname, true);
    note(Date.now(), `${node.name} ${ifname}`);
  },
  'partition-two-way': async ({ chaos, random, note }) => {
    const [a, b] = chaos.lab.nodes;
    const from = Date.now();
    await chaos.filterBetween(a, b, 'all');
    await chaos.filterBetween(b, a, 'all');
    await sleep(between(random, 300, 4000));
    await chaos.clearFilters();
    const healedAt = Date.now();
    chaos.markDeaf(from, healedAt);
    note(healedAt, '');
  },
  'partition-one-way': async ({ chaos, random, note }) => {
    const [a, b] = random() < 0.5 ? chaos.lab.nodes : [...chaos.lab.nodes].reverse();
    const from = Date.now();
    await chaos.filterBetween(a!, b!, 'all');
    await sleep(between(random, 300, 4000));
    await chaos.clearFilters();
    const healedAt = Date.now();
    chaos.markDeaf(from, healedAt);
    note(healedAt, `${a!.name} -> ${b!.name} dropped`);
  },
  'heartbeat-loss': async ({ chaos, random, note }) => {
    const percent = between(random, 5, 30);
    const [a, b] = chaos.lab.nodes;
    await chaos.filterBetween(a, b, { heartbeatLossPercent: percent });
    await chaos.filterBetween(b, a, { heartbeatLossPercent: percent });
    await sleep(between(random, 1000, 5000));
    await chaos.clearFilters();
    note(Date.now(), `${percent}%`);
  },
  'cpu-burst': async ({ chaos, random, note, fail }) => {
    const ms = between(random, 1000, 5000);
    const before = await chaos.roles();
    await chaos.cpuBurst(ms);
    note(Date.now(), `${ms} ms`);
    const after = await chaos.roles();
    if (after[0] !== before[0]) fail('no-false-takeover');
  },
  reload: async ({ chaos, random, note, fail }) => {
    const before = await chaos.roles();
    await chaos.setWeight(between(random, 1, 100));
    await Promise.all(chaos.lab.nodes.map((node) => chaos.tandem(node, ['reload'])));
    note(Date.now(), `weight ${chaos.currentWeight}`);
    const after = await chaos.roles();
    if (after[0] !== before[0]) fail('reload-keeps-role');
  },
  'operator-failover': async ({ chaos, note }) => {
    const [active] = await chaos.roles();
    await chaos.tandem(active, ['failover']);
    note(Date.now(), active.name);
  },
  'operator-takeover': async ({ chaos, note }) => {
    const [, backup] = await chaos.roles();
    await chaos.tandem(backup, ['takeover']);
    note(Date.now(), backup.name);
  },
  'standby-resume': async ({ chaos, random, note }) => {
    const node = pick(random, chaos.lab.nodes);
    await chaos.tandem(node, ['standby']);
    await sleep(between(random, 300, 2000));
    await chaos.tandem(node, ['resume']);
    note(Date.now(), node.name);
  },
  'clock-step': async ({ chaos, random, note }) => {
    const node = pick(random, chaos.lab.nodes);
    const offset = pick(random, [-3600, -60, -1, 1, 60, 3600]) + between(random, -5, 5);
    await chaos.stepClock(node, offset);
    // libfaketime rereads the offset at most once a second
    await sleep(1500);
    note(Date.now(), `${node.name} ${offset > 0 ? '+' : ''}${offset} s`);
  },
};

/** Runs faults until the time or count is up; never throws for a violation, only for a broken lab. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const keepaliveMs = options.keepaliveMs ?? 50;
  const deadtimeMs = options.deadtimeMs ?? 200;
  const random = seededRandom(options.seed);
  if (options.traceDir !== undefined) await mkdir(options.traceDir, { recursive: true });
  const chaos = await ChaosLab.create({
    keepaliveMs,
    deadtimeMs,
    args: options.args ?? [],
    outageBoundsMs: options.outageBoundsMs ?? {},
    ...(options.traceDir !== undefined && { traceDir: options.traceDir }),
  });
  const report: ChaosReport = { seed: options.seed, faults: [], violations: [] };
  const deadline = Date.now() + options.durationMs;
  let round: FaultKind[] = [];
  const nextKind = (): FaultKind => {
    const kinds = options.kinds ?? faultKinds;
    if (options.order !== 'each') return pick(random, kinds);
    if (round.length === 0) round = [...kinds].sort(() => random() - 0.5);
    return round.shift()!;
  };
  try {
    for (let index = 0; Date.now() < deadline && index < (options.faults ?? Infinity); index++) {
      const kind = nextKind();
      const record: FaultRecord = {
        index,
        kind,
        detail: '',
        startedAt: Date.now(),
        healedAt: 0,
        settledAt: 0,
        outageMs: 0,
        afterHealMs: 0,
        daemonLateMs: 0,
        cpuWaitMs: {},
        onCpuMs: {},
      };
      const timesBefore = chaos.cpuTimes();
      const violations: Violation[] = [];
      const violate = (invariant: string, detail: string) => violations.push({ seed: options.seed, index, kind, invariant, detail });
      try {
        await injectors[kind]({
          chaos,
          random,
          note: (healedAt, detail) => {
            record.healedAt = healedAt;
            record.detail = detail;
          },
          fail: (invariant) => violate(invariant, record.detail),
        });
      } catch (error) {
        violate('fault-ran', (error as Error).message.split('\n')[0]!);
      }
      try {
        await chaos.lab.settled(15_000);
      } catch (error) {
        violate('settles', (error as Error).message.split('\n')[0]!);
      }
      // one more deadtime so a late flap is seen by the check
      await sleep(deadtimeMs + 100);
      record.settledAt = Date.now();
      if (record.healedAt === 0) record.healedAt = record.startedAt;
      for (const [name, after] of chaos.cpuTimes()) {
        // a process restarted during the fault counts from its start
        const before = timesBefore.get(name)?.pid === after.pid ? timesBefore.get(name) : undefined;
        record.cpuWaitMs[name] = Math.round(after.waitMs - (before?.waitMs ?? 0));
        record.onCpuMs[name] = Math.round(after.onCpuMs - (before?.onCpuMs ?? 0));
      }
      violations.push(...(await chaos.check(record, options.seed)));
      if (options.traceDir) await writeFile(join(options.traceDir, `fault-${String(index).padStart(3, '0')}-${kind}.log`), chaos.lastTrace);
      report.faults.push(record);
      report.violations.push(...violations);
      options.onFault?.(record, violations);
      // a quiet moment between faults, as the invariants are per fault
      await sleep(between(random, 200, 800));
    }
  } finally {
    await chaos.destroy();
  }
  return report;
}
