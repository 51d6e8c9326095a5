// A short chaos run with fixed seeds (the long one is `npm run bench -- chaos`): every
// kind of fault at least once, and no invariant violated.
import { describe, expect, it } from 'vitest';
import { faultKinds, runChaos } from '../../support/chaos.js';
import { requireRoot } from '../../support/netns.js';

describe('chaos (keepalive 50ms, deadtime 200ms)', () => {
  it('keeps every invariant through two rounds of every fault, in a seeded order', { timeout: 900_000 }, async () => {
    requireRoot();
    const report = await runChaos({ seed: 1, order: 'each', durationMs: 600_000, faults: 2 * faultKinds.length });
    expect(report.violations).toEqual([]);
    expect(report.faults).toHaveLength(2 * faultKinds.length);
  });
});
