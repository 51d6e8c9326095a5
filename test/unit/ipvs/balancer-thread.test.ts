// The balancer on a thread of its own, over a real worker thread: the in-memory kernel and
// checks of memory-parts.ts run in it. What the thread's IpvsBalancer does is tested in
// simulated time in ipvs-balancer.test.ts; here, that calls, the model, logs, counts and
// status cross, and that a thread that stops is started again as it was.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import type { ServiceStatus } from '../../../src/ipvs/balancer.js';
import { BalancerThread, startBalancerWorker, type BalancerThreadOptions } from '../../../src/ipvs/balancer-thread.js';
import { desiredTable } from '../../../src/ipvs/desired.js';
import { serviceKey, type IpvsService } from '../../../src/ipvs/table.js';
import { jsonChunks } from '../../../src/lib/json-chunks.js';
import { createStats } from '../../../src/lib/stats.js';
import { bigTable } from '../../support/big-table.js';
import { captureLogger } from '../../support/capture-log.js';
import { collectGarbage } from '../../support/collect-garbage.js';

const slow = { timeout: 60_000 };
const self = { name: 'ifw01', address: '192.0.2.1', priority: 200 };
const parts = new URL('./memory-parts.ts', import.meta.url);
const opened: BalancerThread[] = [];

async function start(model: Model, options: Partial<BalancerThreadOptions> = {}) {
  const log = captureLogger();
  const stats = createStats();
  const balancer = await BalancerThread.start({
    model,
    self,
    logger: log.logger,
    stats,
    parts,
    settings: { repairInterval: 3_600_000 },
    ...options,
  });
  opened.push(balancer);
  return { balancer, stats, records: log.records };
}

function omit<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key as K))) as Omit<T, K>;
}

/** Status's services, which come as the thread's JSON text. */
async function servicesOf({ services }: Awaited<ReturnType<BalancerThread['status']>>): Promise<ServiceStatus[]> {
  const all: ServiceStatus[] = [];
  for await (const batch of services?.parsed() ?? []) all.push(...batch);
  return all;
}

/** The table as status shows it, destinations without their health, in key order. */
async function tableOf(balancer: BalancerThread): Promise<IpvsService[]> {
  return (await servicesOf(await balancer.status()))
    .map((service) => ({
      ...omit(service, 'name', 'absent'),
      destinations: service.destinations
        .map((destination) => omit(destination, 'health'))
        .sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port),
    }))
    .sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
}

const desired = (model: Model) =>
  [...desiredTable(model, { role: 'active' }).services.values()]
    .map((service) => ({
      ...service,
      destinations: [...service.destinations].sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port),
    }))
    .sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));

afterEach(async () => {
  await Promise.all(opened.splice(0).map((balancer) => balancer.close()));
});

