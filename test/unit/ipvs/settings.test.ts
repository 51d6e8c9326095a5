import { describe, expect, it } from 'vitest';
import type { IpvsTimeouts, SyncDaemon, SyncDaemonState } from '../../../src/ipvs/genl/codec.js';
import { desiredSyncDaemons, reconcileSyncDaemons, reconcileTimeouts } from '../../../src/ipvs/settings.js';
import { createLogger } from '../../../src/log.js';

const logger = createLogger({ format: 'json', level: 'silent' });

class FakeKernel {
  timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  daemons: SyncDaemon[] = [];
  readonly log: string[] = [];
  getTimeouts() {
    return Promise.resolve({ ...this.timeouts });
  }
  setTimeouts(changes: Partial<IpvsTimeouts>) {
    this.log.push(`set ${JSON.stringify(changes)}`);
    Object.assign(this.timeouts, changes);
    return Promise.resolve();
  }
  listDaemons() {
    return Promise.resolve(structuredClone(this.daemons));
  }
  startDaemon(daemon: SyncDaemon) {
    this.log.push(`start ${daemon.state} ${daemon.interface}`);
    this.daemons.push({ maxLength: 1472, group: '224.0.0.81', ttl: 1, ...daemon });
    return Promise.resolve();
  }
  stopDaemon(state: SyncDaemonState) {
    this.log.push(`stop ${state}`);
    this.daemons = this.daemons.filter((daemon) => daemon.state !== state);
    return Promise.resolve();
  }
}

describe('IPVS settings', () => {
  it('sets only the timeouts the model gives that differ', async () => {
    const kernel = new FakeKernel();
    expect(await reconcileTimeouts(kernel, { tcp: 900, udp: 60 }, logger)).toEqual({ udp: 60 });
    expect(await reconcileTimeouts(kernel, { tcp: 900, udp: 60 }, logger)).toEqual({});
    expect(kernel.log).toEqual(['set {"udp":60}']);
  });

  it('runs the master daemon while active and the backup otherwise, restarting on changes', async () => {
    const kernel = new FakeKernel();
    const sync = { enabled: true, syncId: 7, port: 8848 };
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'master', 'eth1'), logger);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'master', 'eth1'), logger);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'backup', 'eth1'), logger);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons({ ...sync, syncId: 8 }, 'backup', 'eth1'), logger);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons({ ...sync, enabled: false }, 'backup', 'eth1'), logger);
    expect(kernel.log).toEqual([
      'start master eth1',
      'stop master',
      'start backup eth1',
      'stop backup',
      'start backup eth1',
      'stop backup',
    ]);
  });

  it('passes group, TTL and message length, and takes the length the kernel fits to the MTU', async () => {
    const kernel = new FakeKernel();
    const sync = { enabled: true, syncId: 7, port: 8849, group: '239.1.1.1', ttl: 2, maxLength: 9000 };
    expect(desiredSyncDaemons(sync, 'master', 'eth1')).toEqual([
      { state: 'master', interface: 'eth1', syncId: 7, port: 8849, group: '239.1.1.1', ttl: 2, maxLength: 9000 },
    ]);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'master', 'eth1'), logger);
    const [running] = kernel.daemons;
    if (running) running.maxLength = 1472; // what the kernel makes of 9000 on a 1500-byte MTU
    await reconcileSyncDaemons(kernel, desiredSyncDaemons(sync, 'master', 'eth1'), logger);
    await reconcileSyncDaemons(kernel, desiredSyncDaemons({ ...sync, ttl: 3 }, 'master', 'eth1'), logger);
    expect(kernel.log).toEqual(['start master eth1', 'stop master', 'start master eth1']);
  });
});
