import { describe, expect, it } from 'vitest';
import type { HealthView, RealServer, VirtualService } from '../../../src/config/model.js';
import { desiredTable, desiredTableInChunks } from '../../../src/ipvs/desired.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { healthCheck, model, realServer, sorryServer, virtualService } from '../../support/ipvs-models.js';

const web = (overrides: Partial<VirtualService> = {}) =>
  virtualService('web', '203.0.113.10', {
    realServers: [realServer('10.8.8.33', { weight: 5 }), realServer('10.8.8.34', { weight: 3 })],
    ...overrides,
  });

const healthOf =
  (states: Record<string, { up: boolean; weight?: number }>): HealthView =>
  (_service, server: RealServer) => {
    const state = states[server.address] ?? { up: true };
    return { up: state.up, weight: state.weight ?? server.weight };
  };

const weights = (table: ReturnType<typeof desiredTable>) =>
  Object.fromEntries(
    table.services.map((service) => [
      service.fwmark || `${service.address}:${service.port}`,
      Object.fromEntries(service.destinations.map((d) => [`${d.address}:${d.port}`, d.weight])),
    ]),
  );

describe('the desired IPVS table', () => {
  it('has every active service with its active real servers on the service port when none is given', () => {
    const table = desiredTable(model([web()]), { role: 'active' });
    expect(table.services).toEqual([
      {
        family: 4,
        protocol: 'tcp',
        address: '203.0.113.10',
        port: 80,
        fwmark: 0,
        scheduler: 'wlc',
        onePacket: false,
        schedulerFlags: 0,
        destinations: [
          { family: 4, address: '10.8.8.33', port: 80, forwarding: 'masq', weight: 5, upperThreshold: 0, lowerThreshold: 0 },
          { family: 4, address: '10.8.8.34', port: 80, forwarding: 'masq', weight: 3, upperThreshold: 0, lowerThreshold: 0 },
        ],
      },
    ]);
  });

  it('never has inactive real servers, nor inactive services (which tandem still owns)', () => {
    const service = web({ realServers: [realServer('10.8.8.33'), realServer('10.8.8.34', { active: false })] });
    const idle = virtualService('idle', '203.0.113.11', { active: false, realServers: [realServer('10.8.8.35')] });
    const table = desiredTable(model([service, idle]), { role: 'active' });
    expect(weights(table)).toEqual({ '203.0.113.10:80': { '10.8.8.33:80': 1 } });
    expect([...table.owned.keys()]).toEqual(['tcp/203.0.113.10:80', 'tcp/203.0.113.11:80']);
  });

  it('leaves a down server out, or keeps it with weight 0 under quiesce_server', () => {
    const health = healthOf({ '10.8.8.34': { up: false } });
    expect(weights(desiredTable(model([web()]), { role: 'active', health }))).toEqual({
      '203.0.113.10:80': { '10.8.8.33:80': 5 },
    });
    const quiescing = web({ healthCheck: healthCheck({ quiesceServer: true }) });
    expect(weights(desiredTable(model([quiescing]), { role: 'active', health }))).toEqual({
      '203.0.113.10:80': { '10.8.8.33:80': 5, '10.8.8.34:80': 0 },
    });
  });

  it('takes the effective weight from health (slow start)', () => {
    const health = healthOf({ '10.8.8.33': { up: true, weight: 2 } });
    expect(weights(desiredTable(model([web()]), { role: 'active', health }))['203.0.113.10:80']).toEqual({
      '10.8.8.33:80': 2,
      '10.8.8.34:80': 3,
    });
  });

  it('adds the sorry server while no real server is up, and only then', () => {
    const service = web({ sorryServer: sorryServer('10.8.8.99', { port: 8080 }) });
    const allDown = healthOf({ '10.8.8.33': { up: false }, '10.8.8.34': { up: false } });
    expect(weights(desiredTable(model([service]), { role: 'active', health: allDown }))).toEqual({
      '203.0.113.10:80': { '10.8.8.99:8080': 1 },
    });
    const oneBack = healthOf({ '10.8.8.33': { up: false } });
    expect(weights(desiredTable(model([service]), { role: 'active', health: oneBack }))).toEqual({
      '203.0.113.10:80': { '10.8.8.34:80': 3 },
    });
    const quiesced = { ...service, healthCheck: healthCheck({ quiesceServer: true }) };
    expect(weights(desiredTable(model([quiesced]), { role: 'active', health: allDown }))).toEqual({
      '203.0.113.10:80': { '10.8.8.33:80': 0, '10.8.8.34:80': 0, '10.8.8.99:8080': 1 },
    });
  });

  it('lets the sorry server win when it is also a quiesced real server', () => {
    const service = web({
      healthCheck: healthCheck({ quiesceServer: true }),
      sorryServer: sorryServer('10.8.8.34', { weight: 7 }),
    });
    const allDown = healthOf({ '10.8.8.33': { up: false }, '10.8.8.34': { up: false } });
    expect(weights(desiredTable(model([service]), { role: 'active', health: allDown }))).toEqual({
      '203.0.113.10:80': { '10.8.8.33:80': 0, '10.8.8.34:80': 7 },
    });
  });

  it('is empty when inactive, or quiesced (all weights 0, no sorry server) with keepServicesOnRelease', () => {
    const service = web({ sorryServer: sorryServer('10.8.8.99') });
    const released = desiredTable(model([service]), { role: 'inactive' });
    expect(released.services).toEqual([]);
    expect([...released.owned.keys()]).toEqual(['tcp/203.0.113.10:80']);
    const kept = desiredTable(model([service], { keepServicesOnRelease: true }), { role: 'inactive' });
    expect(weights(kept)).toEqual({ '203.0.113.10:80': { '10.8.8.33:80': 0, '10.8.8.34:80': 0 } });
  });

  it('turns persistence into the kernel form: IPv4 dotted mask, IPv6 prefix length', () => {
    const v4 = web({ persistence: { timeout: 600, netmask: '24' } });
    const v6 = virtualService('v6', '2001:DB8:0::10', { persistence: { timeout: 30 }, realServers: [realServer('2001:db8::1:2')] });
    const table = desiredTable(model([v4, v6]), { role: 'active' });
    expect(table.services.map((s) => [s.address, s.persistence])).toEqual([
      ['203.0.113.10', { timeout: 600, netmask: '255.255.255.0' }],
      ['2001:db8::10', { timeout: 30, netmask: '128' }],
    ]);
  });

  it('makes a firewall-mark service without a VIP IPv4 unless the model says IPv6', () => {
    const v4 = virtualService('marked', undefined, { fwmark: 81, realServers: [realServer('192.0.2.5')] });
    expect(desiredTable(model([v4]), { role: 'active' }).services[0]).toMatchObject({ family: 4, fwmark: 81, address: '0.0.0.0' });
    const marked = virtualService('marked', undefined, { fwmark: 80, family: 6, realServers: [realServer('2001:db8::5')] });
    const [service] = desiredTable(model([marked]), { role: 'active' }).services;
    expect(service).toMatchObject({ family: 6, fwmark: 80, address: '::', port: 0 });
    expect(service?.destinations[0]).toMatchObject({ address: '2001:db8::5', port: 80 });
  });
});

