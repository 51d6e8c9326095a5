// Builds minimal valid Models for health tests, labs and benchmarks.
import type { HealthCheckSpec, Model, RealServer, VirtualService } from '../../src/config/model.js';

export function healthCheck(overrides: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return {
    kind: 'tcp',
    interval: 2000,
    timeout: 1000,
    reentry: 0,
    reentryChecks: 1,
    failures: 1,
    useRegex: false,
    quiesceServer: false,
    slowStart: 0,
    slowStartCurve: 'linear',
    ...overrides,
  };
}

export function realServer(address: string, port: number, overrides: Partial<RealServer> = {}): RealServer {
  return {
    name: `rs-${address}-${port}`,
    address,
    family: address.includes(':') ? 6 : 4,
    port,
    weight: 1,
    active: true,
    forwarding: 'masq',
    upperThreshold: 0,
    lowerThreshold: 0,
    ...overrides,
  };
}

export function virtualService(name: string, realServers: RealServer[], overrides: Partial<VirtualService> = {}): VirtualService {
  return {
    name,
    active: true,
    vip: { address: '203.0.113.10', family: 4, prefix: 32 },
    protocol: 'tcp',
    port: 80,
    scheduler: 'wlc',
    onePacket: false,
    healthCheck: healthCheck(),
    realServers,
    ...overrides,
  };
}

export function modelOf(virtualServices: VirtualService[]): Model {
  return {
    cluster: 'test',
    serialNo: 1,
    nodes: [{ name: 'ifw01', address: '198.51.100.1', priority: 100 }],
    heartbeat: { port: 539, keepalive: 2000, deadtime: 6000, warntime: 4000, initdead: 12000 },
    auth: { keyFile: '/etc/tandem/keys', keyId: 1 },
    preempt: false,
    network: 'nat',
    enableForwarding: false,
    virtualServices,
    sync: { enabled: false, syncId: 0, port: 8848 },
    ipvsTimeouts: {},
    hooks: { timeout: 10_000 },
    announce: { count: 3, interval: 1000, refresh: 0 },
    monitorLinks: { enabled: false, interfaces: [] },
    keepServicesOnRelease: false,
  };
}
