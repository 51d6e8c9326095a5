// Random schedules of the real election and channel endpoint in simulated time, and the
// properties every schedule must keep: shared by the property tests (a CI-sized number)
// and \`npm run bench -- schedules --count N\` (the long mode, 10^6).
import fc from 'fast-check';
import { nodeNames, Simulation, type NodeIndex, type Operation, type RoleSpan, type SimOptions } from './simulator.js';

interface Interval {
  from: number;
  to: number;
}

function merge(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last && interval.from <= last.to) last.to = Math.max(last.to, interval.to);
    else merged.push({ ...interval });
  }
  return merged;
}

function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const x of a)
    for (const y of b) {
      const from = Math.max(x.from, y.from);
      const to = Math.min(x.to, y.to);
      if (to > from) out.push({ from, to });
    }
  return out;
}

function covered(interval: Interval, by: Interval[]): boolean {
  let reached = interval.from;
  for (const cover of merge(by)) {
    if (cover.from > reached) break;
    reached = Math.max(reached, cover.to);
  }
  return reached >= interval.to;
}

function spansOf(sim: Simulation, node: NodeIndex, role: RoleSpan['role']): Interval[] {
  return sim.spans.filter((s) => s.node === node && s.role === role).map(({ from, to }) => ({ from, to }));
}

function lives(sim: Simulation, node: NodeIndex): Interval[] {
  return merge(sim.spans.filter((s) => s.node === node && s.role !== 'DOWN').map(({ from, to }) => ({ from, to })));
}

/**
 * Times when a receiver may rightly believe its peer dead: it heard nothing from
 * it for deadtime (the peer was down, partitioned or unlucky with loss), from that
 * moment until it hears the peer again.
 */
function disconnected(sim: Simulation, receiver: NodeIndex, deadtime: number): Interval[] {
  const out: Interval[] = [];
  const deliveries = sim.deliveries[receiver].map((d) => d.at);
  for (const life of lives(sim, receiver)) {
    const heard = [life.from, ...deliveries.filter((at) => at > life.from && at <= life.to), life.to];
    for (let i = 0; i + 1 < heard.length; i++) {
      const gapStart = heard[i]! + deadtime - 1;
      if (heard[i + 1]! > gapStart) out.push({ from: gapStart, to: heard[i + 1]! });
    }
  }
  return out;
}

export function checkProperties(sim: Simulation, options: SimOptions): string[] {
  const { deadtime, keepalive } = options.timers;
  const problems = sim.violations.map((v) => `t=${v.at.toFixed(1)}: ${v.message}`);

  // 1. Never two ACTIVE nodes while the links are connected, except for at most
  //    one split-brain round trip after a partition (or silence) ends. The loser
  //    yields only on a heartbeat of the survivor that acknowledges its ACTIVE
  //    state (so never both yield): the loser's heartbeat must reach the survivor,
  //    then the survivor's answer the loser. Under loss each leg may take until the
  //    receiver's silence would reach deadtime (a longer one is excused by itself),
  //    counted from the last datagram sent before that leg, up to maxDelay in flight.
  const roundTrip = 2 * (deadtime + options.link.maxDelay);
  const excuses = [0, 1]
    .flatMap((node) => disconnected(sim, node as NodeIndex, deadtime))
    .map((i) => ({ from: i.from, to: i.to + roundTrip }));
  for (const both of intersect(merge(spansOf(sim, 0, 'ACTIVE')), merge(spansOf(sim, 1, 'ACTIVE')))) {
    if (!covered(both, excuses)) problems.push(`both ACTIVE from t=${both.from.toFixed(1)} to t=${both.to.toFixed(1)} while connected`);
  }

  // 2. After the active node dies, the other (healthy, undisturbed backup) is
  //    ACTIVE within deadtime + one keepalive, unless a replay held a node back.
  const bound = deadtime + keepalive;
  for (const kill of sim.kills) {
    const other = (1 - kill.node) as NodeIndex;
    const wasActive = sim.spans.some((s) => s.node === kill.node && s.role === 'ACTIVE' && s.to === kill.at);
    const backupAtKill = sim.spans.some((s) => s.node === other && s.role === 'BACKUP' && s.from <= kill.at && s.to >= kill.at);
    const disturbed = sim.disturbances.some((d) => d.node === other && d.at <= kill.at + bound && d.until >= kill.at - deadtime);
    const otherUp = lives(sim, other).some((l) => l.from <= kill.at && l.to >= kill.at + bound);
    const attacked = sim.attacks.some((a) => a.at <= kill.at + bound && a.until >= kill.at - deadtime);
    // Back within the bound, the killed node never looks dead: the backup takes over from
    // a starting peer only once that hears it (or proves it is no recording), which a cut
    // from the backup to it prevents. Safety first: then its initdead (or the heal) decides.
    const restarted = lives(sim, kill.node).some((l) => l.from > kill.at && l.from <= kill.at + bound);
    const unheard = sim.cuts.some((c) => c.allPaths && c.from.includes(other) && c.at <= kill.at + bound && c.until >= kill.at);
    if (!wasActive || !backupAtKill || disturbed || !otherUp || attacked || (restarted && unheard)) continue;
    // A claim counts though the role is handed back in the same instant (a preferred node that
    // preempts, with no link delay): that span has no length, and the claimant keeps the
    // addresses until the preempting node's claim is done (make before break).
    const claimedSoon = sim.transitions.some(({ transition: t }) => t.to === 'ACTIVE' && t.at > kill.at && t.at <= kill.at + bound);
    const activeSoon = claimedSoon || sim.spans.some((s) => s.role === 'ACTIVE' && s.from <= kill.at + bound && s.to > kill.at);
    if (!activeSoon)
      problems.push(`${nodeNames[kill.node]} killed while ACTIVE at t=${kill.at.toFixed(1)}: nobody ACTIVE within ${bound} ms`);
  }

  // 3. (checked in every step by the simulator) no transition without a roleChanged
  //    action carrying a reason.

  // Every operator request on a node that stays up gets exactly one answer.
  const answerWithin = 2 * deadtime + keepalive + options.timerJitter;
  for (const request of sim.requests) {
    const replies = sim.replies.filter((r) => r.node === request.node && r.requestId === request.requestId);
    const stayedUp = lives(sim, request.node).some((l) => l.from <= request.at && l.to >= request.at + answerWithin);
    if (replies.length > 1) problems.push(`request ${request.requestId} answered ${replies.length} times`);
    if (stayedUp && (replies.length === 0 || replies[0]!.at > request.at + answerWithin)) {
      problems.push(`request ${request.requestId} on ${nodeNames[request.node]} at t=${request.at} not answered within ${answerWithin} ms`);
    }
  }
  return problems;
}

