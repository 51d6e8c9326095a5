// The table planner's thread gives a whole-table reconcile what the event loop would have
// built itself: the same operations, the same table; and when it stops unasked it is
// counted, logged, and the balancer plans on the event loop (and starts a new thread later).
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthView } from '../../../src/config/model.js';
import { desiredTable } from '../../../src/ipvs/desired.js';
import { IpvsBalancer } from '../../../src/ipvs/ipvs-balancer.js';
import { IpvsReconciler } from '../../../src/ipvs/reconcile.js';
import { addDeviations, configuredHealth, TablePlan, type HealthDeviations } from '../../../src/ipvs/table-plan.js';
import type { PlannerRequest } from '../../../src/ipvs/table-protocol.js';
import { PlannerStopped, startPlannerThread, TableThread } from '../../../src/ipvs/table-thread.js';
import { serviceKey } from '../../../src/ipvs/table.js';
import { HealthMonitor } from '../../../src/health/index.js';
import { createStats } from '../../../src/lib/stats.js';
import { bigTable } from '../../support/big-table.js';
import { captureLogger } from '../../support/capture-log.js';
import { MemoryIpvs } from '../../support/memory-ipvs.js';
import { MemoryKernel } from './memory-kernel.js';

const { model } = bigTable(1200, 2);
/** Threads start slowly on a machine busy with other tests. */
const slow = { timeout: 30_000 };
/** The first real server of every third service down, the second of every fifth at half weight. */
const someDown: HealthView = (service, server) => {
  const index = model.virtualServices.indexOf(service);
  const position = service.realServers.indexOf(server);
  if (position === 0 && index % 3 === 0) return { up: false, weight: 0 };
  if (position === 1 && index % 5 === 0) return { up: true, weight: Math.ceil(server.weight / 2) };
  return configuredHealth(service, server);
};
const kernelTable = (kernel: MemoryIpvs) => [...kernel.services.values()].sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
/** A check that ends only when it is aborted (by disable, on close). */
const untilAborted = (_check: unknown, signal: AbortSignal) =>
  new Promise<{ outcome: 'pass'; message: string; durationMs: number }>((resolve) =>
    signal.addEventListener('abort', () => resolve({ outcome: 'pass', message: 'aborted', durationMs: 0 })),
  );
const crashing = () => new Worker('process.exit(3)', { eval: true });

let threads: TableThread[] = [];
afterEach(async () => {
  await Promise.all(threads.map((thread) => thread.close()));
  threads = [];
});

function thread(start?: () => Worker) {
  const log = captureLogger();
  const stats = createStats().ipvs;
  const made = new TableThread({ logger: log.logger, stats, ...(start && { start }) });
  threads.push(made);
  return { thread: made, stats, records: log.records };
}

describe('TablePlan', () => {
  it('builds the desired table from the health that differs from the configured weights', () => {
    const deviations: HealthDeviations = [];
    model.virtualServices.forEach((service, index) => addDeviations(deviations, index, service, someDown));
    expect(deviations.length / 4).toBe(400 + 240);
    const plan = new TablePlan();
    plan.copy.receive({ type: 'model', head: model });
    plan.copy.addServices(model.virtualServices);
    const planned = plan.desire('active', deviations);
    expect(planned.services).toEqual(desiredTable(model, { role: 'active', health: someDown }).services);
    expect(plan.desire('inactive', [])).toEqual(desiredTable(model, { role: 'inactive' }));
  });

  it("keeps the previous model's services where a reload left them", () => {
    const plan = new TablePlan();
    plan.copy.receive({ type: 'model', head: model });
    plan.copy.addServices(model.virtualServices);
    const [first, second, ...rest] = model.virtualServices;
    const reweighed = { ...second!, realServers: second!.realServers.map((server) => ({ ...server, weight: 7 })) };
    const reloaded = { ...model, virtualServices: [first!, reweighed, ...rest.slice(0, 10)] };
    plan.copy.receive({ type: 'model', head: reloaded });
    plan.copy.addServices([], 1);
    plan.copy.receive({ type: 'services', kept: 0, services: [reweighed] });
    plan.copy.addServices([], 10);
    expect(plan.desire('inactive', [])).toEqual(desiredTable(reloaded, { role: 'inactive' }));
    expect(() => plan.copy.addServices([], model.virtualServices.length)).toThrow(/has 1200 services, not 1212 to keep/);
  });
});

