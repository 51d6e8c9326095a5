// Real traffic through what tandem programs: a client reaches the real servers through
// the VIP (VS/NAT), round-robin; a weight change is an edit in place that leaves an
// established connection up; IPv6 services forward too.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Model } from '../../src/config/model.js';
import { desiredTable, IpvsReconciler, readTable } from '../../src/ipvs/index.js';
import { createLogger } from '../../src/log.js';
import { addresses, ipvs, ipvsadm, natLab, resetIpvs, type NatLab } from './director.js';
import { model, realServer, virtualService } from '../support/ipvs-models.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });

function natModel(weights: [number, number] = [1, 1]): Model {
  const servers = (port: number) =>
    addresses.realServers.map((address, i) => realServer(address, { name: `rs${i + 1}`, port, weight: weights[i] }));
  const servers6 = addresses.realServers6.map((address, i) => realServer(address, { name: `rs${i + 1}-v6`, weight: weights[i] }));
  return model([
    virtualService('http', `${addresses.vip}/24`, { scheduler: 'rr', realServers: servers(80) }),
    virtualService('echo', `${addresses.vip}/24`, { port: 9000, scheduler: 'rr', realServers: servers(9000) }),
    virtualService('http6', `${addresses.vip6}/64`, { scheduler: 'rr', realServers: servers6 }),
  ]);
}

void describe('traffic through the VIP (VS/NAT)', { timeout: 180_000 }, () => {
  let lab: NatLab;
  let reconciler: IpvsReconciler;

  before(async () => {
    await resetIpvs();
    lab = await natLab();
  });
  after(async () => (lab as NatLab | undefined)?.destroy());
  beforeEach(async () => {
    await resetIpvs();
    reconciler = new IpvsReconciler(await ipvs(), logger);
    const result = await reconciler.reconcile(desiredTable(natModel(), { role: 'active' }), 'claim');
    assert.deepEqual(result.failures, []);
  });

  void it('a client reaches both real servers round-robin', async () => {
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push(await lab.httpGet(`http://${addresses.vip}/`));
    assert.deepEqual(new Set(replies), new Set(['hello from rs1', 'hello from rs2']));
    // rr alternates
    assert.notEqual(replies[0], replies[1]);
    assert.equal(replies[0], replies[2]);
    assert.equal(replies[1], replies[3]);
  });

  void it('a weight change is edited in place and an established connection stays up', async () => {
    const session = await lab.openEcho(addresses.vip);
    try {
      const first = await session.exchange('before the change');
      const servedBy = first.split(' ')[0]!;
      const connections = await ipvsadm(['-Lnc']);
      assert.match(connections, new RegExp(`ESTABLISHED +${addresses.client}:\\d+ +${addresses.vip}:9000`));

      const result = await reconciler.reconcile(desiredTable(natModel([5, 1]), { role: 'active' }), 'reload');
      assert.deepEqual(
        result.operations.map((op) => op.kind),
        ['edit-destination', 'edit-destination', 'edit-destination'],
        'only edits (http, echo and http6 each have rs1 at weight 5 now)',
      );
      const echo = (await readTable(await ipvs())).find((service) => service.port === 9000)!;
      const weights = Object.fromEntries(echo.destinations.map((d) => [d.address, d.weight]));
      assert.deepEqual(weights, { [addresses.realServers[0]]: 5, [addresses.realServers[1]]: 1 });
      // the destination kept its connection (a delete + add would have moved it to the trash)
      const servingAddress = addresses.realServers[Number(servedBy.replace('rs', '')) - 1];
      assert.equal(echo.destinations.find((d) => d.address === servingAddress)?.counters?.activeConnections, 1);

      assert.equal(await session.exchange('after the change'), `${servedBy} got: after the change`);
    } finally {
      await session.close();
    }
  });

  void it('forwards to an IPv6 service', async () => {
    const replies = [await lab.httpGet(`http://[${addresses.vip6}]/`), await lab.httpGet(`http://[${addresses.vip6}]/`)];
    assert.deepEqual(new Set(replies), new Set(['hello from rs1', 'hello from rs2']));
  });
});
