// Property tests of the sync engine in simulated time: whatever the network does
// while the table changes (loss, duplication, reordering) and whichever daemon
// restarts, once the network is fair again the backup's cache equals the active's
// table and the kind is synced.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyncSimulation, perfect, type Network } from './simulator.js';

type Step =
  | { type: 'set'; key: number; value: number }
  | { type: 'remove'; key: number }
  | { type: 'wait'; ms: number }
  | { type: 'restart-active' }
  | { type: 'restart-backup' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ type: fc.constant('set' as const), key: fc.nat(80), value: fc.nat(1000) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('remove' as const), key: fc.nat(80) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.constant({ type: 'restart-active' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'restart-backup' as const }) },
);

const network: fc.Arbitrary<Network> = fc.record({
  loss: fc.double({ min: 0, max: 0.4, noNaN: true }),
  duplication: fc.double({ min: 0, max: 0.3, noNaN: true }),
  jitterMs: fc.integer({ min: 0, max: 40 }),
});

function run(seed: number, initial: number, net: Network, steps: Step[]): SyncSimulation {
  const sim = new SyncSimulation(seed);
  for (let key = 0; key < initial; key++) sim.table.set(`k${key}`, 'initial');
  sim.network = net;
  sim.start();
  for (const s of steps) {
    if (s.type === 'set') sim.change(`k${s.key}`, String(s.value));
    else if (s.type === 'remove') sim.change(`k${s.key}`, undefined);
    else if (s.type === 'wait') sim.runUntil(sim.now + s.ms);
    else if (s.type === 'restart-active') sim.restartActive();
    else sim.restartBackup();
  }
  sim.network = perfect;
  sim.runUntil(sim.now + 20_000);
  return sim;
}

describe('the sync engine under loss, duplication and reordering', () => {
  it('converges: the cache equals the table and the kind is synced', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(300), network, fc.array(step, { maxLength: 120 }), (seed, initial, net, steps) => {
        const sim = run(seed, initial, net, steps);
        expect(sim.cached()).toEqual(sim.table);
        expect(sim.receiver.synced(sim.now)).toBe(true);
        expect(sim.sender.status().peerSynced).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('on a perfect network: one bulk resync, no resend beyond the first stream', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(500),
        fc.array(
          step.filter((s) => !s.type.startsWith('restart')),
          { maxLength: 60 },
        ),
        (seed, initial, steps) => {
          const sim = run(seed, initial, perfect, steps);
          expect(sim.resyncs).toEqual(['became-active']);
          expect(sim.cached()).toEqual(sim.table);
        },
      ),
      { numRuns: 50 },
    );
  });
});
