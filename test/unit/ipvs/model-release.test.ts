// After a reload the balancer, its health monitor and the planner's thread hold the new
// model only: at 100,000 services a model kept by mistake is 60 MB more on the heap whose
// collections the event loop waits for.
import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import { HealthMonitor } from '../../../src/health/index.js';
import { IpvsBalancer } from '../../../src/ipvs/ipvs-balancer.js';
import { bigTable } from '../../support/big-table.js';
import { captureLogger } from '../../support/capture-log.js';
import { healthCheck } from '../../support/ipvs-models.js';
import { MemoryKernel } from './memory-kernel.js';
import { collectGarbage } from '../../support/collect-garbage.js';

/** 200 services × 2, each checked by TCP (the check passes at once and opens no socket). */
function checkedTable(weight: number): Model {
  const { model } = bigTable(200, 2);
  const check = healthCheck({ kind: 'tcp', interval: 1000 });
  for (const service of model.virtualServices) {
    service.healthCheck = check;
    for (const server of service.realServers) server.weight = weight;
  }
  return model;
}

const pass = () => Promise.resolve({ outcome: 'pass' as const, message: 'connected', durationMs: 1 });

describe('IpvsBalancer after a reload', { timeout: 30_000 }, () => {
  for (const [place, tableThreadFrom] of [
    ['on the event loop', Infinity],
    ["on the planner's thread", 1],
  ] as const) {
    it(`holds nothing of the model before (tables planned ${place})`, async () => {
      const { logger } = captureLogger();
      const kernel = new MemoryKernel();
      // only weak references to the first model leave this scope
      const [balancer, first] = await (async () => {
        const model = checkedTable(1);
        const made = await IpvsBalancer.create({
          model,
          self: model.nodes[0]!,
          logger,
          health: new HealthMonitor({ logger, runCheck: pass }),
          openKernel: () => Promise.resolve(kernel),
          tableThreadFrom,
        });
        await made.activate();
        const [service] = model.virtualServices;
        return [made, [new WeakRef(model), new WeakRef(service!), new WeakRef(service!.realServers[0]!)]] as const;
      })();
      try {
        await balancer.reload(checkedTable(2));
        await balancer.status();
        await new Promise((resolve) => setTimeout(resolve, 50));
        collectGarbage();
        expect(first.map((reference) => reference.deref() === undefined)).toEqual([true, true, true]);
      } finally {
        await balancer.close();
      }
    });
  }
});
