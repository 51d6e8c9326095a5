// The balancer's planner in simulated time: a number clock, and the test answering each
// kernel operation the planner asks for. The same behaviour through the driver, with an
// in-memory kernel and real health checks: ipvs-balancer.test.ts.
import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import {
  BalancerPlanner,
  IPVS_REMEDY,
  type BalancerAction,
  type BalancerEvent,
  type BalancerOperation,
  type BalancerPlannerOptions,
  type Outcome,
} from '../../../src/ipvs/balancer-planner.js';
import { identityOfVirtualService } from '../../../src/ipvs/desired.js';
import { changedServices } from '../../../src/ipvs/model-services.js';
import { createStats } from '../../../src/lib/stats.js';
import { describeOperation, type IpvsOperation } from '../../../src/ipvs/operations.js';
import type { OperationCounts } from '../../../src/ipvs/reconcile.js';
import { serviceKey, type IpvsService } from '../../../src/ipvs/table.js';
import { model, realServer, virtualService } from '../../support/ipvs-models.js';

/** An event without its time: the harness's clock gives it. */
type WithoutNow<E> = E extends unknown ? Omit<E, 'now'> : never;
type Input = WithoutNow<BalancerEvent>;

const web = (i: number) =>
  virtualService(`web${i}`, `203.0.113.${i}`, { realServers: [realServer(`10.0.${i}.1`), realServer(`10.0.${i}.2`)] });
const [web1, web2] = [web(1), web(2)];

function webModel(options: { sync?: boolean; services?: number[] } = {}): Model {
  return model(
    (options.services ?? [1, 2]).map((i) => web(i)),
    { ipvsTimeouts: { tcp: 600 }, sync: { enabled: options.sync ?? false, interface: 'eth1', syncId: 7, port: 8848 } },
  );
}

const servicesOf = (config: Model) =>
  new Map(config.virtualServices.map((service) => [serviceKey(identityOfVirtualService(service)), service]));

const ipvsService = (i: number): IpvsService => ({
  family: 4,
  protocol: 'tcp',
  address: `203.0.113.${i}`,
  port: 80,
  fwmark: 0,
  scheduler: 'rr',
  onePacket: false,
  schedulerFlags: 0,
  destinations: [],
});
const addService = (i: number): IpvsOperation => ({ kind: 'add-service', service: ipvsService(i) });
const addDestination = (i: number, j: number): IpvsOperation => ({
  kind: 'add-destination',
  service: ipvsService(i),
  destination: { family: 4, address: `10.0.${i}.${j}`, port: 80, forwarding: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0 },
});

/** A reconcile that applied `operations`, of which `failed` were refused. */
const reconciled = (operations: IpvsOperation[] = [], failed: IpvsOperation[] = [], durationMs = 0): Outcome => ({
  type: 'reconciled',
  result: {
    operations,
    operationCount: operations.length,
    byKind: operations.reduce<OperationCounts>((counts, { kind }) => ({ ...counts, [kind]: (counts[kind] ?? 0) + 1 }), {}),
    failures: failed.map((operation) => ({ operation, error: new Error('ESRCH') })),
    servicesRead: 0,
    durationMs,
  },
});

/** A kernel that does everything asked, with nothing to change. */
function succeed(operation: BalancerOperation): Outcome {
  switch (operation.type) {
    case 'open':
      return { type: 'opened', version: '1.2.1' };
    case 'apply-timeouts':
      return { type: 'timeouts-applied' };
    case 'reconcile-sync':
      return { type: 'sync-reconciled' };
    default:
      return reconciled();
  }
}

/** Answers the table's reconciles with `outcome`, everything else as `succeed`. */
const tableAnswers = (outcome: Outcome) => (operation: BalancerOperation) =>
  operation.type === 'reconcile-table' ? outcome : succeed(operation);

const noIpvs = (operation: BalancerOperation): Outcome =>
  operation.type === 'open' ? { type: 'open-failed', error: 'the kernel has no IPVS' } : succeed(operation);