describe('TableThread', slow, () => {
  it('reconciles a table as the event loop would, from empty and with drift', async () => {
    const { thread: planner } = thread();
    const here = new MemoryIpvs();
    const there = new MemoryIpvs();
    const { logger } = captureLogger();
    const local = new IpvsReconciler(here, logger);
    const remote = new IpvsReconciler(there, logger);
    const expected = await local.reconcile(desiredTable(model, { role: 'active', health: someDown }), 'claim');
    const result = await remote.reconcileTable(await planner.target(model, 'active', someDown), 'claim');
    expect(result.operations).toEqual(expected.operations);
    expect(kernelTable(there)).toEqual(kernelTable(here));
    // drift: a service gone, a weight changed, a stranger's service left alone
    for (const kernel of [here, there]) {
      const [first, second] = [...kernel.services.keys()];
      kernel.services.delete(first!);
      kernel.services.get(second!)!.destinations[0]!.weight = 99;
      kernel.services.set('stranger', { ...kernel.services.get(second!)!, address: '192.0.2.99' });
    }
    const repaired = await local.reconcile(desiredTable(model, { role: 'active' }), 'repair');
    const repairedThere = await remote.reconcileTable(await planner.target(model, 'active'), 'repair');
    expect(repairedThere.operations).toEqual(repaired.operations);
    expect(kernelTable(there)).toEqual(kernelTable(here));
  });

  it('sends a reloaded model as the services that changed, and plans it whole', async () => {
    const services: unknown[] = [];
    const { thread: planner } = thread(() => {
      const worker = startPlannerThread();
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message: PlannerRequest) => {
        if (message.type === 'services') services.push(...message.services);
        post(message);
      };
      return worker;
    });
    await planner.prepare(model);
    expect(services).toHaveLength(model.virtualServices.length);
    services.length = 0;
    // one weight changed in the middle, the last service removed, two added at the end
    const middle = model.virtualServices[600]!;
    const reweighed = { ...middle, realServers: [{ ...middle.realServers[0]!, weight: 9 }, ...middle.realServers.slice(1)] };
    const added = bigTable(1204, 2).model.virtualServices.slice(-2);
    const reloaded = {
      ...model,
      virtualServices: [...model.virtualServices.slice(0, 600), reweighed, ...model.virtualServices.slice(601, -1), ...added],
    };
    const kernel = new MemoryIpvs();
    await new IpvsReconciler(kernel, captureLogger().logger).reconcileTable(await planner.target(reloaded, 'active'), 'reload');
    expect(services).toEqual([reweighed, ...added]);
    const expected = new MemoryIpvs();
    await new IpvsReconciler(expected, captureLogger().logger).reconcile(desiredTable(reloaded, { role: 'active' }), 'reload');
    expect(kernelTable(kernel)).toEqual(kernelTable(expected));
  });

  it('counts and logs a thread that stops, fails what waited for it, and starts anew', async () => {
    let starts = 0;
    const { thread: planner, stats, records } = thread(() => (++starts === 1 ? crashing() : startPlannerThread()));
    await expect(planner.target(model, 'active')).rejects.toBeInstanceOf(PlannerStopped);
    expect(stats.plannerCrashes.value()).toBe(1);
    expect(records.filter((record) => record.event === 'ipvs.planner-crashed')).toHaveLength(1);
    const kernel = new MemoryIpvs();
    await new IpvsReconciler(kernel, captureLogger().logger).reconcileTable(await planner.target(model, 'active'), 'retry');
    expect(starts).toBe(2);
    expect(kernel.services.size).toBe(model.virtualServices.length);
  });

  it('ends a thread that does not answer in time, as if it had crashed', async () => {
    const log = captureLogger();
    const stats = createStats().ipvs;
    const hanging = new TableThread({
      logger: log.logger,
      stats,
      start: () => new Worker('setInterval(() => undefined, 1000)', { eval: true }),
      answerWithinMs: 100,
    });
    threads.push(hanging);
    await expect(hanging.target(model, 'active')).rejects.toBeInstanceOf(PlannerStopped);
    expect(stats.plannerCrashes.value()).toBe(1);
    expect(log.records.find((record) => record.event === 'ipvs.planner-crashed')?.why).toBe('no answer to desire within 100 ms');
  });
});

describe('IpvsBalancer with the table planner on a thread', slow, () => {
  let balancer: IpvsBalancer | undefined;
  afterEach(async () => {
    await balancer?.close();
    balancer = undefined;
  });

  async function claim(options: { tableThreadFrom: number; startPlanner?: () => Worker }) {
    const kernel = new MemoryKernel();
    const log = captureLogger();
    const stats = createStats().ipvs;
    balancer = await IpvsBalancer.create({
      model,
      self: model.nodes[0]!,
      logger: log.logger,
      health: new HealthMonitor({ logger: log.logger, runCheck: untilAborted }),
      openKernel: () => Promise.resolve(kernel),
      stats,
      ...options,
    });
    await balancer.activate();
    return { table: kernelTable(kernel), stats, records: log.records };
  }

  it('programs the same table on the thread as on the event loop', async () => {
    const onLoop = await claim({ tableThreadFrom: Infinity });
    await balancer?.close();
    const onThread = await claim({ tableThreadFrom: 1 });
    expect(onThread.table).toHaveLength(model.virtualServices.length);
    expect(onThread.table).toEqual(onLoop.table);
    expect(onThread.stats.plannerCrashes.value()).toBe(0);
  });

  it('claims on the event loop when the thread crashes, and counts it', async () => {
    const onLoop = await claim({ tableThreadFrom: Infinity });
    await balancer?.close();
    const crashed = await claim({ tableThreadFrom: 1, startPlanner: crashing });
    expect(crashed.table).toEqual(onLoop.table);
    expect(crashed.stats.plannerCrashes.value()).toBeGreaterThanOrEqual(1);
    expect(crashed.records.some((record) => record.event === 'ipvs.planner-crashed')).toBe(true);
  });
});
