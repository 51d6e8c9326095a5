// Reconciling against the real kernel: what tandem owns follows the model (reload,
// release), what it does not own is left alone, refusals name what failed.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { HealthView } from '../../src/config/model.js';
import { desiredTable, IpvsReconciler } from '../../src/ipvs/index.js';
import { createLogger } from '../../src/log.js';
import { ipvsadm, ipvs, resetIpvs } from './director.js';
import { healthCheck, model, realServer, sorryServer, virtualService } from '../support/ipvs-models.js';

const logger = createLogger({ format: 'json', level: 'silent' });

const web = (name: string, vip: string, overrides = {}) =>
  virtualService(name, vip, {
    realServers: [realServer('10.0.0.1', { weight: 2 }), realServer('10.0.0.2', { weight: 3 })],
    sorryServer: sorryServer('10.0.0.99'),
    healthCheck: healthCheck({ quiesceServer: true }),
    ...overrides,
  });

void describe('reconciling the kernel table', { timeout: 120_000 }, () => {
  beforeEach(resetIpvs);

  void it('follows reloads and release for its own services and leaves the others alone', async () => {
    await ipvsadm(['-A', '-t', '198.51.100.99:25', '-s', 'rr']); // not tandem's
    const reconciler = new IpvsReconciler(await ipvs(), logger);
    const both = model([web('a', '198.51.100.1'), web('b', '198.51.100.2')]);
    await reconciler.reconcile(desiredTable(both, { role: 'active' }), 'claim');
    assert.deepEqual((await reconciler.reconcile(desiredTable(both, { role: 'active' }), 'again')).operations, []);

    const onlyA = model([web('a', '198.51.100.1', { scheduler: 'rr' })]);
    const reload = await reconciler.reconcile(desiredTable(onlyA, { role: 'active' }), 'reload');
    assert.deepEqual(
      reload.operations.map((op) => op.kind),
      ['edit-service', 'delete-service'],
    );
    assert.equal(
      await ipvsadm(['-S', '-n']),
      [
        '-A -t 198.51.100.1:80 -s rr',
        '-a -t 198.51.100.1:80 -r 10.0.0.1:80 -m -w 2',
        '-a -t 198.51.100.1:80 -r 10.0.0.2:80 -m -w 3',
        '-A -t 198.51.100.99:25 -s rr',
        '',
      ].join('\n'),
    );

    await reconciler.reconcile(desiredTable({ ...onlyA, keepServicesOnRelease: true }, { role: 'inactive' }), 'release');
    assert.match(await ipvsadm(['-S', '-n']), /-r 10\.0\.0\.1:80 -m -w 0\n.*-r 10\.0\.0\.2:80 -m -w 0\n/s);
    await reconciler.reconcile(desiredTable(onlyA, { role: 'inactive' }), 'release');
    assert.equal(await ipvsadm(['-S', '-n']), '-A -t 198.51.100.99:25 -s rr\n');
  });

  void it('applies health one service at a time: quiesce, sorry server, return', async () => {
    const reconciler = new IpvsReconciler(await ipvs(), logger);
    const config = model([web('a', '198.51.100.1'), web('b', '198.51.100.2')]);
    await reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim');
    const [a] = config.virtualServices;
    const down = new Set<string>();
    const health: HealthView = (service, server) => ({ up: !(service === a && down.has(server.address)), weight: server.weight });

    down.add('10.0.0.1').add('10.0.0.2');
    const allDown = await reconciler.reconcileServices(desiredTable(config, { role: 'active', health }, [a!]), 'health');
    assert.deepEqual(
      allDown.operations.map((op) => op.kind),
      ['add-destination', 'edit-destination', 'edit-destination'],
    );
    assert.equal(allDown.servicesRead, 1);
    assert.match(
      await ipvsadm(['-S', '-n']),
      /-r 10\.0\.0\.1:80 -m -w 0\n.*-r 10\.0\.0\.2:80 -m -w 0\n.*-r 10\.0\.0\.99:80 -m -w 1\n-A -t 198\.51\.100\.2/s,
    );

    down.delete('10.0.0.2');
    const back = await reconciler.reconcileServices(desiredTable(config, { role: 'active', health }, [a!]), 'health');
    assert.deepEqual(
      back.operations.map((op) => op.kind),
      ['edit-destination', 'delete-destination'],
    );
  });

  void it('reports a refusal naming the operation and the object, and applies the rest', async () => {
    const reconciler = new IpvsReconciler(await ipvs(), logger);
    const config = model([web('good', '198.51.100.1'), web('bad', '198.51.100.2', { scheduler: 'no-such' })]);
    const result = await reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim');
    assert.equal(
      result.failures[0]?.error.message,
      'add service TCP 198.51.100.2:80 (no-such): ENOENT (no such scheduler or persistence engine module)',
    );
    assert.match(await ipvsadm(['-S', '-n']), /^-A -t 198\.51\.100\.1:80 -s wlc\n(-a .*\n){2}$/);
  });
});