function summary(operation: BalancerOperation): string {
  switch (operation.type) {
    case 'reconcile-table':
      return `table ${operation.reason} (${operation.role})`;
    case 'reconcile-services': {
      const names = operation.services.map((service) => service.name).join(' ');
      if (operation.reason === 'health') return `services ${names}`;
      const removed = operation.removed.map((identity) => ` -${serviceKey(identity)}`).join('');
      return `reload services ${names}${removed} (${operation.role})`;
    }
    case 'reconcile-sync':
      return `sync ${operation.state}`;
    default:
      return operation.type;
  }
}

/** A planner, its clock, and the operation it has in flight. */
function director(options: Partial<BalancerPlannerOptions> = {}) {
  const config = options.model ?? webModel();
  const planner = new BalancerPlanner({ model: config, services: servicesOf(config), now: 0, ...options });
  let now = 0;
  let running: BalancerOperation | undefined;
  const actions: BalancerAction[] = [];
  const feed = (event: Input) => {
    const answer = planner.handle({ ...event, now });
    actions.push(...answer);
    for (const action of answer) {
      if (action.type === 'log') continue;
      expect(running, 'one operation at a time').toBeUndefined();
      running = action;
    }
  };
  const d = {
    planner,
    get running() {
      return running && summary(running);
    },
    at(time: number) {
      now = time;
      return d;
    },
    send(event: Input) {
      feed(event);
      return d;
    },
    /** Ends the operation in flight with `outcome`. */
    answer(outcome: Outcome) {
      expect(running, 'an operation in flight').toBeDefined();
      running = undefined;
      feed({ type: 'done', outcome });
      return d;
    },
    /** Answers until nothing is in flight; the operations it ran. */
    run(answer: (operation: BalancerOperation) => Outcome = succeed): string[] {
      const done: string[] = [];
      while (running) {
        const operation = running;
        done.push(summary(operation));
        d.answer(answer(operation));
      }
      return done;
    },
    /** Lets time pass up to `time`, ticking whenever the planner wants; `at ms: operation` of what ran. */
    until(time: number, answer: (operation: BalancerOperation) => Outcome = succeed): string[] {
      const done: string[] = [];
      for (let wake = planner.nextWakeAt(now); wake <= time; wake = planner.nextWakeAt(now)) {
        now = wake;
        feed({ type: 'tick' });
        done.push(...d.run(answer).map((operation) => `${wake}: ${operation}`));
      }
      now = time;
      return done;
    },
    /** The log lines of `event`: their level and fields. */
    logs(event: string) {
      return actions.flatMap((action) =>
        action.type === 'log' && action.event === event ? [{ level: action.level, ...action.fields }] : [],
      );
    },
  };
  return d;
}

