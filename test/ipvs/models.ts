// Hand-built models for the IPVS tests (unit and VM tier), with the defaults a
// config loader fills in. Overrides name only what a test is about.
import type { HealthCheckSpec, Model, RealServer, SorryServer, VirtualService } from '../../src/config/model.js';
import { familyOf } from '../../src/ipvs/address.js';

export function healthCheck(overrides: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return {
    kind: 'tcp',
    interval: 2000,
    timeout: 6000,
    reentry: 15000,
    failures: 1,
    useRegex: false,
    quiesceServer: false,
    slowStart: 0,
    ...overrides,
  };
}

export function realServer(address: string, overrides: Partial<RealServer> = {}): RealServer {
  return {
    name: address,
    address,
    family: familyOf(address),
    port: 0,
    weight: 1,
    active: true,
    forwarding: 'masq',
    upperThreshold: 0,
    lowerThreshold: 0,
    ...overrides,
  };
}

export function sorryServer(address: string, overrides: Partial<SorryServer> = {}): SorryServer {
  return { address, family: familyOf(address), port: 0, forwarding: 'masq', weight: 1, ...overrides };
}

/** `vip` is `address` or `address/prefix`; a firewall-mark service may have none. */
export function virtualService(
  name: string,
  vip: string | undefined,
  overrides: Partial<VirtualService> = {},
): VirtualService {
  const [address, prefix] = vip?.split('/') ?? [];
  return {
    name,
    active: true,
    ...(address
      ? { vip: { address, family: familyOf(address), prefix: Number(prefix ?? (familyOf(address) === 6 ? 128 : 32)) } }
      : {}),
    protocol: 'tcp',
    port: 80,
    scheduler: 'wlc',
    onePacket: false,
    healthCheck: healthCheck(),
    realServers: [],
    ...overrides,
  };
}

export function model(virtualServices: VirtualService[], overrides: Partial<Model> = {}): Model {
  return {
    cluster: 'lab',
    serialNo: 1,
    nodes: [
      { name: 'ifw01', address: '192.0.2.1', priority: 100 },
      { name: 'ifw02', address: '192.0.2.2', priority: 50 },
    ],
    heartbeat: { port: 539, keepalive: 2000, deadtime: 6000, warntime: 4000, initdead: 12000 },
    auth: { keyFile: '/etc/tandem/keys', keyId: 1 },
    preempt: false,
    network: 'nat',
    enableForwarding: true,
    virtualServices,
    sync: { enabled: false, syncId: 0, port: 8848 },
    ipvsTimeouts: {},
    hooks: { timeout: 10000 },
    announce: { count: 3, interval: 200, refresh: 0 },
    monitorLinks: { enabled: false, interfaces: [] },
    keepServicesOnRelease: false,
    ...overrides,
  };
}
