// Failover figures of two real `tandem run` processes in network namespaces (the
// lab's DirectorPair: two paths, JSON logs, control sockets):
//  - detection time: SIGKILL of the active until the backup logs role.change to ACTIVE;
//  - handover time: `failover` request until the peer logs ACTIVE (the role moved),
//    and until the old active saw it (the operator's answer);
//  each over FAILOVER_RUNS runs (default 20) at the default timers, at 50/200 ms and at
//  the most aggressive recommended ones (20/100 ms, which needs --realtime);
//  (FAILOVER_PARTS picks parts, see below)
//  - soaks of FAILOVER_SOAK_SECONDS (default 600) with the CPU both daemons run on
//    saturated by busy processes: at the default timers, and at 20/100 ms without and
//    with `--realtime` (without: the event loop at nice -20, or with `--no-nice` as
//    started, part soak-no-nice, not run by default) (plus a short idle baseline):
//    false takeovers, heartbeat
//    lateness on the wire (tcpdump timestamps, i.e. when the sender's datagrams
//    left), the daemons' own view (late heartbeats, own timer lateness, event loop
//    delay) and their garbage collection pauses. A real-time probe on the same CPU
//    (a 1 ms sleep loop) records when the CPU itself stopped (a virtual machine's
//    vCPU descheduled by its host, say), which no scheduling class inside can
//    help, so false takeovers can be told apart by cause.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { availableParallelism } from 'node:os';
import { sendControlRequest } from '../src/control/index.js';
import { DirectorPair, heartbeatPort, type LogEvent } from '../test/support/director-pair.js';
import { stopChild } from '../test/support/netns.js';
import { formatSummary, type Benchmark } from './benchmark.js';

const runs = Number(process.env.FAILOVER_RUNS ?? 20);
/** Which parts to run (comma-separated), default all but soak-no-nice: detection, idle, soak-default, soak-aggressive, soak-no-nice, soak-realtime. */
const parts = new Set((process.env.FAILOVER_PARTS ?? 'detection,idle,soak-default,soak-aggressive,soak-realtime').split(','));
const soakSeconds = Number(process.env.FAILOVER_SOAK_SECONDS ?? 600);
const idleSeconds = Math.min(60, soakSeconds);

interface Timers {
  label: string;
  keepalive: number;
  deadtime: number;
  realtime: boolean;
}