describe('BalancerPlanner: claim, release, repair', () => {
  it('a claim opens IPVS, sets the timeouts and programs the table; while active it repairs every interval', () => {
    const d = director().send({ type: 'activate' });
    expect(d.planner.settled).toBe(false);
    expect(d.run()).toEqual(['open', 'apply-timeouts', 'table claim (active)']);
    expect(d.planner.settled).toBe(true);
    expect(d.until(25_000)).toEqual([
      '10000: apply-timeouts',
      '10000: table repair (active)',
      '20000: apply-timeouts',
      '20000: table repair (active)',
    ]);
    d.send({ type: 'deactivate' });
    expect(d.run()).toEqual(['table release (inactive)']);
    expect(d.planner.figures()).toMatchObject({ role: 'inactive', since: 25_000, lastReconcile: { reason: 'release', at: 25_000 } });
    // the repair due at 30 s finds nothing to do while inactive, and none follows
    expect(d.until(100_000)).toEqual([]);
    expect(d.planner.nextWakeAt(100_000)).toBe(Infinity);
  });

  it('a release before IPVS was ever opened opens nothing', () => {
    const d = director().send({ type: 'deactivate' });
    expect(d.running).toBeUndefined();
    expect(d.planner.settled).toBe(true);
  });

  it('a table that takes long to reconcile is repaired less often: every 20 times its duration', () => {
    const d = director({ repairInterval: 5000 }).send({ type: 'activate' });
    d.answer(succeed({ type: 'open' })).answer({ type: 'timeouts-applied' });
    expect(d.running).toBe('table claim (active)');
    d.at(1000).answer(reconciled([], [], 1000));
    expect(d.planner.nextWakeAt(1000)).toBe(21_000);
    // once a repair takes 100 ms, the interval rules again (100 ms × 20 < 5 s)
    const repairs = d.until(40_000, tableAnswers(reconciled([], [], 100))).filter((line) => line.includes('table'));
    expect(repairs).toEqual([21_000, 26_000, 31_000, 36_000].map((at) => `${at}: table repair (active)`));
  });

  it('frequent health reconciles do not push the repair out; a sooner retry replaces it', () => {
    const d = director().send({ type: 'activate' });
    d.run();
    expect(d.planner.nextWakeAt(0)).toBe(10_000);
    d.at(3000).send({ type: 'health', services: [web1] });
    expect(d.run()).toEqual(['services web1']);
    expect(d.planner.nextWakeAt(3000)).toBe(10_000);
    d.at(5000).send({ type: 'health', services: [web2] });
    d.answer(reconciled([addDestination(2, 1)], [addDestination(2, 1)]));
    expect(d.planner.nextWakeAt(5000)).toBe(6000);
  });
});

