import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import { conntrackFilter } from '../../../src/sync/filter.js';
import { modelOf, virtualService } from '../../support/models.js';

function model(filter?: { include: string[]; exclude: string[] }): Model {
  const base = modelOf([virtualService('web', [])]);
  return {
    ...base,
    nodes: [
      { name: 'ifw01', address: '198.51.100.1', privateAddress: '10.1.0.1', priority: 100 },
      { name: 'ifw02', address: '198.51.100.2', privateAddress: '10.1.0.2', priority: 90 },
    ],
    natRouter: { address: '10.0.0.254', family: 4, prefix: 24 },
    sync: {
      ...base.sync,
      ...(filter && {
        conntrack: { enabled: true, cacheMaxEntries: 10, commit: 'before-announce' as const, filter },
      }),
    },
  };
}

describe('the conntrack filter', () => {
  it("by default takes the NAT gateway's flows and the VIPs', never a director's", () => {
    const synced = conntrackFilter(model());
    // a real server's own connection, masqueraded to a VIP
    expect(synced({ source: '10.0.0.5', destination: '192.0.2.80', replySource: '192.0.2.80', replyDestination: '203.0.113.10' })).toBe(
      true,
    );
    // a client of the VIP
    expect(synced({ source: '192.0.2.7', destination: '203.0.113.10' })).toBe(true);
    // SSH to a director, the heartbeats, traffic unrelated to the pair
    expect(synced({ source: '192.0.2.7', destination: '198.51.100.1' })).toBe(false);
    expect(synced({ source: '10.1.0.1', destination: '10.1.0.2' })).toBe(false);
    expect(synced({ source: '10.0.0.5', destination: '198.51.100.2' })).toBe(false);
    expect(synced({ source: '192.0.2.7', destination: '192.0.2.8' })).toBe(false);
  });

  it('takes the configured CIDRs instead, minus the excluded ones, in either family', () => {
    const synced = conntrackFilter(model({ include: ['172.16.0.0/12', '2001:db8::/32'], exclude: ['172.16.9.0/24'] }));
    expect(synced({ source: '172.16.1.1', destination: '192.0.2.1' })).toBe(true);
    expect(synced({ source: '172.16.9.1', destination: '192.0.2.1' })).toBe(false);
    expect(synced({ source: '2001:db8::5', destination: '2001:db9::1' })).toBe(true);
    expect(synced({ source: '10.0.0.5', destination: '192.0.2.80' })).toBe(false);
  });
});