describe('tunnels, scheduler flags and persistence engines', () => {
  it('carries a tunnel to ipip destinations only, and plain IPIP as such', () => {
    const service = web({
      realServers: [
        realServer('10.0.0.1', { forwarding: 'ipip', tunnel: { type: 'gue', port: 6080, checksum: 'remcsum' } }),
        realServer('10.0.0.2', { forwarding: 'ipip', tunnel: { type: 'gre', checksum: 'csum' } }),
        realServer('10.0.0.3', { forwarding: 'ipip' }),
        realServer('10.0.0.4'),
      ],
      sorryServer: sorryServer('10.0.0.9', { forwarding: 'ipip' }),
    });
    const tunnels = (table: ReturnType<typeof desiredTable>) =>
      table.services[0]?.destinations.map(({ address, tunnelType, tunnelPort, tunnelChecksum }) => ({
        address,
        tunnelType,
        tunnelPort,
        tunnelChecksum,
      }));
    expect(tunnels(desiredTable(model([service]), { role: 'active' }))).toEqual([
      { address: '10.0.0.1', tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'remcsum' },
      { address: '10.0.0.2', tunnelType: 'gre', tunnelPort: undefined, tunnelChecksum: 'csum' },
      { address: '10.0.0.3', tunnelType: 'ipip', tunnelPort: undefined, tunnelChecksum: undefined },
      { address: '10.0.0.4', tunnelType: undefined, tunnelPort: undefined, tunnelChecksum: undefined },
    ]);
    const allDown: HealthView = () => ({ up: false, weight: 0 });
    expect(tunnels(desiredTable(model([service]), { role: 'active', health: allDown }))).toEqual([
      { address: '10.0.0.9', tunnelType: 'ipip', tunnelPort: undefined, tunnelChecksum: undefined },
    ]);
  });

  it('turns scheduler flags into their bits, whatever the scheduler calls them', () => {
    const flags = (scheduler: string, schedulerFlags: VirtualService['schedulerFlags']) =>
      desiredTable(model([web({ scheduler, schedulerFlags })]), { role: 'active' }).services[0]?.schedulerFlags;
    expect(flags('sh', ['sh-fallback', 'sh-port'])).toBe(0x18);
    expect(flags('mh', ['mh-port', 'flag-3'])).toBe(0x30);
    expect(flags('rr', ['flag-1', 'flag-1'])).toBe(0x08);
    expect(flags('rr', undefined)).toBe(0);
  });

  it('names the persistence engine', () => {
    const [service] = desiredTable(model([web({ persistence: { timeout: 60 }, persistenceEngine: 'sip' })]), { role: 'active' }).services;
    expect(service).toMatchObject({ persistenceEngine: 'sip', persistence: { timeout: 60 } });
  });
});