const timersArb = fc
  .record({
    keepalive: fc.constantFrom(20, 50, 100, 250, 1000),
    deadFactor: fc.integer({ min: 3, max: 8 }),
    initFactor: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ keepalive, deadFactor, initFactor }) => {
    const deadtime = keepalive * deadFactor;
    return { keepalive, deadtime, warntime: Math.round(deadtime / 2), initdead: deadtime * initFactor };
  });

export function optionsArb(maxLoss: number): fc.Arbitrary<SimOptions> {
  return timersArb.chain((timers) =>
    fc.record({
      timers: fc.constant(timers),
      preempt: fc.boolean(),
      priorities: fc.tuple(fc.constantFrom(50, 100, 150), fc.constantFrom(50, 100, 150)),
      pathCount: fc.constantFrom(1, 2),
      link: fc
        .record({
          loss: fc.double({ min: 0, max: maxLoss, noNaN: true }),
          duplication: fc.double({ min: 0, max: 0.1, noNaN: true }),
          minDelay: fc.double({ min: 0, max: timers.keepalive / 10, noNaN: true }),
          spread: fc.double({ min: 0, max: timers.keepalive / 2, noNaN: true }),
        })
        .map(({ loss, duplication, minDelay, spread }) => ({ loss, duplication, minDelay, maxDelay: minDelay + spread })),
      timerJitter: fc.double({ min: 0, max: Math.min(5, timers.keepalive / 10), noNaN: true }),
      seed: fc.integer(),
    }),
  );
}

const runKeepalives = 300;

export function operationsArb(keepalive: number): fc.Arbitrary<Operation[]> {
  const k = keepalive;
  const at = fc.integer({ min: 1, max: runKeepalives * k - 1 });
  const node = fc.constantFrom<NodeIndex>(0, 1);
  const span = fc.integer({ min: 1, max: 30 * k });
  const op: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({
      at,
      type: fc.constant('partition' as const),
      path: fc.constantFrom<number | 'all'>(0, 1, 'all'),
      direction: fc.constantFrom('both' as const, 'AtoB' as const, 'BtoA' as const),
      duration: span,
    }),
    fc.record({ at, type: fc.constant('kill' as const), node, downFor: span, replayOnRestart: fc.boolean() }),
    fc.record({ at, type: fc.constant('stop' as const), node, downFor: span, replayOnRestart: fc.boolean() }),
    fc.record({
      at,
      type: fc.constant('operator' as const),
      node,
      command: fc.constantFrom('failover' as const, 'takeover' as const, 'standby' as const, 'resume' as const),
    }),
    fc.record({ at, type: fc.constant('fault' as const), node, duration: span }),
    fc.record({ at, type: fc.constant('claimFails' as const), node }),
    fc.record({ at, type: fc.constant('replay' as const), node, pick: fc.nat() }),
  );
  return fc.array(op, { maxLength: 30 });
}

export function simulate(options: SimOptions, operations: Operation[]): { sim: Simulation; problems: string[] } {
  const sim = new Simulation(options);
  sim.run(operations, runKeepalives * options.timers.keepalive);
  return { sim, problems: checkProperties(sim, options) };
}

/** One random schedule: the options of the pair and its links, and what happens to them. */
export const scheduleArb: fc.Arbitrary<[SimOptions, Operation[]]> = optionsArb(0.25).chain((options) =>
  fc.tuple(fc.constant(options), operationsArb(options.timers.keepalive)),
);
