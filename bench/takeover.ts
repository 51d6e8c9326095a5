// How long a VIP stops answering when the role moves: two real `tandem run`
// processes in the takeover lab (test/support/takeover-lab.ts), the client probing the
// VIP over UDP every 10 ms, TAKEOVER_RUNS runs (default 20) each of
//  - a hard failover: the active node dies (daemon and responder frozen at once,
//    then its cables pulled), the backup claims after deadtime;
//  - `tandem failover`: the handshake (heartbeat, claim, then the old node's
//    release: make before break), with the probes lost;
//  - SIGTERM of the active: its STOPPED heartbeat, the peer's claim, its release;
// at keepalive 50ms / deadtime 200ms, at 20ms / 100ms and at 10ms / 30ms (these with
// --realtime, as the failover benchmark runs the aggressive timers); TAKEOVER_SETS
// picks some by keepalive (e.g. "10" or "20,10"). Next to each probe-gap
// distribution: where the time went, from the daemons' logs and the probe's clock
// (all epoch ms on one host): detection (death → backup ACTIVE), the claim until
// its first announcement, and the rest (the client's neighbour update and the
// probe's 10 ms granularity); for a handover, the old active's release and the
// heartbeat's trip until the peer is ACTIVE.
import { formatSummary, type Benchmark } from './benchmark.js';
import type { Director, LogEvent } from '../test/support/director-pair.js';
import { sendControlRequest } from '../src/control/index.js';
import { TakeoverLab, type ProbeRun } from '../test/support/takeover-lab.js';

const runs = Number(process.env.TAKEOVER_RUNS ?? 20);

interface Timers {
  keepalive: number;
  deadtime: number;
  realtime: boolean;
}

const wantedSets = process.env.TAKEOVER_SETS?.split(',').map(Number);
const timerSets: Timers[] = [
  { keepalive: 50, deadtime: 200, realtime: false },
  { keepalive: 20, deadtime: 100, realtime: true },
  { keepalive: 10, deadtime: 30, realtime: true },
].filter((t) => !wantedSets || wantedSets.includes(t.keepalive));

/** Probes sent and not answered in the run. */
const lost = (run: ProbeRun): number => run.sent - new Set(run.replies.map((r) => r.seq)).size;

const atOf = (event: LogEvent) => Date.parse(String(event.at));

/** The claim's log line after `after`, with when it started and when its first frame left (epoch ms). */
async function claimOf(node: Director, after: number): Promise<{ startedAt: number; firstFrameAt: number; event: LogEvent }> {
  const event = await node.logs.waitFor((e) => e.event === 'controller.claim' && e.time >= after, 10_000);
  const startedAt = event.time - Number(event.durationMs);
  return { startedAt, firstFrameAt: startedAt + Number(event.firstFrameMs), event };
}

function firstAnswerFrom(run: ProbeRun, responder: string, after: number): number {
  return Math.min(...run.replies.filter((r) => r.responder === responder && r.sentAt >= after).map((r) => r.sentAt));
}

function print(label: string, figures: Record<string, number[]>): void {
  console.log(`  ${label}:`);
  for (const [name, samples] of Object.entries(figures)) console.log(`    ${formatSummary(name, samples)}`);
}

const firstAnswerStage = 'first frame → first answer (client update, probe interval)';

/** The stages from the new active's role change to the client's first answer, empty. */
const claimStages = (): Record<string, number[]> => ({
  'ACTIVE → claim started': [],
  'claim started → first frame': [],
  [firstAnswerStage]: [],
});

/** Records where the time went from the role change to the first answer the client had from the new active. */
function recordClaim(
  figures: Record<string, number[]>,
  change: LogEvent,
  claim: Awaited<ReturnType<typeof claimOf>>,
  firstAnswerAt: number,
): void {
  figures['ACTIVE → claim started']!.push(claim.startedAt - atOf(change));
  figures['claim started → first frame']!.push(Number(claim.event.firstFrameMs));
  // Can be negative: a probe sent before the claim, held by a kernel resolving the VIP's neighbour (the
  // client's, or the old active's, which forwards it since it routes for NAT), is answered after it.
  figures[firstAnswerStage]!.push(firstAnswerAt - claim.firstFrameAt);
}

