// Connection timeouts and the kernel's connection sync daemons, set by tandem.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { desiredSyncDaemons, desiredTable, IpvsReconciler, reconcileSyncDaemons, reconcileTimeouts } from '../../src/ipvs/index.js';
import { createLogger } from '../../src/log.js';
import { addresses, defaultTimeouts, ipvs, ipvsadm, natLab, resetIpvs, type NatLab } from './director.js';
import { model, realServer, virtualService } from '../support/ipvs-models.js';

const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const sync = { enabled: true, syncId: 7, port: 8848 };

void describe('IPVS timeouts and sync daemons', { timeout: 180_000 }, () => {
  let lab: NatLab;

  before(async () => {
    await resetIpvs();
    lab = await natLab();
  });
  // unset when the lab could not be built
  after(async () => (lab as NatLab | undefined)?.destroy());
  beforeEach(resetIpvs);

  void it('sets the timeouts the model gives and keeps the others', async () => {
    const kernel = await ipvs();
    assert.deepEqual(await reconcileTimeouts(kernel, { tcp: 600, udp: 60 }, logger), { tcp: 600, udp: 60 });
    assert.equal(await ipvsadm(['-L', '--timeout']), `Timeout (tcp tcpfin udp): 600 ${defaultTimeouts.tcpFin} 60\n`);
    assert.deepEqual(await reconcileTimeouts(kernel, { tcp: 600, udp: 60 }, logger), {});
  });

  void it('starts the master daemon while active, the backup otherwise, and stops them', async () => {
    const kernel = await ipvs();
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'master', 'priv0'), logger);
    assert.match(await ipvsadm(['-L', '--daemon']), /^master sync daemon \(mcast=priv0, syncid=7, .*port=8848/);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'backup', 'priv0'), logger);
    assert.match(await ipvsadm(['-L', '--daemon']), /^backup sync daemon \(mcast=priv0, syncid=7, .*port=8848, ttl=1\)\n$/);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'none', 'priv0'), logger);
    assert.equal(await ipvsadm(['-L', '--daemon']), '');
  });

  void it('starts a daemon with the group, port, TTL and message length ipvsadm --start-daemon gives it', async () => {
    const kernel = await ipvs();
    const tuned = { ...sync, port: 8849, group: '239.0.0.82', ttl: 2, maxLength: 1400 };
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(tuned, 'master', 'priv0'), logger);
    const byTandem = await ipvsadm(['-L', '--daemon']);
    assert.match(byTandem, /^master sync daemon \(mcast=priv0, syncid=7, .*group=239\.0\.0\.82, port=8849, ttl=2\)\n$/);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(tuned, 'none', 'priv0'), logger);
    await ipvsadm([
      '--start-daemon',
      'master',
      '--mcast-interface',
      'priv0',
      '--syncid',
      '7',
      '--mcast-group',
      '239.0.0.82',
      '--mcast-port',
      '8849',
      '--mcast-ttl',
      '2',
      '--sync-maxlen',
      '1400',
    ]);
    assert.equal(await ipvsadm(['-L', '--daemon']), byTandem);
  });

  void it("the master daemon tandem starts puts an open connection on a backup director's table", async () => {
    const config = model([
      virtualService('echo', `${addresses.vip}/24`, {
        port: 9000,
        scheduler: 'rr',
        realServers: addresses.realServers.map((address) => realServer(address)),
      }),
    ]);
    await new IpvsReconciler(await ipvs(), logger).reconcile(desiredTable(config, { role: 'active' }), 'claim');
    await reconcileSyncDaemons(await ipvs(), desiredSyncDaemons(sync, 'master', 'priv0'), logger);
    const backup = await lab.lab.addHost('lb2');
    await lab.lab.connect(backup, 'eth1', lab.switches.priv, ['10.200.0.2/24']);
    await lab.lab.exec(backup, 'ipvsadm', ['--start-daemon', 'backup', '--mcast-interface', 'eth1', '--syncid', '7']);

    const session = await lab.openEcho(addresses.vip);
    try {
      await session.exchange('synced?');
      const deadline = Date.now() + 15_000;
      let table = '';
      while (Date.now() < deadline) {
        table = (await lab.lab.exec(backup, 'ipvsadm', ['-Lnc'])).stdout;
        if (/ESTABLISHED/.test(table)) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.match(table, new RegExp(`TCP .*ESTABLISHED +${addresses.client}:\\d+ +${addresses.vip}:9000 +10\\.200\\.0\\.1[12]:9000`));
    } finally {
      await session.close();
    }
  });
});