describe('destination ports', () => {
  it('use the service port for direct routing and tunnelling, as ipvsadm does (firewall marks aside)', () => {
    const servers = [
      realServer('10.0.0.1', { port: 8080, forwarding: 'gate' }),
      realServer('10.0.0.2', { port: 8080, forwarding: 'ipip' }),
      realServer('10.0.0.3', { port: 8080 }),
    ];
    const plain = virtualService('plain', '203.0.113.10', { realServers: servers });
    const marked = virtualService('marked', '203.0.113.11', { fwmark: 3, realServers: servers });
    const ports = desiredTable(model([plain, marked]), { role: 'active' }).services.map((s) => s.destinations.map((d) => d.port));
    expect(ports).toEqual([
      [80, 80, 8080],
      [8080, 8080, 8080],
    ]);
  });
});

describe('the desired table of a large configuration', () => {
  it('is built in chunks, returning to the event loop, with the same result', async () => {
    const config = model(Array.from({ length: 1200 }, (_, i) => web({ name: `vs${i}`, port: 1000 + i })));
    // set by the promise, which the loop's condition cannot see
    let done = false as boolean;
    let turns = 0;
    const built = desiredTableInChunks(config, { role: 'active' }, 500).then((table) => ((done = true), table));
    while (!done) {
      await yieldToEventLoop();
      turns++;
    }
    expect(turns).toBeGreaterThanOrEqual(2);
    expect(await built).toEqual(desiredTable(config, { role: 'active' }));
  });

  it('can be built for some services only', () => {
    const config = model([web(), web({ name: 'other', port: 8080 })]);
    const table = desiredTable(config, { role: 'active' }, [config.virtualServices[1]!]);
    expect([...table.owned.keys()]).toEqual(['tcp/203.0.113.10:8080']);
    expect(table.services.map((s) => s.port)).toEqual([8080]);
  });
});
