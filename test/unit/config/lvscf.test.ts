import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, toYaml } from '../../../src/config/index.js';
import { fixture, noHosts } from './helpers.js';

describe('lvs.cf (Piranha)', () => {
  it('loads the lvs.cf of seed 001 exactly', async () => {
    const { model, format } = await loadConfig(fixture('seed-001-lvs.cf'), { hosts: noHosts });
    expect(format).toBe('lvs.cf');
    expect(model.serialNo).toBe(3);
    expect(model.nodes).toEqual([
      { name: 'primary', address: '10.10.1.31', priority: 200 },
      { name: 'backup', address: '10.10.1.32', priority: 100 },
    ]);
    expect(model.heartbeat).toEqual({ port: 539, keepalive: 2000, deadtime: 6000, warntime: 4000, initdead: 12000 });
    expect(model.preempt).toBe(true);
    expect(model.network).toBe('nat');
    expect(model.natRouter).toEqual({ address: '10.8.8.30', family: 4, prefix: 24, device: 'eth1', label: 'eth1:0' });
    expect(model.monitorLinks.enabled).toBe(true);
    expect(model.sync.enabled).toBe(false);
    const [service] = model.virtualServices;
    expect(service).toMatchObject({
      name: 'http_server',
      active: true,
      vip: { address: '10.10.1.30', family: 4, prefix: 32, device: 'eth0', label: 'eth0:1' },
      protocol: 'tcp',
      fwmark: 80,
      port: 80,
      scheduler: 'wlc',
      persistence: { timeout: 30 },
    });
    expect(service?.healthCheck).toMatchObject({
      kind: 'send-expect',
      send: 'GET / HTTP/1.0\r\n\r\n',
      expect: 'HTTP',
      useRegex: false,
      timeout: 6000,
      reentry: 15000,
      quiesceServer: false,
      loadMonitor: 'none',
    });
    expect(service?.realServers.map((s) => [s.name, s.address, s.port, s.weight, s.active, s.forwarding])).toEqual([
      ['lvs-03', '10.8.8.33', 0, 1, true, 'masq'],
      ['lvs-04', '10.8.8.34', 0, 1, true, 'masq'],
    ]);
  });

  it('converts to YAML and back without loss', async () => {
    const { model } = await loadConfig(fixture('seed-001-lvs.cf'), { hosts: noHosts });
    const again = await parseConfig(toYaml(model), 'converted.yaml');
    expect(again.model).toEqual(model);
  });
});
