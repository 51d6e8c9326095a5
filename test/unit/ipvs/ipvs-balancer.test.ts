// The balancer in simulated time: an in-memory IPVS and health checks whose results the
// test decides. The same behaviour against the real kernel: test/ipvs/daemons.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import { formatBalancerStatus } from '../../../src/control/index.js';
import { IpvsBalancer, type IpvsBalancerOptions } from '../../../src/ipvs/ipvs-balancer.js';
import type { Check } from '../../../src/health/check.js';
import { HealthMonitor } from '../../../src/health/index.js';
import type { CheckResult } from '../../../src/health/result.js';
import { captureLogger } from '../../support/capture-log.js';
import { healthCheck, model, realServer, sorryServer, virtualService } from '../../support/ipvs-models.js';
import { MemoryKernel } from './memory-kernel.js';
import { bigTable } from '../../support/big-table.js';
import { desiredTable } from '../../../src/ipvs/desired.js';
import { destinationKey, serviceKey, type IpvsService } from '../../../src/ipvs/table.js';

const byKey = (a: IpvsService, b: IpvsService) => serviceKey(a).localeCompare(serviceKey(b));
const sorted = (service: IpvsService): IpvsService => ({
  ...service,
  destinations: [...service.destinations].sort((a, b) => destinationKey(a).localeCompare(destinationKey(b))),
});

const refused: CheckResult = { outcome: 'fail', reason: 'refused', message: 'connection refused', durationMs: 1 };
const pass: CheckResult = { outcome: 'pass', message: 'connected', durationMs: 1 };

/** Two web services on 203.0.113.1/2, two real servers each; checks every 1 s, back after 3 s. */
function webModel(
  overrides: { weights?: [number, number]; quiesce?: boolean; sorry?: boolean; keep?: boolean; sync?: boolean } = {},
): Model {
  const [w1, w2] = overrides.weights ?? [1, 1];
  const service = (i: number) =>
    virtualService(`web${i}`, `203.0.113.${i}`, {
      scheduler: 'rr',
      healthCheck: healthCheck({ interval: 1000, timeout: 500, reentry: 3000, quiesceServer: overrides.quiesce ?? false }),
      realServers: [realServer(`10.0.${i}.1`, { name: `rs${i}a`, weight: w1 }), realServer(`10.0.${i}.2`, { name: `rs${i}b`, weight: w2 })],
      ...(overrides.sorry && { sorryServer: sorryServer(`10.0.${i}.99`) }),
    });
  return model([service(1), service(2)], {
    ipvsTimeouts: { tcp: 600 },
    keepServicesOnRelease: overrides.keep ?? false,
    sync: { enabled: overrides.sync ?? false, interface: 'eth1', syncId: 7, port: 8848 },
  });
}

