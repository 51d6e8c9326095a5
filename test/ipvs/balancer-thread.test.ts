// The balancer on its own thread (tandem run's from BALANCER_THREAD_SERVICES services)
// against the real kernel: the generic netlink socket opened in the worker programs the
// director's table as ipvsadm -R does from the same rules, and a release removes it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BalancerThread } from '../../src/ipvs/index.js';
import { createStats } from '../../src/lib/stats.js';
import { createLogger } from '../../src/log.js';
import { bigTable } from '../support/big-table.js';
import { ipvsadm, resetIpvs } from './director.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });

void describe('the balancer on its own thread', () => {
  const { rules, model: checked } = bigTable(400, 2);
  // no checks: the real servers are not there, and a failed check would take them out
  const model = {
    ...checked,
    virtualServices: checked.virtualServices.map((service) => ({
      ...service,
      healthCheck: { ...service.healthCheck, kind: 'none' as const },
    })),
  };
  let reference = '';

  before(async () => {
    await resetIpvs();
    await ipvsadm(['-R'], rules);
    reference = await ipvsadm(['-S', '-n']);
    await resetIpvs();
  });
  after(resetIpvs);

  void it("programs ipvsadm -R's table on a claim and removes it on a release", async () => {
    const stats = createStats();
    const balancer = await BalancerThread.start({ model, self: { name: 'ifw01', address: '192.0.2.1', priority: 200 }, logger, stats });
    try {
      await balancer.activate();
      assert.equal(await ipvsadm(['-S', '-n']), reference);
      const status = await balancer.status();
      assert.equal(status.ipvs.state, 'available');
      assert.equal(status.services?.length, 400);
      assert.equal(stats.ipvs.operations.sum(), 400 + 800, "the thread's operations are counted in the daemon's registry");
      await balancer.deactivate();
      assert.equal(await ipvsadm(['-S', '-n']), '');
    } finally {
      await balancer.close();
    }
  });
});
