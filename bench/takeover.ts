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
// picks some by keepalive (e.g. "10" or "20,10"), TAKEOVER_CASES some of the cases
// (death, failover, sigterm, keepalived; default all: keepalived's side needs the
// other three). With --realtime the probe and the responders run real-time above the
// daemons (TakeoverLab's toolPriority; TAKEOVER_TOOL_PRIORITY sets it, 0 for normal
// scheduling): a client and a forwarding path that share no CPU with the pair, as in
// the field. Next to each probe-gap
// distribution: where the time went, from the daemons' logs and the probe's clock
// (all epoch ms on one host): detection (death → backup ACTIVE), the claim until
// its first announcement, and the rest (the client's neighbour update and the
// probe's 10 ms granularity); for a handover, the old active's release and the
// heartbeat's trip until the peer is ACTIVE.
// At 10ms / 30ms keepalived runs next, in the same lab with tandem stopped
// (bench/keepalived-pair.ts: VRRPv3, advert_int 0.01), through the same hard
// deaths and SIGTERMs; both are then printed side by side by what the probe alone
// shows for either: the fault until the peer's first answer, and the longest gap.
import { formatSummary, summarize, type Benchmark } from './benchmark.js';
import type { Director, LogEvent } from '../test/support/director-pair.js';
import { sendControlRequest } from '../src/control/index.js';
import { KeepalivedPair, keepalivedVersion } from './keepalived-pair.js';
import { defaultRealtimePriority } from '../src/daemon/index.js';
import { largestGap, TakeoverLab, type ProbeRun } from '../test/support/takeover-lab.js';

const runs = Number(process.env.TAKEOVER_RUNS ?? 20);
const cases = new Set((process.env.TAKEOVER_CASES ?? 'death,failover,sigterm,keepalived').split(','));
const toolPriority = Number(process.env.TAKEOVER_TOOL_PRIORITY ?? defaultRealtimePriority + 1);

interface Timers {
  keepalive: number;
  deadtime: number;
  realtime: boolean;
}

const wantedSets = process.env.TAKEOVER_SETS?.split(',').map(Number);
const allTimerSets: Timers[] = [
  { keepalive: 50, deadtime: 200, realtime: false },
  { keepalive: 20, deadtime: 100, realtime: true },
  { keepalive: 10, deadtime: 30, realtime: true },
];
/** The set keepalived runs at too, for the side-by-side comparison (its advert interval: the keepalive). */
const comparedSet = allTimerSets.at(-1)!;
const timerSets = allTimerSets.filter((t) => !wantedSets || wantedSets.includes(t.keepalive));

/** The longest reply gap from the last probe answered before the fault: the prober's start is not the pair's. */
const gapOf = (run: ProbeRun, faultAt: number): number => largestGap(run.replies, faultAt);

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

/** What tandem and keepalived are compared by, per run: the fault until the first probe the peer answered (by its send time), and the longest reply gap. */
interface Outages {
  peerAnswered: number[];
  gaps: number[];
}

const outages = (): Outages => ({ peerAnswered: [], gaps: [] });

function recordOutage(outage: Outages, run: ProbeRun, peer: Director, faultAt: number): void {
  outage.peerAnswered.push(firstAnswerFrom(run, peer.name, faultAt) - faultAt);
  outage.gaps.push(gapOf(run, faultAt));
}

/** Both nodes settled (tandem's by default) and the client's probe answered by the active one. */
async function probing(
  lab: TakeoverLab,
  settled: () => Promise<[Director, Director]> = () => lab.settled(),
): Promise<{ active: Director; backup: Director; probe: Awaited<ReturnType<TakeoverLab['probe']>> }> {
  const [active, backup] = await settled();
  const probe = await lab.probe();
  await probe.answeredBy(active.name, 5);
  return { active, backup, probe };
}