describe('IpvsBalancer', () => {
  let kernel: MemoryKernel;
  let answers: Map<string, CheckResult>;
  let log: ReturnType<typeof captureLogger>;
  let balancer: IpvsBalancer | undefined;
  let kernelMissing: boolean;

  beforeEach(() => {
    vi.useFakeTimers({
      now: 1_000_000,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'Date', 'performance'],
    });
    kernel = new MemoryKernel();
    answers = new Map();
    log = captureLogger();
    kernelMissing = false;
  });
  afterEach(async () => {
    await balancer?.close();
    balancer = undefined;
    vi.useRealTimers();
  });

  async function start(config: Model, options: Partial<IpvsBalancerOptions> = {}): Promise<IpvsBalancer> {
    const health = new HealthMonitor({
      logger: log.logger,
      now: () => Date.now(),
      random: () => 0,
      runCheck: (check: Check) => Promise.resolve(answers.get(check.target.address) ?? pass),
    });
    balancer = await IpvsBalancer.create({
      model: config,
      self: config.nodes[0]!,
      logger: log.logger,
      health,
      openKernel: () =>
        kernelMissing
          ? Promise.reject(new Error('the kernel has no IPVS (generic netlink family "IPVS" not found; is the ip_vs module available?)'))
          : Promise.resolve(kernel),
      ...options,
    });
    return balancer;
  }

  /** Lets simulated time pass, with the event loop turning (reconciles yield to it). */
  async function elapse(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => vi.advanceTimersByTimeAsync(0));
  }

  const events = (name: string) => log.records.filter((line) => line.event === name);
  const reconciles = () => events('ipvs.reconciled').map((line) => line.reason);

  it('activate programs the table and the timeouts; deactivate removes the services', async () => {
    await start(webModel());
    await balancer!.activate();
    expect(kernel.weights()).toEqual({
      '203.0.113.1:80': ['10.0.1.1:80 1', '10.0.1.2:80 1'],
      '203.0.113.2:80': ['10.0.2.1:80 1', '10.0.2.2:80 1'],
    });
    expect(kernel.timeouts).toEqual({ tcp: 600, tcpFin: 120, udp: 300 });
    await balancer!.deactivate();
    expect(kernel.snapshot()).toEqual([]);
    expect(reconciles()).toEqual(['claim', 'release']);
  });

  it('keeps the services with weight 0 on release when the model says so', async () => {
    await start(webModel({ keep: true }));
    await balancer!.activate();
    await balancer!.deactivate();
    expect(kernel.weights()).toEqual({
      '203.0.113.1:80': ['10.0.1.1:80 0', '10.0.1.2:80 0'],
      '203.0.113.2:80': ['10.0.2.1:80 0', '10.0.2.2:80 0'],
    });
  });

  it('takes a down server out of its service only, and puts it back after reentry', async () => {
    await start(webModel());
    await balancer!.activate();
    answers.set('10.0.1.2', refused);
    const reads = kernel.calls.listDestinations;
    await elapse(100);
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 1']);
    expect(kernel.weights()['203.0.113.2:80']).toHaveLength(2);
    expect(kernel.calls.listDestinations - reads).toBe(1); // the one service, not the table
    answers.delete('10.0.1.2');
    await elapse(2000);
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 1']);
    await elapse(2000);
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 1', '10.0.1.2:80 1']);
    expect(reconciles()).toEqual(['claim', 'health', 'health']);
  });

  it('quiesces instead of removing, and the sorry server steps in while no real server is up', async () => {
    await start(webModel({ quiesce: true, sorry: true }));
    await balancer!.activate();
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 1', '10.0.1.2:80 1']);
    answers.set('10.0.1.1', refused).set('10.0.1.2', refused);
    await elapse(100);
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 0', '10.0.1.2:80 0', '10.0.1.99:80 1']);
    answers.delete('10.0.1.1');
    await elapse(4000);
    expect(kernel.weights()['203.0.113.1:80']).toEqual(['10.0.1.1:80 1', '10.0.1.2:80 0']);
  });

  it('coalesces the health changes of many servers into one reconcile', async () => {
    await start(webModel());
    await balancer!.activate();
    for (const address of ['10.0.1.1', '10.0.1.2', '10.0.2.1', '10.0.2.2']) answers.set(address, refused);
    await elapse(100);
    expect(reconciles()).toEqual(['claim', 'health']);
    expect(kernel.weights()).toEqual({ '203.0.113.1:80': [], '203.0.113.2:80': [] });
  });

  it('reload edits a weight in place and keeps what health knows', async () => {
    await start(webModel());
    await balancer!.activate();
    answers.set('10.0.2.2', refused);
    await elapse(100);
    await balancer!.reload(webModel({ weights: [5, 1] }));
    const last = log.records.filter((line) => line.event === 'ipvs.reconciled').at(-1);
    expect(last).toMatchObject({ reason: 'reload', 'edit-destination': 2 });
    expect(last).not.toHaveProperty('delete-destination');
    expect(kernel.weights()).toEqual({ '203.0.113.1:80': ['10.0.1.1:80 5', '10.0.1.2:80 1'], '203.0.113.2:80': ['10.0.2.1:80 5'] });
  });

  describe('a reload of a big table', () => {
    /** 200 services × 4 real servers, fresh objects as a reload's parse makes them. */
    const big = (change: (config: Model) => void = () => undefined) => {
      const config = bigTable(200, 4).model;
      change(config);
      return config;
    };
    const reads = () => ({ ...kernel.calls });

    it('reads and changes only the service whose weight changed', async () => {
      await start(big());
      await balancer!.activate();
      const before = reads();
      await balancer!.reload(big((config) => (config.virtualServices[42]!.realServers[2]!.weight = 9)));
      const after = reads();
      expect({
        listServices: after.listServices - before.listServices,
        getService: after.getService - before.getService,
        listDestinations: after.listDestinations - before.listDestinations,
        operations: after.operations - before.operations,
      }).toEqual({ listServices: 0, getService: 1, listDestinations: 1, operations: 1 });
      expect(events('ipvs.reconciled').at(-1)).toMatchObject({ reason: 'reload', 'edit-destination': 1, servicesRead: 1 });
      expect(kernel.snapshot()).toEqual(
        desiredTable(
          big((config) => (config.virtualServices[42]!.realServers[2]!.weight = 9)),
          { role: 'active' },
        )
          .services.map(sorted)
          .sort(byKey),
      );
    });

    it('deletes a removed service and adds an added one; a global change reconciles the whole table', async () => {
      await start(big());
      await balancer!.activate();
      const changed = big((config) => {
        config.virtualServices.splice(7, 1);
        config.virtualServices.push(virtualService('new', '192.0.2.1', { realServers: [realServer('10.9.9.9')] }));
      });
      const before = reads();
      await balancer!.reload(changed);
      expect(reads().listServices - before.listServices).toBe(0);
      expect(events('ipvs.reconciled').at(-1)).toMatchObject({
        reason: 'reload',
        'delete-service': 1,
        'add-service': 1,
        'add-destination': 1,
      });
      expect(kernel.snapshot()).toEqual(desiredTable(changed, { role: 'active' }).services.map(sorted).sort(byKey));

      const keep = { ...changed, keepServicesOnRelease: true };
      await balancer!.reload(keep);
      expect(reads().listServices - before.listServices).toBe(1);
      expect(events('ipvs.reload-scope').at(-1)).toMatchObject({ changed: 0, wholeTable: true });
    });
  });

  it('puts back what someone changed behind its back, and says what', async () => {
    await start(webModel(), { repairInterval: 5000 });
    await balancer!.activate();
    kernel.flush();
    await elapse(5000);
    expect(kernel.weights()['203.0.113.1:80']).toHaveLength(2);
    const [repaired] = events('ipvs.repaired');
    expect(repaired).toMatchObject({
      level: 40,
      operations: 6,
      repaired: expect.arrayContaining(['add service TCP 203.0.113.1:80 (rr)']) as unknown,
    });
    expect((await balancer!.status()).repairs).toMatchObject({ count: 1 });
    // nothing to repair: nothing logged
    await elapse(5000);
    expect(events('ipvs.repaired')).toHaveLength(1);
    expect(reconciles()).toEqual(['claim', 'repair', 'repair']);
  });

  it('a flush in the middle of a repair: what failed is retried, only what was put back is reported', async () => {
    await start(webModel(), { repairInterval: 5000, retryDelay: 1000 });
    await balancer!.activate();
    // ipvsadm -C after the repair has listed the services and read web1's destinations
    kernel.beforeListDestinations = (service) => {
      if (service.address === '203.0.113.2') kernel.flush();
    };
    await elapse(5000);
    kernel.beforeListDestinations = undefined;
    expect(events('ipvs.operation-failed').map((line) => line.operation)).toEqual([
      'add destination 10.0.2.1:80 (masq, weight 1) to TCP 203.0.113.2:80',
      'add destination 10.0.2.2:80 (masq, weight 1) to TCP 203.0.113.2:80',
    ]);
    expect(events('ipvs.repaired')).toEqual([]);
    await elapse(1000);
    expect(kernel.weights()).toEqual({
      '203.0.113.1:80': ['10.0.1.1:80 1', '10.0.1.2:80 1'],
      '203.0.113.2:80': ['10.0.2.1:80 1', '10.0.2.2:80 1'],
    });
    expect(events('ipvs.repaired')).toEqual([
      expect.objectContaining({
        operations: 4,
        repaired: expect.arrayContaining(['add service TCP 203.0.113.2:80 (rr)', 'add service TCP 203.0.113.1:80 (rr)']) as unknown,
      }),
    ]);
    expect((await balancer!.status()).failing).toEqual([]);
  });

  it('repairs a table that takes long to read less often', async () => {
    await start(webModel(), { repairInterval: 5000 });
    kernel.listLatencyMs = 1000;
    const claim = balancer!.activate(); // its reconcile takes 1 s: repairs every 20 s
    await elapse(1000);
    await claim;
    await elapse(15_000);
    expect(reconciles()).toEqual(['claim']);
    await elapse(8000);
    expect(reconciles()).toEqual(['claim', 'repair']);
    kernel.listLatencyMs = 0;
  });

  it('logs a refused operation with its object and retries it', async () => {
    await start(webModel(), { retryDelay: 1000 });
    kernel.refuse = (operation) => (operation.kind === 'add-service' && operation.service.address === '203.0.113.2' ? 'ENOMEM' : undefined);
    await balancer!.activate();
    const failed = [
      'add service TCP 203.0.113.2:80 (rr)',
      'add destination 10.0.2.1:80 (masq, weight 1) to TCP 203.0.113.2:80',
      'add destination 10.0.2.2:80 (masq, weight 1) to TCP 203.0.113.2:80',
    ];
    expect(events('ipvs.operation-failed').map((line) => line.operation)).toEqual(failed);
    expect((await balancer!.status()).failing).toEqual(failed);
    kernel.refuse = undefined;
    await elapse(1000);
    expect(Object.keys(kernel.weights())).toEqual(['203.0.113.1:80', '203.0.113.2:80']);
    expect((await balancer!.status()).failing).toEqual([]);
    expect(events('ipvs.repaired')).toEqual([]); // a retry is no drift
  });

  it('without IPVS: one clear error, activation goes on, and the table comes once IPVS does', async () => {
    kernelMissing = true;
    await start(webModel(), { openRetryDelay: 10_000 });
    await expect(balancer!.activate()).resolves.toBeUndefined();
    expect(events('ipvs.unavailable')).toEqual([
      expect.objectContaining({
        level: 50,
        remedy: expect.stringContaining('modprobe ip_vs') as unknown,
        error: expect.stringContaining('has no IPVS') as unknown,
      }),
    ]);
    const status = await balancer!.status();
    expect(status.ipvs).toMatchObject({ state: 'unavailable', remedy: expect.stringContaining('modprobe ip_vs') as unknown });
    expect(formatBalancerStatus(status)[0]).toMatch(
      /^IPVS: active since .*; UNAVAILABLE since .*: the kernel has no IPVS .*modprobe ip_vs/,
    );
    await elapse(10_000);
    expect(events('ipvs.unavailable').filter((line) => line.level === 50)).toHaveLength(1); // retried quietly
    kernelMissing = false;
    await elapse(20_000);
    expect(events('ipvs.available')).toHaveLength(1);
    expect(kernel.weights()['203.0.113.1:80']).toHaveLength(2);
    expect(reconciles()).toEqual(['claim']);
    expect(events('ipvs.repaired')).toEqual([]);
  });

  it('does not open IPVS when nothing needs it', async () => {
    kernelMissing = true;
    await start(model([]));
    await balancer!.activate();
    await balancer!.setSyncRole('master');
    expect(events('ipvs.unavailable')).toEqual([]);
    expect((await balancer!.status()).ipvs).toEqual({ state: 'unused' });
  });

  it('runs the master sync daemon while active, the backup otherwise, none once stopped', async () => {
    await start(webModel({ sync: true }));
    await balancer!.setSyncRole('backup');
    expect(kernel.daemons).toEqual([{ state: 'backup', interface: 'eth1', syncId: 7, port: 8848 }]);
    await balancer!.setSyncRole('master');
    expect(kernel.daemons).toEqual([{ state: 'master', interface: 'eth1', syncId: 7, port: 8848 }]);
    const status = await balancer!.status();
    expect(status.sync).toMatchObject({ enabled: true, role: 'master', interface: 'eth1', running: [{ state: 'master' }] });
    expect(formatBalancerStatus(status)).toContain('sync daemon: master on eth1 (sync id 7, port 8848)');
    kernel.daemons = [];
    expect(formatBalancerStatus(await balancer!.status())).toContain('sync daemon: none running, wanted: master on eth1');
    await balancer!.setSyncRole('none');
    expect(kernel.daemons).toEqual([]);
  });

  it('leaves the sync daemons alone when sync is disabled, and stops its own when a reload disables it', async () => {
    await start(webModel());
    kernel.daemons = [{ state: 'backup', interface: 'eth9', syncId: 1 }];
    await balancer!.setSyncRole('master');
    expect(kernel.daemons).toEqual([{ state: 'backup', interface: 'eth9', syncId: 1 }]);
    kernel.daemons = [];
    await balancer!.reload(webModel({ sync: true }));
    expect(kernel.daemons).toHaveLength(1);
    await balancer!.reload(webModel());
    expect(kernel.daemons).toEqual([]);
  });

  it('a health change after the release does not bring the services back', async () => {
    await start(webModel());
    await balancer!.activate();
    answers.set('10.0.1.1', refused);
    const release = balancer!.deactivate();
    await elapse(100);
    await release;
    await elapse(5000);
    expect(kernel.snapshot()).toEqual([]);
  });

  it('status: the table with the health of each real server, and the ones taken out', async () => {
    await start(webModel({ sorry: true }));
    await balancer!.activate();
    answers.set('10.0.1.2', refused);
    await elapse(1500);
    const status = await balancer!.status();
    const web1 = status.services!.find((service) => service.address === '203.0.113.1')!;
    expect(web1.name).toBe('web1');
    expect(web1.destinations.map((d) => [d.address, d.health?.state])).toEqual([['10.0.1.1', 'up']]);
    expect(web1.absent).toEqual([
      expect.objectContaining({
        address: '10.0.1.2',
        port: 80,
        health: expect.objectContaining({
          state: 'down',
          up: false,
          forMs: 1499,
          lastFailure: expect.objectContaining({ reason: 'refused' }) as unknown,
        }) as unknown,
      }),
    ]);
    expect(formatBalancerStatus(status)).toEqual([
      'IPVS: active since 1970-01-01T00:16:40.000Z; IP Virtual Server version 1.2.1 (size=4096)',
      '  Prot LocalAddress:Port Scheduler Flags',
      '    -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  Health',
      '  TCP  203.0.113.1:80 rr',
      '    -> 10.0.1.1:80                  Masq    1      0          0          up for 1.5 s',
      '    -> 10.0.1.2:80                  Masq    -      -          -          DOWN for 1.5 s: connection refused (not in the table)',
      '  TCP  203.0.113.2:80 rr',
      '    -> 10.0.2.1:80                  Masq    1      0          0          up for 1.5 s',
      '    -> 10.0.2.2:80                  Masq    1      0          0          up for 1.5 s',
      'sync daemon: disabled in the configuration (none running)',
      'IPVS timeouts: tcp 600 s, tcp fin 120 s, udp 300 s',
      'health checks: running, 4 of 4 real servers checked, 0 in flight',
      'last reconcile: health at 1970-01-01T00:16:40.002Z, 1 operations, 0 failed, 0 ms',
    ]);
  });
});
