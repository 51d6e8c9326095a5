import { describe, expect, it } from 'vitest';
import type { Model, RealServer, VirtualService } from '../../../src/config/model.js';
import { forwardingSettings } from '../../../src/net/forwarding.js';

const server = (address: string, family: 4 | 6, forwarding: RealServer['forwarding'], active = true): RealServer => ({
  name: address,
  address,
  family,
  port: 80,
  weight: 1,
  active,
  forwarding,
  upperThreshold: 0,
  lowerThreshold: 0,
});
const service = (realServers: RealServer[], active = true) => ({ active, realServers }) as VirtualService;

type Part = Pick<Model, 'network' | 'natRouter' | 'virtualServices'>;
const names = (model: Part) => forwardingSettings(model).map((s) => s.name);

describe('forwardingSettings', () => {
  it('needs IPv4 forwarding for network nat', () => {
    expect(names({ network: 'nat', virtualServices: [] })).toEqual(['net.ipv4.ip_forward']);
    expect(names({ network: 'nat', natRouter: { address: '2001:db8::1', family: 6, prefix: 64 }, virtualServices: [] })).toEqual([
      'net.ipv6.conf.all.forwarding',
    ]);
  });

  it('follows the families of active masquerading real servers', () => {
    const services = [
      service([server('198.51.100.10', 4, 'masq'), server('2001:db8::10', 6, 'masq')]),
      service([server('2001:db8::11', 6, 'gate')]),
    ];
    expect(names({ network: 'direct', virtualServices: services })).toEqual(['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']);
  });

  it('needs nothing for direct routing or tunnelling, or for inactive NAT servers', () => {
    expect(names({ network: 'direct', virtualServices: [service([server('192.0.2.10', 4, 'gate')])] })).toEqual([]);
    expect(
      names({
        network: 'tunnel',
        virtualServices: [service([server('192.0.2.10', 4, 'masq', false)]), service([server('192.0.2.11', 4, 'masq')], false)],
      }),
    ).toEqual([]);
  });
});