/** Settled, and the active hears its peer as BACKUP: until then (a revived node not yet proven) a failover is refused as peer-silent. */
async function readyForHandover(lab: TakeoverLab): Promise<[Director, Director]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [active, backup] = await lab.settled();
    const { peer } = await lab.pair.status(active);
    if (peer?.alive && peer.role === 'BACKUP') return [active, backup];
    if (Date.now() > deadline) throw new Error(`${active.name} does not hear ${backup.name} as BACKUP: ${JSON.stringify(peer)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function hardFailovers(lab: TakeoverLab, timers: Timers): Promise<Outages> {
  const start = { args: timers.realtime ? ['--realtime'] : [] };
  const figures: Record<string, number[]> = {
    'probe gap': [],
    'death → VIP on the peer (first frame)': [],
    'detection (death → backup ACTIVE)': [],
    ...claimStages(),
  };
  const outage = outages();
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab);
    const diedAt = await lab.die(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', diedAt - 1, 10_000);
    const claim = await claimOf(backup, diedAt);
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(gapOf(run, diedAt));
    figures['death → VIP on the peer (first frame)']!.push(claim.firstFrameAt - diedAt);
    figures['detection (death → backup ACTIVE)']!.push(atOf(change) - diedAt);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, diedAt));
    recordOutage(outage, run, backup, diedAt);
    await lab.revive(active, start);
  }
  print(`hard failover (${runs} runs)`, figures);
  return outage;
}

/** The handovers' outages (from the request) and the probes each lost. */
async function handovers(lab: TakeoverLab): Promise<{ outage: Outages; lost: number[] }> {
  const figures: Record<string, number[]> = {
    'probe gap': [],
    'probes lost': [],
    'request → peer ACTIVE': [],
    'peer claim done → old active released': [],
    ...claimStages(),
  };
  const outage = outages();
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab, () => readyForHandover(lab));
    const requestedAt = Date.now();
    const outcome = await sendControlRequest(active.socket, { command: 'failover' });
    if (!('role' in outcome) || !outcome.ok) throw new Error(`failover refused: ${JSON.stringify(outcome)}`);
    const released = await active.logs.waitFor((e) => e.event === 'controller.release' && e.time >= requestedAt);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', requestedAt - 1);
    const claim = await claimOf(backup, requestedAt);
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(gapOf(run, requestedAt));
    figures['probes lost']!.push(lost(run));
    figures['request → peer ACTIVE']!.push(atOf(change) - requestedAt);
    figures['peer claim done → old active released']!.push(released.time - claim.event.time);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, requestedAt));
    recordOutage(outage, run, backup, requestedAt);
  }
  print(`tandem failover (${runs} runs)`, figures);
  return { outage, lost: figures['probes lost']! };
}

async function gracefulStops(lab: TakeoverLab, timers: Timers): Promise<Outages> {
  const start = { args: timers.realtime ? ['--realtime'] : [] };
  const figures: Record<string, number[]> = {
    'probe gap': [],
    'probes lost': [],
    'SIGTERM → VIP on the peer (first frame)': [],
    'SIGTERM → VIP on the peer (first probe it answered, by send time)': [],
    'SIGTERM → peer ACTIVE': [],
    ...claimStages(),
  };
  const outage = outages();
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab);
    const stoppedAt = Date.now();
    const stopped = lab.pair.stop(active);
    const change = await lab.pair.roleChange(backup, 'ACTIVE', stoppedAt - 1);
    const claim = await claimOf(backup, stoppedAt);
    await stopped;
    await probe.answeredBy(backup.name, 5);
    const run = await probe.stop();
    figures['probe gap']!.push(gapOf(run, stoppedAt));
    figures['probes lost']!.push(lost(run));
    figures['SIGTERM → VIP on the peer (first frame)']!.push(claim.firstFrameAt - stoppedAt);
    figures['SIGTERM → VIP on the peer (first probe it answered, by send time)']!.push(
      firstAnswerFrom(run, backup.name, stoppedAt) - stoppedAt,
    );
    figures['SIGTERM → peer ACTIVE']!.push(atOf(change) - stoppedAt);
    recordClaim(figures, change, claim, firstAnswerFrom(run, backup.name, stoppedAt));
    recordOutage(outage, run, backup, stoppedAt);
    await lab.pair.start(active, start);
  }
  print(`SIGTERM of the active (${runs} runs)`, figures);
  return outage;
}

/**
 * keepalived's master meets the fault (which returns when it struck) `runs` times,
 * the client probing; after each, keepalived is restored on it.
 */
async function keepalivedOutages(
  lab: TakeoverLab,
  keepalived: KeepalivedPair,
  fault: (master: Director) => Promise<number>,
  restore: (master: Director) => Promise<void>,
): Promise<Outages> {
  const outage = outages();
  for (let i = 0; i < runs; i++) {
    const { active, backup, probe } = await probing(lab, () => keepalived.settled());
    const faultAt = await fault(active);
    await probe.answeredBy(backup.name, 5);
    recordOutage(outage, await probe.stop(), backup, faultAt);
    await restore(active);
  }
  return outage;
}

/** `median / p95 / max` of a sample, to the tenth. */
function spread(samples: number[]): string {
  const s = summarize(samples);
  return [s.median, s.p95, s.max].map((v) => v.toFixed(1)).join(' / ');
}

/** tandem's median and p95 over keepalived's. */
function ratio(tandem: number[], keepalived: number[]): string {
  const [t, k] = [summarize(tandem), summarize(keepalived)];
  return `${(t.median / k.median).toFixed(2)} / ${(t.p95 / k.p95).toFixed(2)}`;
}

function printComparison(
  rows: Array<{ fault: string; tandem: Outages; keepalived: Outages }>,
  failover: Awaited<ReturnType<typeof handovers>>,
): void {
  const line = (cells: string[]) => console.log(`  | ${cells.join(' | ')} |`);
  line([
    'fault',
    'VIP on the peer: tandem',
    'keepalived',
    'tandem / keepalived',
    'longest reply gap: tandem',
    'keepalived',
    'tandem / keepalived',
  ]);
  line(Array<string>(7).fill('---'));
  for (const { fault, tandem, keepalived } of rows)
    line([
      fault,
      spread(tandem.peerAnswered),
      spread(keepalived.peerAnswered),
      ratio(tandem.peerAnswered, keepalived.peerAnswered),
      spread(tandem.gaps),
      spread(keepalived.gaps),
      ratio(tandem.gaps, keepalived.gaps),
    ]);
  const { outage, lost } = failover;
  const lostIn = `probes lost ${spread(lost)}, in ${lost.filter((n) => n > 0).length} of ${lost.length} runs`;
  line(['`tandem failover`', spread(outage.peerAnswered), '(no command)', '—', `${spread(outage.gaps)}; ${lostIn}`, '—', '—']);
}

/**
 * keepalived on the same lab after tandem's runs (tandem stopped), at the same
 * advert interval as tandem's keepalive, with the same faults; then both side by side.
 */
async function compareWithKeepalived(
  lab: TakeoverLab,
  timers: Timers,
  tandem: { deaths: Outages; stops: Outages; failover: Awaited<ReturnType<typeof handovers>> },
): Promise<void> {
  for (const node of lab.nodes) await lab.pair.stop(node);
  const keepalived = new KeepalivedPair(lab, timers.keepalive / 1000);
  try {
    await keepalived.startBoth();
    // as tandem's: frozen, cables out, killed, then revived; SIGTERM of the master (keepalived's main process)
    const deaths = await keepalivedOutages(
      lab,
      keepalived,
      (master) => lab.die(master, keepalived.mortal(master)),
      (master) => lab.reviveWith(master, () => keepalived.start(master)),
    );
    const stops = await keepalivedOutages(
      lab,
      keepalived,
      (master) => keepalived.stop(master),
      (master) => keepalived.start(master),
    );
    console.log(
      `  side by side with ${await keepalivedVersion()} (VRRPv3, advert_int ${timers.keepalive / 1000}, unicast, equal priorities, nopreempt, ` +
        `no real-time priority) after tandem's runs, ${runs} runs each; VIP on the peer: the fault until the first probe the peer ` +
        `answered (by its send time); median / p95 / max ms:`,
    );
    printComparison(
      [
        { fault: 'daemon killed + link down', tandem: tandem.deaths, keepalived: deaths },
        { fault: 'SIGTERM of the active', tandem: tandem.stops, keepalived: stops },
      ],
      tandem.failover,
    );
  } finally {
    await keepalived.stopBoth();
  }
}