describe('BalancerPlanner: what counts as a repair', () => {
  it('puts back what someone changed and says what, once', () => {
    const d = director({ repairInterval: 5000 }).send({ type: 'activate' });
    d.run();
    const flushed = [addService(1), addDestination(1, 1), addDestination(1, 2)];
    d.until(5000, tableAnswers(reconciled(flushed)));
    expect(d.logs('ipvs.repaired')).toEqual([{ level: 'warn', operations: 3, repaired: flushed.map(describeOperation) }]);
    expect(d.planner.figures().repairs).toEqual({ count: 1, last: { at: 5000, operations: flushed.map(describeOperation) } });
    d.until(10_000);
    expect(d.logs('ipvs.repaired')).toHaveLength(1);
  });

  it('counts reconciles by reason, and operations and refusals by kind', () => {
    const { ipvs } = createStats();
    const d = director({ stats: ipvs }).send({ type: 'activate' });
    const refused = addDestination(1, 2);
    d.run(tableAnswers(reconciled([addService(1), addDestination(1, 1), refused], [refused])));
    expect(ipvs.reconciles.matching()).toEqual([{ labels: { reason: 'claim' }, value: 1 }]);
    expect(ipvs.operations.matching()).toEqual([
      { labels: { kind: 'add-service' }, value: 1 },
      { labels: { kind: 'add-destination' }, value: 2 },
    ]);
    expect(ipvs.operationFailures.matching()).toEqual([{ labels: { kind: 'add-destination' }, value: 1 }]);
    expect(ipvs.repairs.value()).toBe(0);
  });

  it('a flush in the middle of a repair: what was refused is a failure, retried, and only what was put back is a repair', () => {
    const d = director({ repairInterval: 5000, retryDelay: 1000 }).send({ type: 'activate' });
    d.run();
    // ipvsadm -C after the repair read web1: web2's destinations go to a service that is gone (ESRCH)
    const refused = [addDestination(2, 1), addDestination(2, 2)];
    d.until(5000, tableAnswers(reconciled(refused, refused)));
    expect(d.logs('ipvs.repaired')).toEqual([]);
    expect(d.planner.figures().failing).toEqual(refused.map(describeOperation));
    expect(d.planner.nextWakeAt(5000)).toBe(6000);
    const everything = [
      addService(1),
      addDestination(1, 1),
      addDestination(1, 2),
      addService(2),
      addDestination(2, 1),
      addDestination(2, 2),
    ];
    expect(d.until(6000, tableAnswers(reconciled(everything)))).toEqual(['6000: apply-timeouts', '6000: table repair (active)']);
    const putBack = [addService(1), addDestination(1, 1), addDestination(1, 2), addService(2)].map(describeOperation);
    expect(d.logs('ipvs.repaired')).toEqual([{ level: 'warn', operations: 4, repaired: putBack }]);
    expect(d.planner.figures()).toMatchObject({ failing: [], repairs: { count: 1 } });
    expect(d.planner.nextWakeAt(6000)).toBe(11_000);
  });

  it('a retry that succeeds is no repair', () => {
    const d = director().send({ type: 'activate' });
    const refused = [addService(2), addDestination(2, 1), addDestination(2, 2)];
    d.run(tableAnswers(reconciled([addService(1), ...refused], refused)));
    expect(d.planner.figures().failing).toEqual(refused.map(describeOperation));
    expect(d.until(1000, tableAnswers(reconciled(refused)))).toEqual(['1000: apply-timeouts', '1000: table repair (active)']);
    expect(d.logs('ipvs.repaired')).toEqual([]);
    expect(d.planner.figures()).toMatchObject({ failing: [], repairs: { count: 0 } });
  });

  it('the first programming in a role is no repair, whenever it comes', () => {
    const d = director().send({ type: 'activate' });
    d.answer(succeed({ type: 'open' })).answer({ type: 'timeouts-applied' });
    d.answer({ type: 'threw', error: new Error('netlink: no answer') });
    expect(d.logs('balancer.task-failed')).toMatchObject([{ level: 'error', task: 'reconcile-table' }]);
    expect(d.planner.settled).toBe(true);
    expect(d.until(1000, tableAnswers(reconciled([addService(1), addService(2)])))).toEqual([
      '1000: apply-timeouts',
      '1000: table claim (active)',
    ]);
    expect(d.logs('ipvs.repaired')).toEqual([]);
    expect(d.planner.nextWakeAt(1000)).toBe(11_000);
  });

  it('a claim that ends after the release has begun does not count as programming the release', () => {
    const d = director().send({ type: 'activate' });
    d.answer(succeed({ type: 'open' })).answer({ type: 'timeouts-applied' });
    expect(d.running).toBe('table claim (active)');
    d.send({ type: 'deactivate' }).answer(reconciled());
    expect(d.running).toBe('table release (inactive)');
    d.answer({ type: 'threw', error: new Error('netlink: no answer') });
    expect(d.until(1000)).toEqual(['1000: table release (inactive)']);
  });

  it('while inactive, failed operations are retried as such', () => {
    const d = director().send({ type: 'activate' });
    d.run();
    d.send({ type: 'deactivate' });
    d.run(tableAnswers(reconciled([addService(1)], [addService(1)])));
    expect(d.until(1000)).toEqual(['1000: table retry (inactive)']);
    expect(d.planner.nextWakeAt(1000)).toBe(Infinity);
  });
});

