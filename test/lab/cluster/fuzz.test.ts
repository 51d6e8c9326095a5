// A running daemon under hostile datagrams and control clients (issue 12), CI-sized:
// `npm run bench -- fuzz` sends 10^6.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectorPair } from '../../support/director-pair.js';
import { fuzzDaemon } from '../../support/fuzz-daemon.js';
import { requireRoot } from '../../support/netns.js';

const datagrams = Number(process.env.FUZZ_DATAGRAMS ?? 20_000);

describe('a running daemon under fuzzing', () => {
  let pair: DirectorPair;

  beforeEach(async () => {
    requireRoot();
    pair = await DirectorPair.create({ keepalive: '100ms', deadtime: '1s' });
    await pair.startBoth();
  });

  afterEach(async () => {
    await pair.destroy();
  });

  it(`drops ${datagrams} hostile datagrams by reason and hostile control clients, with no state change and bounded memory`, async () => {
    const report = await fuzzDaemon(pair, datagrams, 20261202);
    console.log(JSON.stringify(report));
    expect(report.alive).toBe(true);
    expect(report.roleChanges).toBe(0);
    // every datagram was refused by the sender's kernel, dropped by the backup's or counted by the daemon under a reason
    expect(report.unaccounted).toBe(0);
    // none accepted as the peer's, and the peer's own still were
    expect(report.genuine.accepted).toBeLessThanOrEqual(report.genuine.sent);
    expect(report.genuine.accepted).toBeGreaterThan(0);
    expect(report.controlRefused.busy).toBeGreaterThan(0);
    expect(report.controlRefused.idle).toBeGreaterThan(0);
    expect(report.controlRefused['bad-request']).toBeGreaterThan(0);
    expect(report.rssPeak - report.rssBefore).toBeLessThan(64 * 1024);
  }, 180_000);
});
