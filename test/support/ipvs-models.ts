// Models for the IPVS tests (unit, VM tier, benchmark), on top of models.ts's builders
// (one place for the defaults a loader fills in): a VIP per service, real
// servers on the service's port unless given, overrides naming only what a test is about.
import type { Model, RealServer, SorryServer, VirtualService } from '../../src/config/model.js';
import { familyOf } from '../../src/lib/address.js';
import * as health from './models.js';

export const healthCheck = health.healthCheck;

/** Port 0: the virtual service's port. */
export function realServer(address: string, overrides: Partial<RealServer> = {}): RealServer {
  return health.realServer(address, 0, { name: address, ...overrides });
}

export function sorryServer(address: string, overrides: Partial<SorryServer> = {}): SorryServer {
  return { address, family: familyOf(address), port: 0, forwarding: 'masq', weight: 1, ...overrides };
}

/** `vip` is `address` or `address/prefix`; a firewall-mark service may have none. */
export function virtualService(name: string, vip: string | undefined, overrides: Partial<VirtualService> = {}): VirtualService {
  const service = health.virtualService(name, [], overrides);
  delete service.vip;
  if (!vip) return service;
  const [address = '', prefix] = vip.split('/');
  const family = familyOf(address);
  return { ...service, vip: { address, family, prefix: Number(prefix ?? (family === 6 ? 128 : 32)) } };
}

export function model(virtualServices: VirtualService[], overrides: Partial<Model> = {}): Model {
  return { ...health.modelOf(virtualServices), ...overrides };
}
