// `npm run bench -- fuzz [--count N] [--seed S]`: 10^6 hostile datagrams (random, mutated,
// truncated and replayed genuine ones, forgeries under a wrong key, oversized) at the
// backup of a lab pair, spoofed as the active, and hostile clients at its control socket
// (malformed, huge, slow, many at once). Prints what was sent by kind, what the sender's
// kernel refused, what the daemon counted by drop reason, what the backup's kernel
// dropped by cause, the datagrams none of these holds (fails unless 0), role changes,
// and its RSS before, at the peak and after. Needs root (network namespaces) and
// `npm run build`.
import { DirectorPair } from '../test/support/director-pair.js';
import { fuzzDaemon, total } from '../test/support/fuzz-daemon.js';
import type { Benchmark } from './benchmark.js';

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

async function run(args: string[]): Promise<void> {
  const count = option(args, 'count', 1_000_000);
  const seed = option(args, 'seed', 20261202);
  const pair = await DirectorPair.create({ keepalive: '100ms', deadtime: '1s' });
  try {
    await pair.startBoth();
    const report = await fuzzDaemon(pair, count, seed);
    const { genuine } = report;
    console.log(`datagrams sent: ${count} (seed ${seed}) in ${report.seconds.toFixed(0)} s`);
    for (const [kind, n] of Object.entries(report.sent)) console.log(`  ${kind}: ${n}`);
    console.log(`refused by the sender's kernel: ${total(report.sendFailures)} ${JSON.stringify(report.sendFailures)}`);
    console.log(`dropped by the daemon: ${total(report.rejected)}`);
    for (const [reason, n] of Object.entries(report.rejected)) console.log(`  ${reason}: ${n}`);
    console.log(`dropped by the backup's kernel: ${total(report.kernelDrops)}`);
    for (const [cause, n] of Object.entries(report.kernelDrops)) console.log(`  ${cause}: ${n}`);
    console.log(
      `genuine heartbeats meanwhile: ${genuine.sent} sent by the active, ${genuine.accepted} accepted ` +
        `(${genuine.sent - genuine.accepted} lost among the drops above)`,
    );
    console.log(`hostile datagrams unaccounted for: ${report.unaccounted}; role changes: ${report.roleChanges}`);
    console.log(`control clients: ${JSON.stringify(report.controlClients)}; refused: ${JSON.stringify(report.controlRefused)}`);
    console.log(`backup RSS: ${report.rssBefore} KiB before, ${report.rssPeak} KiB peak, ${report.rssAfter} KiB after`);
    console.log(`daemons alive: ${report.alive}`);
    if (!report.alive || report.roleChanges > 0 || report.unaccounted !== 0) process.exitCode = 1;
  } finally {
    await pair.destroy();
  }
}

export const fuzzBenchmark: Benchmark = {
  name: 'fuzz',
  description: 'hostile datagrams and control clients at a running daemon (--count N, default 10^6)',
  run,
};