/** Both nodes settled and the client's probe answered by the active one. */
async function probing(
  lab: TakeoverLab,
): Promise<{ active: Director; backup: Director; probe: Awaited<ReturnType<TakeoverLab['probe']>> }> {
  const [active, backup] = await lab.settled();
  const probe = await lab.probe();
  await probe.answeredBy(active.name, 5);
  return { active, backup, probe };
}

async function hardFailovers(lab: TakeoverLab, timers: Timers): Promise<void> {
  const start = { args: timers.realtime ? ['--realtime'] : [] };
  const figures: Record<string, number[]> = { 'probe gap': [], 'detection (death → backup ACTIVE)': [], ...claimStages() };
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab);
    const diedAt = await lab.die(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', diedAt - 1, 10_000);
    const claim = await claimOf(backup, diedAt);
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(run.gapMs);
    figures['detection (death → backup ACTIVE)']!.push(atOf(change) - diedAt);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, diedAt));
    await lab.revive(active, start);
  }
  print(`hard failover (${runs} runs)`, figures);
}

async function handovers(lab: TakeoverLab): Promise<void> {
  const figures: Record<string, number[]> = {
    'probe gap': [],
    'probes lost': [],
    'request → peer ACTIVE': [],
    'peer claim done → old active released': [],
    ...claimStages(),
  };
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab);
    const requestedAt = Date.now();
    const outcome = await sendControlRequest(active.socket, { command: 'failover' });
    if (!('role' in outcome) || !outcome.ok) throw new Error(`failover refused: ${JSON.stringify(outcome)}`);
    const released = await active.logs.waitFor((e) => e.event === 'controller.release' && e.time >= requestedAt);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', requestedAt - 1);
    const claim = await claimOf(backup, requestedAt);
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(run.gapMs);
    figures['probes lost']!.push(lost(run));
    figures['request → peer ACTIVE']!.push(atOf(change) - requestedAt);
    figures['peer claim done → old active released']!.push(released.time - claim.event.time);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, requestedAt));
  }
  print(`tandem failover (${runs} runs)`, figures);
}

async function gracefulStops(lab: TakeoverLab, timers: Timers): Promise<void> {
  const start = { args: timers.realtime ? ['--realtime'] : [] };
  const figures: Record<string, number[]> = {
    'probe gap': [],
    'probes lost': [],
    'SIGTERM → VIP on the peer (first frame)': [],
    'SIGTERM → peer ACTIVE': [],
    ...claimStages(),
  };
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab);
    const stoppedAt = Date.now();
    const stopped = lab.pair.stop(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', stoppedAt - 1);
    const claim = await claimOf(backup, stoppedAt);
    await stopped;
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(run.gapMs);
    figures['probes lost']!.push(lost(run));
    figures['SIGTERM → VIP on the peer (first frame)']!.push(claim.firstFrameAt - stoppedAt);
    figures['SIGTERM → peer ACTIVE']!.push(atOf(change) - stoppedAt);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, stoppedAt));
    await lab.pair.start(active, start);
  }
  print(`SIGTERM of the active (${runs} runs)`, figures);
}

export const takeoverBenchmark: Benchmark = {
  name: 'takeover',
  description: `probe gaps of a VIP during hard failovers, tandem failover and SIGTERM (${runs} runs each) and where the time goes`,
  async run(): Promise<void> {
    for (const timers of timerSets) {
      const lab = await TakeoverLab.create({ keepalive: `${timers.keepalive}ms`, deadtime: `${timers.deadtime}ms` });
      try {
        await lab.pair.startBoth({ args: timers.realtime ? ['--realtime'] : [] });
        console.log(
          `keepalive ${timers.keepalive}ms, deadtime ${timers.deadtime}ms${timers.realtime ? ', --realtime' : ''}; probe every 10 ms:`,
        );
        await hardFailovers(lab, timers);
        await handovers(lab);
        await gracefulStops(lab, timers);
      } finally {
        await lab.destroy();
      }
    }
  },
};
