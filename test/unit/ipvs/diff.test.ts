import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffService, diffTables } from '../../../src/ipvs/diff.js';
import type { IpvsOperation } from '../../../src/ipvs/operations.js';
import { serviceKey, type IpvsDestination, type IpvsService } from '../../../src/ipvs/table.js';
import { MemoryIpvs } from '../../support/memory-ipvs.js';

const destination = (address: string, weight = 1, overrides: Partial<IpvsDestination> = {}): IpvsDestination => ({
  family: 4,
  address,
  port: 80,
  forwarding: 'masq',
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
  ...overrides,
});

const service = (address: string, destinations: IpvsDestination[], overrides: Partial<IpvsService> = {}): IpvsService => ({
  family: 4,
  protocol: 'tcp',
  address,
  port: 80,
  fwmark: 0,
  scheduler: 'wlc',
  onePacket: false,
  schedulerFlags: 0,
  destinations,
  ...overrides,
});

const summary = (operations: IpvsOperation[]) =>
  operations.map((op) => `${op.kind} ${'destination' in op ? `${op.destination.address}=${op.destination.weight}` : op.service.address}`);

describe('diffing the IPVS table', () => {
  it('adds a new service before its destinations', () => {
    const wanted = service('203.0.113.10', [destination('10.0.0.1'), destination('10.0.0.2')]);
    expect(summary(diffService(undefined, wanted))).toEqual([
      'add-service 203.0.113.10',
      'add-destination 10.0.0.1=1',
      'add-destination 10.0.0.2=1',
    ]);
  });

  it('edits a changed weight in place and touches nothing else', () => {
    const actual = service('203.0.113.10', [destination('10.0.0.1', 1), destination('10.0.0.2', 1)]);
    const wanted = service('203.0.113.10', [destination('10.0.0.1', 1), destination('10.0.0.2', 5)]);
    expect(summary(diffService(actual, wanted))).toEqual(['edit-destination 10.0.0.2=5']);
    expect(diffService(actual, structuredClone(actual))).toEqual([]);
  });

  it('adds a returning real server before removing the sorry server', () => {
    const actual = service('203.0.113.10', [destination('10.0.0.99')]);
    const wanted = service('203.0.113.10', [destination('10.0.0.1')]);
    expect(summary(diffService(actual, wanted))).toEqual(['add-destination 10.0.0.1=1', 'delete-destination 10.0.0.99=1']);
  });

  it('edits service settings in place (scheduler, persistence, a persistence engine set by hand)', () => {
    const actual = service('203.0.113.10', [], { persistenceEngine: 'sip' });
    const wanted = service('203.0.113.10', [], { scheduler: 'rr', persistence: { timeout: 300, netmask: '255.255.255.255' } });
    expect(diffService(actual, wanted)).toEqual([{ kind: 'edit-service', service: wanted }]);
  });

  it('edits a tunnel whose encapsulation changed, and leaves a kernel without tunnel types alone', () => {
    const gue = destination('10.0.0.1', 1, { forwarding: 'ipip', tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'none' });
    const wanted = service('203.0.113.10', [{ ...gue, tunnelChecksum: 'csum' }]);
    expect(summary(diffService(service('203.0.113.10', [gue]), wanted))).toEqual(['edit-destination 10.0.0.1=1']);
    expect(summary(diffService(service('203.0.113.10', [{ ...gue, tunnelPort: 6081 }]), service('203.0.113.10', [gue])))).toEqual([
      'edit-destination 10.0.0.1=1',
    ]);
    expect(diffService(service('203.0.113.10', [gue]), service('203.0.113.10', [structuredClone(gue)]))).toEqual([]);
    // before 5.3 the kernel reports no type: IPIP is all it does, however often it is asked
    const old = destination('10.0.0.1', 1, { forwarding: 'ipip' });
    expect(diffService(service('203.0.113.10', [old]), wanted)).toEqual([]);
  });

  it('edits a service whose scheduler flags or persistence engine changed', () => {
    const actual = service('203.0.113.10', [], { scheduler: 'sh', schedulerFlags: 0x08 });
    const flags = service('203.0.113.10', [], { scheduler: 'sh', schedulerFlags: 0x18 });
    const engine = service('203.0.113.10', [], { scheduler: 'sh', schedulerFlags: 0x08, persistenceEngine: 'sip' });
    expect(diffService(actual, flags)).toEqual([{ kind: 'edit-service', service: flags }]);
    expect(diffService(actual, engine)).toEqual([{ kind: 'edit-service', service: engine }]);
  });

  it('accepts the forwarding the kernel reports for a local destination', () => {
    const actual = service('203.0.113.10', [destination('10.0.0.1', 1, { forwarding: 'local' })]);
    expect(diffService(actual, service('203.0.113.10', [destination('10.0.0.1')]))).toEqual([]);
  });

  it('deletes only owned services, after everything else', () => {
    const actual = [service('203.0.113.1', []), service('203.0.113.2', []), service('198.51.100.1', [])];
    const wanted = [service('203.0.113.3', [destination('10.0.0.1')])];
    const owned = new Set(['tcp/203.0.113.1:80', 'tcp/203.0.113.2:80', 'tcp/203.0.113.3:80']);
    expect(summary(diffTables(actual, wanted, (key) => owned.has(key)))).toEqual([
      'add-service 203.0.113.3',
      'add-destination 10.0.0.1=1',
      'delete-service 203.0.113.1',
      'delete-service 203.0.113.2',
    ]);
  });

  it('turns any table into any other with edits in place and nothing redundant', async () => {
    const addresses = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
    const destinationArbitrary = fc.record({
      address: fc.constantFrom(...addresses),
      weight: fc.integer({ min: 0, max: 3 }),
      forwarding: fc.constantFrom('masq' as const, 'gate' as const),
      upperThreshold: fc.constantFrom(0, 100),
    });
    const serviceArbitrary = fc.record({
      address: fc.constantFrom('203.0.113.1', '203.0.113.2', '203.0.113.3'),
      scheduler: fc.constantFrom('rr', 'wlc'),
      destinations: fc.uniqueArray(destinationArbitrary, { selector: (d) => d.address, maxLength: 4 }),
    });
    const tableArbitrary = fc.uniqueArray(serviceArbitrary, { selector: (s) => s.address, maxLength: 3 }).map((services) =>
      services.map((s) =>
        service(
          s.address,
          s.destinations.map((d) => destination(d.address, d.weight, d)),
          { scheduler: s.scheduler },
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(tableArbitrary, tableArbitrary, async (before, after) => {
        const kernel = new MemoryIpvs(before);
        const operations = diffTables(before, after, () => true);
        expect(await kernel.apply(operations)).toEqual([]);
        expect(kernel.snapshot()).toEqual(new MemoryIpvs(after).snapshot());
        // never a delete and an add of the same object: that would cut its connections
        const touched = operations.map((op) => `${serviceKey(op.service)} ${'destination' in op ? op.destination.address : ''}`);
        const deleted = new Set(touched.filter((_, i) => operations[i]!.kind.startsWith('delete')));
        const added = touched.filter((_, i) => operations[i]!.kind.startsWith('add'));
        expect(added.filter((object) => deleted.has(object))).toEqual([]);
        expect(diffTables(kernel.snapshot(), after, () => true)).toEqual([]);
      }),
    );
  });
});