describe('BalancerPlanner: backoff', () => {
  it('retries after a failure, doubling the delay up to the repair interval, and starts over once it succeeds', () => {
    const d = director({ repairInterval: 10_000, retryDelay: 1000 }).send({ type: 'activate' });
    const refusedAgain = tableAnswers(reconciled([addService(2)], [addService(2)]));
    d.run(refusedAgain);
    const repairs = d.until(40_000, refusedAgain).filter((line) => line.includes('table'));
    expect(repairs).toEqual([1000, 3000, 7000, 15_000, 25_000, 35_000].map((at) => `${at}: table repair (active)`));
    d.until(45_000); // the repair at 45 s succeeds
    expect(d.planner.nextWakeAt(45_000)).toBe(55_000);
    expect(d.until(55_000, refusedAgain)).toContain('55000: table repair (active)');
    expect(d.planner.nextWakeAt(55_000)).toBe(56_000);
  });

  it('IPVS missing: one error, then attempts backing off from 10 s to 5 min; the claim comes once it is there', () => {
    const d = director({ openRetryDelay: 10_000 }).send({ type: 'activate' });
    expect(d.run(noIpvs)).toEqual(['open']);
    expect(d.planner.settled).toBe(true);
    expect(d.logs('ipvs.unavailable')).toEqual([{ level: 'error', error: 'the kernel has no IPVS', remedy: IPVS_REMEDY }]);
    expect(IPVS_REMEDY).toContain('modprobe ip_vs');
    expect(d.planner.figures().unavailable).toEqual({ since: 0, error: 'the kernel has no IPVS' });
    d.at(5000).send({ type: 'status' });
    expect(d.running).toBeUndefined(); // backing off
    const attempts = d.until(1_000_000, noIpvs);
    expect(attempts).toEqual([10_000, 30_000, 70_000, 150_000, 310_000, 610_000, 910_000].map((at) => `${at}: open`));
    expect(d.logs('ipvs.unavailable').filter((line) => line.level === 'error')).toHaveLength(1);
    expect(d.until(1_210_000)).toEqual(['1210000: open', '1210000: apply-timeouts', '1210000: table claim (active)']);
    expect(d.logs('ipvs.available')).toEqual([{ level: 'info', version: '1.2.1' }]);
    expect(d.planner.figures().unavailable).toBeUndefined();
    expect(d.planner.nextWakeAt(1_210_000)).toBe(1_220_000);
  });

  it('does not open IPVS when nothing needs it', () => {
    const d = director({ model: model([]) });
    d.send({ type: 'activate' }).send({ type: 'sync-role', role: 'master' }).send({ type: 'status' });
    expect(d.running).toBeUndefined();
    expect(d.planner.settled).toBe(true);
  });

  it('status opens IPVS on a node that has not needed it yet, and does nothing more', () => {
    const d = director().send({ type: 'status' });
    expect(d.run()).toEqual(['open']);
    expect(d.planner.nextWakeAt(0)).toBe(Infinity);
  });

  it('timeouts the kernel refuses: logged once, retried with the maintenance', () => {
    const d = director().send({ type: 'activate' });
    const refuse = (operation: BalancerOperation): Outcome =>
      operation.type === 'apply-timeouts' ? { type: 'timeouts-applied', error: 'EPERM' } : succeed(operation);
    d.run(refuse);
    expect(d.until(1000, refuse)).toEqual(['1000: apply-timeouts', '1000: table repair (active)']);
    expect(d.logs('ipvs.timeouts-failed')).toEqual([{ level: 'error', error: 'EPERM' }]);
    expect(d.until(3000)).toEqual(['3000: apply-timeouts', '3000: table repair (active)']);
    expect(d.planner.nextWakeAt(3000)).toBe(13_000);
  });
});

describe('BalancerPlanner: sync daemon', () => {
  it('master or backup as the election says; a refusal is logged once and retried until it passes', () => {
    const d = director({ model: webModel({ sync: true }) }).send({ type: 'sync-role', role: 'backup' });
    expect(d.run()).toEqual(['open', 'sync backup']);
    d.send({ type: 'sync-role', role: 'master' });
    const refuse = (operation: BalancerOperation): Outcome =>
      operation.type === 'reconcile-sync' ? { type: 'sync-reconciled', error: 'start-daemon: EEXIST' } : succeed(operation);
    expect(d.run(refuse)).toEqual(['sync master']);
    expect(d.planner.figures()).toMatchObject({ syncRole: 'master', syncError: 'start-daemon: EEXIST' });
    expect(d.until(1000, refuse)).toEqual(['1000: sync master']);
    expect(d.logs('ipvs.sync-daemon-failed')).toEqual([{ level: 'error', role: 'master', error: 'start-daemon: EEXIST' }]);
    expect(d.until(3000)).toEqual(['3000: sync master']);
    expect(d.planner.figures().syncError).toBeUndefined();
    expect(d.planner.nextWakeAt(3000)).toBe(Infinity);
  });

  it('leaves the daemons alone while sync is disabled, and stops its own when a reload disables it', () => {
    const d = director().send({ type: 'sync-role', role: 'master' });
    expect(d.running).toBeUndefined();
    const withSync = webModel({ sync: true });
    d.send({ type: 'reload', model: withSync, services: servicesOf(withSync) });
    expect(d.run()).toEqual(['open', 'table reload (inactive)', 'sync master']);
    const without = webModel();
    d.send({ type: 'reload', model: without, services: servicesOf(without) });
    expect(d.run()).toEqual(['table reload (inactive)', 'sync none']);
    d.send({ type: 'sync-role', role: 'backup' });
    expect(d.running).toBeUndefined();
  });
});