export const takeoverBenchmark: Benchmark = {
  name: 'takeover',
  description: `probe gaps of a VIP during hard failovers, tandem failover and SIGTERM (${runs} runs each), where the time goes, and keepalived beside tandem at 10/30 ms`,
  async run(): Promise<void> {
    for (const timers of timerSets) {
      const lab = await TakeoverLab.create({
        keepalive: `${timers.keepalive}ms`,
        deadtime: `${timers.deadtime}ms`,
        ...(timers.realtime && toolPriority > 0 && { toolPriority }),
      });
      try {
        await lab.pair.startBoth({ args: timers.realtime ? ['--realtime'] : [] });
        console.log(
          `keepalive ${timers.keepalive}ms, deadtime ${timers.deadtime}ms${timers.realtime ? ', --realtime' : ''}; probe every 10 ms:`,
        );
        const deaths = cases.has('death') ? await hardFailovers(lab, timers) : undefined;
        const failover = cases.has('failover') ? await handovers(lab) : undefined;
        const stops = cases.has('sigterm') ? await gracefulStops(lab, timers) : undefined;
        if (timers === comparedSet && cases.has('keepalived') && deaths && stops && failover)
          await compareWithKeepalived(lab, timers, { deaths, stops, failover });
      } finally {
        await lab.destroy();
      }
    }
  },
};
