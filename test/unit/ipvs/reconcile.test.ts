import { Writable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { HealthView } from '../../../src/config/model.js';
import { desiredTable } from '../../../src/ipvs/desired.js';
import { IpvsReconciler, KEPT_OPERATIONS } from '../../../src/ipvs/reconcile.js';
import { createLogger } from '../../../src/log.js';
import { model, realServer, virtualService } from '../../support/ipvs-models.js';
import { MemoryIpvs } from '../../support/memory-ipvs.js';

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ format: 'json', level: 'debug', destination }), lines };
}

const services = (count: number, servers = 2) =>
  Array.from({ length: count }, (_, i) =>
    virtualService(`vs${i}`, `203.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, {
      realServers: Array.from({ length: servers }, (_, j) => realServer(`10.1.${j}.${(i % 250) + 1}`)),
    }),
  );

describe('reconciling the kernel table', () => {
  it('programs an empty table, then finds nothing to do', async () => {
    const kernel = new MemoryIpvs();
    const { logger, lines } = capturedLogger();
    const reconciler = new IpvsReconciler(kernel, logger);
    const first = await reconciler.reconcile(desiredTable(model(services(3)), { role: 'active' }), 'claim');
    expect(first.operations.map((op) => op.kind)).toEqual(Array(3).fill(['add-service', 'add-destination', 'add-destination']).flat());
    expect(first.failures).toEqual([]);
    const second = await reconciler.reconcile(desiredTable(model(services(3)), { role: 'active' }), 'reload');
    expect(second.operations).toEqual([]);
    expect(lines.filter((line) => line.event === 'ipvs.reconciled').map((line) => line.reason)).toEqual(['claim', 'reload']);
  });

  it('never touches services it does not own, and deletes owned ones dropped from the configuration', async () => {
    const foreign = { ...desiredTable(model(services(1)), { role: 'active' }).services[0]!, address: '198.51.100.9', scheduler: 'rr' };
    const kernel = new MemoryIpvs([{ ...foreign, destinations: [] }]);
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger);
    await reconciler.reconcile(desiredTable(model(services(2)), { role: 'active' }), 'claim');
    await reconciler.reconcile(desiredTable(model(services(1)), { role: 'active' }), 'reload');
    expect(kernel.snapshot().map((service) => service.address)).toEqual(['198.51.100.9', '203.0.0.1']);
  });

  it('releases: removes its services, or keeps them with weight 0', async () => {
    const kernel = new MemoryIpvs();
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger);
    const config = model(services(2));
    await reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim');
    await reconciler.reconcile(desiredTable({ ...config, keepServicesOnRelease: true }, { role: 'inactive' }), 'release');
    expect(kernel.snapshot().flatMap((s) => s.destinations.map((d) => d.weight))).toEqual([0, 0, 0, 0]);
    await reconciler.reconcile(desiredTable(config, { role: 'inactive' }), 'release');
    expect(kernel.snapshot()).toEqual([]);
  });

  it('reconciles one service by reading only that one', async () => {
    const kernel = new MemoryIpvs();
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger);
    const config = model(services(50));
    await reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim');
    const target = config.virtualServices[7]!;
    const health: HealthView = (service, server) => ({
      up: !(service === target && server === target.realServers[0]),
      weight: server.weight,
    });
    const reads = kernel.calls.listDestinations;
    const result = await reconciler.reconcileServices(desiredTable(config, { role: 'active', health }, [target]), 'health');
    expect(result.operations.map((op) => op.kind)).toEqual(['delete-destination']);
    expect(kernel.calls.listDestinations - reads).toBe(1);
  });

  it('deletes a service it owns but no longer desires, reading nothing else', async () => {
    const kernel = new MemoryIpvs();
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger);
    const config = model(services(50));
    await reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim');
    const dropped = desiredTable(config, { role: 'active' }, [config.virtualServices[7]!]);
    const calls = { ...kernel.calls };
    const result = await reconciler.reconcileServices({ services: [], owned: dropped.owned }, 'reload');
    expect(result.operations.map((op) => op.kind)).toEqual(['delete-service']);
    expect(kernel.services.size).toBe(49);
    expect([kernel.calls.listServices - calls.listServices, kernel.calls.getService - calls.getService]).toEqual([0, 1]);
    expect(kernel.calls.listDestinations).toBe(calls.listDestinations);
  });

  it('reports failures and applies the rest', async () => {
    const kernel = new MemoryIpvs();
    kernel.refuse = (op) => (op.kind === 'add-service' && op.service.address === '203.0.0.2' ? 'ENOENT' : undefined);
    const { logger, lines } = capturedLogger();
    const result = await new IpvsReconciler(kernel, logger).reconcile(desiredTable(model(services(3)), { role: 'active' }), 'claim');
    expect(kernel.snapshot().map((s) => s.address)).toEqual(['203.0.0.1', '203.0.0.3']);
    expect(result.failures.map((f) => f.error.message)).toEqual([
      'add-service: ENOENT',
      'add-destination: ESRCH',
      'add-destination: ESRCH',
    ]);
    const failed = lines.filter((line) => line.event === 'ipvs.operation-failed');
    expect(failed[0]?.operation).toBe('add service TCP 203.0.0.2:80 (wlc)');
  });

  it('yields to the event loop between chunks of a large table', async () => {
    const kernel = new MemoryIpvs();
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger, { chunkSize: 100 });
    let ticks = 0;
    let done = false as boolean; // set in a callback, which TypeScript does not follow
    const reconciled = reconciler.reconcile(desiredTable(model(services(1000, 1)), { role: 'active' }), 'claim').then(() => (done = true));
    while (!done) {
      await yieldToEventLoop();
      ticks++;
    }
    await reconciled;
    expect(kernel.calls.apply).toBe(10);
    expect(ticks).toBeGreaterThanOrEqual(10);
  });

  it('runs one reconcile at a time, each from what the previous one left', async () => {
    const kernel = new MemoryIpvs();
    const reconciler = new IpvsReconciler(kernel, capturedLogger().logger);
    const config = model(services(5));
    const [first, second] = await Promise.all([
      reconciler.reconcile(desiredTable(config, { role: 'active' }), 'claim'),
      reconciler.reconcile(desiredTable(config, { role: 'active' }), 'reload'),
    ]);
    expect(first.operations).toHaveLength(15);
    expect(second.operations).toEqual([]);
  });

  it('names the first operations of a big reconcile and counts them all', async () => {
    const kernel = new MemoryIpvs();
    const result = await new IpvsReconciler(kernel, capturedLogger().logger).reconcile(
      desiredTable(model(services(600)), { role: 'active' }),
      'claim',
    );
    expect(result.operationCount).toBe(1800);
    expect(result.byKind).toEqual({ 'add-service': 600, 'add-destination': 1200 });
    expect(result.operations).toHaveLength(KEPT_OPERATIONS);
    expect(result.operations[0]).toMatchObject({ kind: 'add-service', service: { address: '203.0.0.1' } });
    expect(kernel.services.size).toBe(600);
  });
});