describe('BalancerThread', slow, () => {
  it("programs the model's table on a claim, and shows it in status a slice at a time", async () => {
    const { model } = bigTable(1000, 2);
    const { balancer, stats, records } = await start(model);
    expect(await tableOf(balancer)).toEqual([]);
    await balancer.activate();
    const status = await balancer.status();
    expect(status.role).toBe('active');
    expect(status.services).toHaveLength(1000);
    const services = await servicesOf(status);
    expect(services.every((service) => service.destinations.every((destination) => destination.health?.server))).toBe(true);
    // as the control socket writes it
    let json = '';
    for await (const chunk of jsonChunks(await balancer.status())) json += chunk;
    const names = (list: ServiceStatus[]) => list.map((service) => service.name);
    expect(names((JSON.parse(json) as { services: ServiceStatus[] }).services)).toEqual(names(services));
    expect(await tableOf(balancer)).toEqual(desired(model));
    // the thread's counts are the registry's, and its lines the daemon's logger's
    expect(stats.ipvs.reconciles.value({ reason: 'claim' })).toBe(1);
    expect(stats.ipvs.operations.sum()).toBe(1000 + 2000);
    expect(records).toContainEqual(expect.objectContaining({ event: 'ipvs.reconciled', reason: 'claim', level: 30 }));
    await balancer.deactivate();
    expect(await tableOf(balancer)).toEqual([]);
  });

  it('lets go of the status a reader left, and of the oldest of too many read at once', async () => {
    const { model } = bigTable(1000, 2);
    const { balancer } = await start(model);
    await balancer.activate();
    const left = (await balancer.status()).services?.text();
    await left?.next();
    await left?.next();
    await left?.return(undefined);
    // the thread builds them side by side: which is the oldest depends on which was done first
    const statuses = await Promise.all(Array.from({ length: 5 }, () => balancer.status()));
    const read = await Promise.allSettled(statuses.map(servicesOf));
    expect(read.filter((result) => result.status === 'fulfilled' && result.value.length === 1000)).toHaveLength(4);
    const reasons = read.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
    expect(reasons).toEqual([expect.stringContaining('the status was let go')]);
    expect(await servicesOf(await balancer.status())).toHaveLength(1000);
  });

  it('reloads with what changed, in the role it has', async () => {
    const { model } = bigTable(600, 2);
    const { balancer } = await start(model);
    await balancer.activate();
    const [first, ...rest] = model.virtualServices;
    const reweighed = { ...first!, realServers: first!.realServers.map((server) => ({ ...server, weight: 9 })) };
    const reloaded = { ...model, virtualServices: [reweighed, ...rest.slice(0, -1)] };
    await balancer.reload(reloaded);
    expect(await tableOf(balancer)).toEqual(desired(reloaded));
  });

  it('lets the model go that a reload replaced', async () => {
    // only a weak reference to the first model leaves this scope
    const [balancer, first] = await (async () => {
      const { model } = bigTable(300, 2);
      const { balancer: made } = await start(model);
      await made.activate();
      return [made, new WeakRef(model)] as const;
    })();
    await balancer.reload(bigTable(301, 2).model);
    await balancer.status();
    collectGarbage();
    expect(first.deref()).toBeUndefined();
  });

  it('starts a thread that stopped again, with the model and role it had', async () => {
    const { model } = bigTable(300, 2);
    const workers: Worker[] = [];
    const { balancer, stats, records } = await start(model, {
      restartAfterMs: 10,
      start: () => {
        const worker = startBalancerWorker();
        workers.push(worker);
        return worker;
      },
    });
    await balancer.activate();
    await balancer.setSyncRole('master');
    await workers[0]!.terminate();
    // a call made while it is down is done by the new thread
    await balancer.reload(model);
    expect(workers).toHaveLength(2);
    expect(stats.ipvs.balancerCrashes.value()).toBe(1);
    expect(records).toContainEqual(expect.objectContaining({ event: 'ipvs.balancer-crashed', why: 'exit code 1' }));
    expect(await tableOf(balancer)).toEqual(desired(model));
    expect((await balancer.status()).sync.role).toBe('master');
  });

  it('ends a new thread that cannot create its balancer, and starts another', async () => {
    const { model } = bigTable(300, 2);
    const workers: Worker[] = [];
    const { balancer, stats, records } = await start(model, {
      restartAfterMs: 10,
      start: () => {
        // the second thread refuses to create its balancer, as one without the kernel's IPVS would
        const worker = workers.length === 1 ? new Worker(refusingCreate, { eval: true }) : startBalancerWorker();
        workers.push(worker);
        return worker;
      },
    });
    await balancer.activate();
    await workers[0]!.terminate();
    await balancer.reload(model);
    expect(workers).toHaveLength(3);
    expect(stats.ipvs.balancerCrashes.value()).toBe(2);
    const failed = records.find((record) => record.event === 'ipvs.balancer-restart-failed');
    expect(failed?.msg).toMatch(/could not start again: the balancer thread: no IPVS here; it is ended and started again$/);
    expect(await tableOf(balancer)).toEqual(desired(model));
  });
});

/** A balancer thread whose balancer cannot be created: it fails that call, and every call after it. */
const refusingCreate = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (message) => {
  if (message.id !== undefined) parentPort.postMessage({ type: 'failed', id: message.id, message: 'no IPVS here' });
});`;