const defaults: Timers = { label: 'default timers (keepalive 100ms, deadtime 500ms)', keepalive: 100, deadtime: 500, realtime: false };
const aggressive: Timers = {
  label: 'most aggressive recommended (keepalive 20ms, deadtime 100ms, --realtime)',
  keepalive: 20,
  deadtime: 100,
  realtime: true,
};
const timerSets: Timers[] = [
  defaults,
  { label: 'keepalive 50ms, deadtime 200ms', keepalive: 50, deadtime: 200, realtime: false },
  aggressive,
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const atOf = (event: LogEvent) => Date.parse(String(event.at));

function createPair(timers: Timers): Promise<DirectorPair> {
  return DirectorPair.create({ keepalive: `${timers.keepalive}ms`, deadtime: `${timers.deadtime}ms` });
}

async function detectionAndHandover(timers: Timers): Promise<void> {
  const pair = await createPair(timers);
  const start = { args: timers.realtime ? ['--realtime'] : [] };
  try {
    await pair.startBoth(start);
    const detection: number[] = [];
    for (let i = 0; i < runs; i++) {
      const [active, backup] = await pair.settled();
      const killedAt = await pair.kill(active);
      detection.push(atOf(await pair.roleChange(backup, 'ACTIVE', killedAt - 1, 10_000)) - killedAt);
      await pair.start(active, start);
    }
    const moved: number[] = [];
    const answered: number[] = [];
    for (let i = 0; i < runs; i++) {
      const [active, backup] = await pair.settled();
      // Let the restarted node's state settle on both sides (acknowledged state versions).
      await sleep(2 * timers.keepalive);
      const requested = Date.now();
      const response = await sendControlRequest(active.socket, { command: 'failover' });
      if (!('role' in response) || !response.ok) throw new Error(`failover refused: ${JSON.stringify(response)}`);
      moved.push(atOf(await pair.roleChange(backup, 'ACTIVE', requested - 5)) - requested);
      answered.push(response.durationMs);
    }
    console.log(`${timers.label}:`);
    console.log(`  ${formatSummary('detection (kill -9 of the active → backup ACTIVE)', detection)}`);
    console.log(`  ${formatSummary('handover (failover request → peer ACTIVE)', moved)}`);
    console.log(`  ${formatSummary('handover confirmed (failover request → answer)', answered)}`);
  } finally {
    await pair.destroy();
  }
}

const probeScript = `
import sys, time
end = time.monotonic() + float(sys.argv[1])
last = time.monotonic()
while last < end:
    time.sleep(0.001)
    now = time.monotonic()
    if now - last > 0.02:
        print(round((now - last) * 1000, 1), round(time.time() * 1000), flush=True)
    last = now
`;

/** Stalls longer than 20 ms of a real-time sleeper on the CPU: [duration, end (epoch ms)]. */
function startProbe(cpu: string, seconds: number): { stalls: [number, number][]; done: Promise<void> } {
  const child = spawn('chrt', ['--rr', '10', 'taskset', '--cpu-list', cpu, 'python3', '-c', probeScript, String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stalls: [number, number][] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stalls.push(line.split(' ').map(Number) as [number, number]));
  return { stalls, done: new Promise((resolve) => child.once('exit', () => resolve())) };
}

/** Per sender, the lateness of each datagram after the previous one (gap − keepalive, not below 0). */
function wireLateness(lines: string[], keepalive: number): Map<string, number[]> {
  const last = new Map<string, number>();
  const lateness = new Map<string, number[]>();
  for (const line of lines) {
    const match = /^(\d+\.\d+) IP (\d+\.\d+\.\d+\.\d+)\.\d+ > /.exec(line);
    if (!match) continue;
    const at = Number(match[1]) * 1000;
    const source = match[2]!;
    const previous = last.get(source);
    last.set(source, at);
    if (previous === undefined) continue;
    if (!lateness.has(source)) lateness.set(source, []);
    lateness.get(source)!.push(Math.max(0, at - previous - keepalive));
  }
  return lateness;
}

/** How each daemon was scheduled, from its log. */
function scheduling(pair: DirectorPair): string {
  const kinds = new Set(['daemon.realtime', 'daemon.realtime-failed', 'daemon.priority', 'daemon.priority-failed']);
  return pair.nodes
    .map((node) => {
      const lines = node.logs.items.filter((e) => kinds.has(String(e.event))).map((e) => String(e.msg));
      return `${node.name}: ${lines.length > 0 ? lines.join('; ') : 'as started'}`;
    })
    .join('\n  ');
}

async function soak(label: string, seconds: number, timers: Timers, options: { load: boolean; args: string[] }): Promise<void> {
  const pair = await createPair(timers);
  // Daemons and load share one CPU (the last), so the rest of the machine stays usable.
  const cpu = String(availableParallelism() - 1);
  const prefix = ['taskset', '--cpu-list', cpu];
  const hogs: ChildProcess[] = [];
  try {
    await pair.startBoth({ prefix, args: options.args });
    await pair.settled();
    await sleep(1000);
    const wire = await pair.lab.watch(
      pair.nodes[0].host,
      'tcpdump',
      ['-l', '-n', '-tt', '--immediate-mode', '-i', 'eth0', `udp port ${heartbeatPort}`],
      /listening on/,
    );
    const before = pair.nodes.map((node) => pair.roleChanges(node).length);
    const logsFrom = pair.nodes.map((node) => node.logs.items.length);
    const probe = startProbe(cpu, seconds);
    if (options.load) {
      for (const node of pair.nodes) {
        for (let i = 0; i < 2; i++) hogs.push(pair.lab.spawn(node.host, 'taskset', ['--cpu-list', cpu, 'sh', '-c', 'while :; do :; done']));
      }
    }
    await sleep(seconds * 1000);
    await probe.done;
    await Promise.all(hogs.map((hog) => stopChild(hog)));
    await wire.stop();
    const statuses = await Promise.all(pair.nodes.map((node) => pair.status(node)));
    const falseTakeovers = pair.nodes.reduce((n, node, i) => n + pair.roleChanges(node).length - before[i]!, 0);
    const during = pair.nodes.flatMap((node, i) => node.logs.items.slice(logsFrom[i]));
    // A takeover for a silence that a CPU stall of at least half the deadtime explains.
    const declaredDead = during.filter((e) => e.event === 'peer.dead');
    const explained = declaredDead.filter((e) =>
      probe.stalls.some(([ms, end]) => ms >= timers.deadtime / 2 && end <= e.time && end >= e.time - timers.deadtime - 50),
    ).length;
    const lateLogs = during.filter((e) => e.event === 'heartbeat.late');
    const timerLate = during.filter((e) => e.event === 'timer.late');

    console.log(`${label} (${seconds} s, keepalive ${timers.keepalive}ms, deadtime ${timers.deadtime}ms):`);
    console.log(`  scheduling: ${scheduling(pair)}`);
    console.log(
      `  false takeovers: ${falseTakeovers} (role changes while nothing failed), peer declared dead: ${declaredDead.length} times, ${explained} of them right after a stall of the CPU itself`,
    );
    const stallMs = probe.stalls.map(([ms]) => ms);
    console.log(
      `  the CPU itself (real-time probe): ${stallMs.length} stalls over 20 ms${stallMs.length ? `, longest ${Math.max(...stallMs)} ms` : ''}`,
    );
    for (const [source, lateness] of wireLateness(wire.lines, timers.keepalive)) {
      const warntime = Math.max(timers.deadtime / 2, 2 * timers.keepalive);
      const overWarn = lateness.filter((l) => l + timers.keepalive > warntime).length;
      console.log(`  ${formatSummary(`heartbeat lateness on the wire from ${source}`, lateness)}, ${overWarn} over warntime`);
    }
    console.log(
      `  late heartbeats logged by the daemons: ${lateLogs.length}${lateLogs.length ? `, longest gap ${Math.max(...lateLogs.map((e) => Number(e.gapMs)))} ms` : ''}; own timer over warntime: ${timerLate.length} log lines`,
    );
    for (const s of statuses) {
      console.log(
        `  ${s.node}: own timer lateness max ${s.timerLateness.maxMs.toFixed(1)} ms; event loop delay p99 ${s.eventLoopDelay.p99Ms} ms, max ${s.eventLoopDelay.maxMs} ms; ` +
          `garbage collection: ${s.gcPauses.count} pauses, ${s.gcPauses.totalMs.toFixed(0)} ms total, longest ${s.gcPauses.maxMs.toFixed(2)} ms`,
      );
    }
  } finally {
    await Promise.all(hogs.map((hog) => stopChild(hog)));
    await pair.destroy();
  }
}

export const failoverBenchmark: Benchmark = {
  name: 'failover',
  description: `detection and handover times (${runs} runs each), false takeovers and heartbeat lateness under CPU load, with and without --realtime`,
  async run(): Promise<void> {
    if (parts.has('detection')) for (const timers of timerSets) await detectionAndHandover(timers);
    if (parts.has('idle')) await soak('no added load', idleSeconds, aggressive, { load: false, args: [] });
    if (parts.has('soak-default')) await soak('CPU saturated', soakSeconds, defaults, { load: true, args: [] });
    if (parts.has('soak-aggressive')) await soak('CPU saturated', soakSeconds, aggressive, { load: true, args: [] });
    if (parts.has('soak-no-nice')) await soak('CPU saturated, --no-nice', soakSeconds, aggressive, { load: true, args: ['--no-nice'] });
    if (parts.has('soak-realtime')) await soak('CPU saturated, --realtime', soakSeconds, aggressive, { load: true, args: ['--realtime'] });
  },
};
