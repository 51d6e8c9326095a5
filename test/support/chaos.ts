// Chaos in the takeover lab: a seeded generator injects one fault at a time into a
// pair of real `tandem run` daemons (kill -9 and restart, SIGTERM, link and switch
// faults, partitions and heartbeat loss with nftables on the bridges, CPU bursts,
// reloads, operator commands, wall-clock steps), while a client probes the VIP every
// 10 ms. After each fault it checks the invariants and records every violation with
// the seed and the fault's index, so a run can be replayed (`--seed`).
// This kernel has no sch_netem: heartbeat loss is nftables' `numgen random`, and
// delay is not injected.
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Director, LogEvent } from './director-pair.js';
import { cli, heartbeatPort } from './director-pair.js';
import { TakeoverLab, parseReply, prober, vip, echoPort, type ProbeReply } from './takeover-lab.js';
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
  /** Extra `tandem run` arguments, e.g. ['--realtime']. */
  args?: string[];
  onFault?: (record: FaultRecord, violations: Violation[]) => void;
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

/** The longest time between answered probes within [from, to], counting the edges of the window. */
export function longestSilence(replies: ProbeReply[], from: number, to: number): number {
  const times = replies.map((r) => r.sentAt).filter((t) => t >= from && t <= to);
  times.sort((x, y) => x - y);
  let longest = 0;
  let previous = from;
  for (const t of times) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.max(longest, to - previous);
}

/** Faults that are undone while both daemons run: after the heal, at most a deadtime of loss. */
const healedFaults = new Set<FaultKind>(['link-down', 'partition-two-way', 'partition-one-way', 'heartbeat-loss']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const faketimeLibrary = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** The lab plus what chaos needs on top: its own probe, role spans, expected exits, clock files. */
export class ChaosLab {
  private readonly replies: ProbeReply[] = [];
  private probe?: Watch;
  private readonly spans: RoleSpan[] = [];
  private readonly activeSince = new Map<string, number>();
  private readonly expectingExit = new Set<string>();
  private readonly unexpectedExits: string[] = [];
  private readonly deafWindows: Array<[number, number]> = [];
  /** Role changes, for the violation reports. */
  private readonly transitions: Array<{ at: number; text: string }> = [];
  private weight = 1;

  private constructor(
    readonly lab: TakeoverLab,
    private readonly options: Required<Pick<ChaosOptions, 'keepaliveMs' | 'deadtimeMs'>> & { args: string[] },
  ) {}

  static async create(options: { keepaliveMs: number; deadtimeMs: number; args: string[] }): Promise<ChaosLab> {
    const lab = await TakeoverLab.create({ keepalive: `${options.keepaliveMs}ms`, deadtime: `${options.deadtimeMs}ms` });
    const chaos = new ChaosLab(lab, options);
    try {
      await Promise.all(lab.nodes.map(async (node) => writeFile(chaos.clockFile(node), '+0\n')));
      await Promise.all(lab.nodes.map((node) => chaos.start(node)));
      await lab.settled(15_000);
      await lab.warmNeighbours();
      await chaos.startProbe();
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
    this.probe = await this.lab.pair.lab.watch(this.lab.client, process.execPath, [
      '--import',
      'tsx',
      prober,
      vip,
      String(echoPort),
      '--interval',
      '10',
    ]);
  }

  /** Probe replies so far (the probe's lines are consumed, so a long run stays small). */
  private drainProbe(): void {
    const lines = this.probe!.lines;
    for (const line of lines.splice(0, lines.length)) {
      const reply = parseReply(line);
      if (reply) this.replies.push(reply);
    }
  }

  private repliesSince(from: number): ProbeReply[] {
    this.drainProbe();
    // keep a minute of history at most
    const keepFrom = Date.now() - 60_000;
    while (this.replies.length > 0 && this.replies[0]!.sentAt < keepFrom) this.replies.shift();
    return this.replies.filter((r) => r.sentAt >= from - 1000);
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

  async tandem(node: Director, args: string[]): Promise<void> {
    const result = await this.lab.pair.tandem(node, args);
    if (result.code !== 0) throw new Error(`tandem ${args.join(' ')} on ${node.name}: ${result.stderr.trim()}`);
  }

  /** Busy loops on every CPU for `ms`, ended by PID. */
  async cpuBurst(ms: number): Promise<void> {
    const { lab } = this.lab.pair;
    const loops: ChildProcess[] = [0, 1].map(() => lab.spawn(this.lab.client, 'sh', ['-c', 'while :; do :; done']));
    await sleep(ms);
    for (const loop of loops) loop.kill('SIGKILL');
  }

  /** The invariants over [startedAt, now] for one fault. */
  check(record: FaultRecord, seed: number): Violation[] {
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
    const replies = this.repliesSince(record.startedAt);
    record.outageMs = longestSilence(replies, record.startedAt, record.settledAt);
    record.afterHealMs = longestSilence(replies, record.healedAt, record.settledAt);
    if (record.outageMs > deadtimeMs + 50) violate('outage', `the VIP did not answer for ${record.outageMs.toFixed(0)} ms`);
    if (healedFaults.has(record.kind) && record.afterHealMs > deadtimeMs + 20)
      violate('heal', `after the heal the VIP did not answer for ${record.afterHealMs.toFixed(0)} ms`);
    for (const exit of this.unexpectedExits.splice(0)) violate('no-exit', exit);
    this.transitions.splice(0, this.transitions.length);
    // spans that ended before this fault are no longer needed
    for (let i = this.spans.length - 1; i >= 0; i--) if (this.spans[i]!.to < record.startedAt) this.spans.splice(i, 1);
    return violations;
  }

  async destroy(): Promise<void> {
    for (const node of this.lab.nodes) this.expectExit(node);
    await this.probe?.stop();
    await this.lab.destroy();
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
    await chaos.lab.startResponder(victim);
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
  const chaos = await ChaosLab.create({ keepaliveMs, deadtimeMs, args: options.args ?? [] });
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
      };
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
      violations.push(...chaos.check(record, options.seed));
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