describe('BalancerPlanner: health and reload', () => {
  it('coalesces health changes noted while a reconcile runs, in batches of healthBatch services', () => {
    const d = director({ model: webModel({ services: [1, 2, 3] }), healthBatch: 2 }).send({ type: 'activate' });
    d.run();
    d.send({ type: 'health', services: [web1] });
    expect(d.running).toBe('services web1');
    d.send({ type: 'health', services: [web2] })
      .send({ type: 'health', services: [web(3), web2] })
      .send({ type: 'health', services: [web1] });
    expect(d.run()).toEqual(['services web1', 'services web2 web3', 'services web1']);
    expect(d.planner.figures().lastReconcile).toMatchObject({ reason: 'health' });
  });

  it('a health reconcile clears the failures of its own services only', () => {
    const d = director().send({ type: 'activate' });
    d.run(tableAnswers(reconciled([addService(1)], [addService(1)])));
    d.send({ type: 'health', services: [web2] }).answer(reconciled());
    expect(d.planner.figures().failing).toEqual([describeOperation(addService(1))]);
    d.send({ type: 'health', services: [web1] }).answer(reconciled());
    expect(d.planner.figures().failing).toEqual([]);
  });

  it('health changes are ignored while inactive, and a release drops those not reconciled yet', () => {
    const d = director().send({ type: 'health', services: [web1] });
    expect(d.running).toBeUndefined();
    d.send({ type: 'activate' }).run();
    d.send({ type: 'health', services: [web1] }).send({ type: 'health', services: [web2] });
    d.send({ type: 'deactivate' });
    expect(d.run()).toEqual(['services web1', 'table release (inactive)']);
  });

  it('the health changes noted before a repair are reconciled first, so the repair finds only drift', () => {
    const d = director().send({ type: 'activate' });
    d.run();
    d.at(10_000).send({ type: 'tick' });
    expect(d.running).toBe('apply-timeouts');
    d.send({ type: 'health', services: [web1] });
    expect(d.run()).toEqual(['apply-timeouts', 'services web1', 'table repair (active)']);
  });

  it('a call is not held up by health reconciles; a reload covers the health changes noted before it', () => {
    const d = director().send({ type: 'activate' });
    d.run();
    d.send({ type: 'health', services: [web2] });
    expect(d.planner.settled).toBe(true);
    d.send({ type: 'health', services: [web1] });
    const reloaded = webModel({ services: [1] });
    d.send({ type: 'reload', model: reloaded, services: servicesOf(reloaded) });
    expect(d.planner.settled).toBe(false);
    expect(d.run()).toEqual(['services web2', 'apply-timeouts', 'table reload (active)']);
    expect(d.planner.settled).toBe(true);
    // a change of a service the reload removed
    d.send({ type: 'health', services: [web2] });
    expect(d.running).toBeUndefined();
  });

  it('a maintenance due while a claim is waiting for IPVS is that claim', () => {
    const d = director().send({ type: 'activate' });
    d.run(noIpvs);
    expect(d.until(10_000)).toEqual(['10000: open', '10000: apply-timeouts', '10000: table claim (active)']);
  });
});

