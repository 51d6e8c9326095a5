import { describe, expect, it } from 'vitest';
import type { Model } from '../../../src/config/model.js';
import { changedServices, servicesByKey } from '../../../src/ipvs/model-services.js';
import { serviceKey } from '../../../src/ipvs/table.js';
import { bigTable } from '../../support/big-table.js';
import { model, realServer, virtualService } from '../../support/ipvs-models.js';

const web = (i: number, weight = 1) =>
  virtualService(`web${i}`, `203.0.113.${i}`, { realServers: [realServer(`10.0.${i}.1`, { weight }), realServer(`10.0.${i}.2`)] });

const changes = async (before: Model, after: Model) => [
  ...(await changedServices(await servicesByKey(before), await servicesByKey(after))).keys(),
];

describe('changedServices', () => {
  it('finds the added, removed and changed services by identity, not by name or place', async () => {
    const before = model([web(1), web(2), web(3)]);
    const after = model([{ ...web(3), name: 'renamed' }, web(1, 5), web(4)]);
    expect(await changes(before, after)).toEqual(['tcp/203.0.113.3:80', 'tcp/203.0.113.1:80', 'tcp/203.0.113.4:80', 'tcp/203.0.113.2:80']);
    expect(await changes(before, model([web(3), web(1), web(2)]))).toEqual([]);
  });

  it('sees a change in any setting of a service: scheduler, flags, persistence, a server', async () => {
    const before = model([web(1)]);
    for (const changed of [
      { ...web(1), scheduler: 'sh' },
      { ...web(1), onePacket: true },
      { ...web(1), persistence: { timeout: 300 } },
      { ...web(1), realServers: [realServer('10.0.1.1')] },
    ])
      expect(await changes(before, model([changed]))).toEqual([
        serviceKey({ family: 4, protocol: 'tcp', address: '203.0.113.1', port: 80, fwmark: 0 }),
      ]);
  });

  it('compares big models a time slice at a time', async () => {
    const [before, after] = [await servicesByKey(bigTable(20_000, 2).model), await servicesByKey(bigTable(20_000, 2).model)];
    let turns = 0;
    const turning = setInterval(() => turns++, 0);
    expect((await changedServices(before, after)).size).toBe(0);
    clearInterval(turning);
    // done all at once, the comparison would let no timer run before it ends
    expect(turns).toBeGreaterThan(1);
  }, 30_000);
});