describe('BalancerPlanner: a reload of some services', () => {
  const many = (weights: Record<number, number> = {}, count = 20) =>
    model(
      Array.from({ length: count }, (_, index) => {
        const i = index + 1;
        return virtualService(`web${i}`, `203.0.113.${i}`, { realServers: [realServer(`10.0.${i}.1`, { weight: weights[i] ?? 1 })] });
      }),
    );
  const reload = async (d: ReturnType<typeof director>, before: Model, after: Model) =>
    d.send({
      type: 'reload',
      model: after,
      services: servicesOf(after),
      changed: await changedServices(servicesOf(before), servicesOf(after)),
    });

  it('one changed weight reconciles only that service; the call waits for it', async () => {
    const before = many();
    const d = director({ model: before }).send({ type: 'activate' });
    d.run();
    await reload(d, before, many({ 7: 3 }));
    expect(d.planner.settled).toBe(false);
    expect(d.run()).toEqual(['apply-timeouts', 'reload services web7 (active)']);
    expect(d.planner.settled).toBe(true);
    expect(d.planner.figures().lastReconcile).toMatchObject({ reason: 'reload' });
    expect(d.logs('ipvs.reload-scope')).toEqual([{ level: 'info', changed: 1, wholeTable: false }]);
  });

  it('a removed service is deleted and an added one added, in batches of healthBatch', async () => {
    const before = many({}, 40);
    const d = director({ model: before, healthBatch: 2 }).send({ type: 'activate' });
    d.run();
    const after = model([...before.virtualServices.filter((service) => service.name !== 'web3'), web(41)]);
    await reload(d, before, after);
    expect(d.run()).toEqual(['apply-timeouts', 'reload services web41 -tcp/203.0.113.3:80 (active)']);
    // inactive, the changed services are made as a release leaves them
    d.send({ type: 'deactivate' }).run();
    await reload(d, after, many({ 1: 2, 2: 2 }, 40));
    expect(d.run()).toEqual(['reload services web1 web2 (inactive)', 'reload services web3 -tcp/203.0.113.41:80 (inactive)']);
  });

  it('reconciles the whole table when a setting of every service changed, when too many changed, or before the claim is done', async () => {
    const before = many();
    const d = director({ model: before }).send({ type: 'activate' });
    d.run();
    const keep = { ...many({ 7: 3 }), keepServicesOnRelease: !before.keepServicesOnRelease };
    await reload(d, before, keep);
    expect(d.run()).toEqual(['apply-timeouts', 'table reload (active)']);
    await reload(d, keep, { ...many({ 1: 2, 2: 2, 3: 2 }), keepServicesOnRelease: keep.keepServicesOnRelease });
    expect(d.run()).toEqual(['apply-timeouts', 'table reload (active)']);
    expect(d.logs('ipvs.reload-scope')).toMatchObject([
      { changed: 1, wholeTable: true, why: 'a setting of every service changed' },
      { changed: 4, wholeTable: true, why: 'too many services changed' },
    ]);

    const claiming = director({ model: before }).send({ type: 'activate' });
    claiming.run();
    claiming.send({ type: 'deactivate' }).send({ type: 'activate' });
    expect(claiming.running).toBe('table release (inactive)');
    await reload(claiming, before, many({ 7: 3 }));
    expect(claiming.run()).toEqual(['table release (inactive)', 'apply-timeouts', 'table reload (active)']);
    expect(claiming.logs('ipvs.reload-scope')).toMatchObject([{ wholeTable: true }]);
  });

  it('a whole-table reconcile asked for meanwhile covers the services a reload changed', async () => {
    const before = many();
    const d = director({ model: before }).send({ type: 'activate' });
    d.run();
    d.at(10_000).send({ type: 'tick' });
    expect(d.running).toBe('apply-timeouts');
    await reload(d, before, many({ 7: 3 }));
    d.send({ type: 'deactivate' });
    expect(d.run()).toEqual(['apply-timeouts', 'table release (inactive)']);
  });
});

describe('BalancerPlanner: close', () => {
  it('asks for nothing more, not even the outcome of what was in flight', () => {
    const d = director().send({ type: 'activate' });
    d.answer(succeed({ type: 'open' }));
    d.send({ type: 'close' });
    expect(d.planner.settled).toBe(true);
    d.answer({ type: 'timeouts-applied' });
    expect(d.running).toBeUndefined();
    expect(d.planner.nextWakeAt(0)).toBe(Infinity);
  });
});
