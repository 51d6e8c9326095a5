// IPVS programming speed against the real kernel, inside the IPVS VM (started from here
// when run on the host): tandem's reconcile over generic netlink against `ipvsadm -R`
// of the same rules, for tables of 1,000 and 10,000 services × 4 real servers built
// from empty, and for one weight change in a 10,000-service table.
import { execFile, spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Model } from '../src/config/model.js';
import { createLogger } from '../src/log.js';
import { model, realServer, virtualService } from '../test/support/ipvs-models.js';
import type { Benchmark } from './benchmark.js';

const execFileAsync = promisify(execFile);
const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });

/** `count` services on 198.51.100.0/24 (250 addresses × ports), 4 real servers each. */
function largeModel(count: number): Model {
  return model(
    Array.from({ length: count }, (_, i) =>
      virtualService(`vs${i}`, `198.51.100.${(i % 250) + 1}`, {
        port: 1000 + Math.floor(i / 250),
        scheduler: 'wrr',
        realServers: [1, 2, 3, 4].map((n) => realServer(`203.0.113.${((i + n) % 250) + 1}`, { port: 8000 + n, weight: n })),
      }),
    ),
  );
}

async function ipvsadmRestore(rules: string): Promise<number> {
  const started = performance.now();
  const restore = promisify(execFile)('ipvsadm', ['-R'], { maxBuffer: 1 << 20 });
  restore.child.stdin?.end(rules);
  await restore;
  return performance.now() - started;
}

/** Runs `task` and reports its wall time and the longest the event loop was blocked. */
async function measured(task: () => Promise<unknown>): Promise<{ ms: number; maxBlockedMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const started = performance.now();
  await task();
  const ms = performance.now() - started;
  delay.disable();
  return { ms, maxBlockedMs: delay.max / 1e6 };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function runInGuest(): Promise<void> {
  // The compiled code the daemon runs (`npm run bench` builds first), not tsx's
  // transform of the sources, which adds work to every function call.
  const built = '../dist/ipvs/index.js';
  const { desiredTable, desiredTableInChunks, formatSave, IpvsNetlink, IpvsReconciler, readTable } = (await import(
    built
  )) as typeof import('../src/ipvs/index.js');
  const kernel = await IpvsNetlink.open();
  try {
    for (const count of [1_000, 10_000]) {
      const config = largeModel(count);
      const rules = formatSave(desiredTable(config, { role: 'active' }).services);
      await kernel.flush();
      // a claim: the desired table from the model, then the reconcile
      const tandem = await measured(async () =>
        new IpvsReconciler(kernel, logger).reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench'),
      );
      await kernel.flush();
      const ipvsadm = await ipvsadmRestore(rules);
      console.log(
        `apply ${count} services × 4 real servers from empty: tandem ${seconds(tandem.ms)} ` +
          `(event loop blocked ≤ ${tandem.maxBlockedMs.toFixed(0)} ms), ipvsadm -R ${seconds(ipvsadm)}`,
      );
    }

    // The 10,000-service table is in the kernel (from ipvsadm -R): read it, change one weight.
    const read = await measured(() => readTable(kernel));
    const started = performance.now();
    await execFileAsync('ipvsadm', ['-S', '-n'], { maxBuffer: 64 << 20 });
    console.log(
      `read a 10000-service table: tandem ${seconds(read.ms)} (event loop blocked ≤ ${read.maxBlockedMs.toFixed(0)} ms), ` +
        `ipvsadm -S -n ${seconds(performance.now() - started)}`,
    );
    const reconciler = new IpvsReconciler(kernel, logger);
    const changed = largeModel(10_000);
    const server = changed.virtualServices[4321]!.realServers[2]!;
    server.weight = 9;
    const reload = await measured(async () =>
      reconciler.reconcile(await desiredTableInChunks(changed, { role: 'active' }), 'bench: reload'),
    );
    server.weight = 10;
    const afterHealthChange = desiredTable(changed, { role: 'active' }, [changed.virtualServices[4321]!]);
    const service = afterHealthChange.services[0]!;
    const scoped = await measured(() => reconciler.reconcileServices(afterHealthChange, 'bench: health'));
    const destination = service.destinations[2]!;
    const edit = `-e -t ${service.address}:${service.port} -r ${destination.address}:${destination.port} -m -w 11\n`;
    const ipvsadm = await ipvsadmRestore(edit);
    console.log(
      `one weight change in a 10000-service table: tandem reload (reads the whole table) ${seconds(reload.ms)} ` +
        `(event loop blocked ≤ ${reload.maxBlockedMs.toFixed(0)} ms); ` +
        `tandem one-service reconcile (health change) ${scoped.ms.toFixed(1)} ms; ipvsadm -R of one -e rule ${ipvsadm.toFixed(1)} ms`,
    );
    const { stdout } = await execFileAsync('ipvsadm', ['-Ln', '-t', `${service.address}:${service.port}`]);
    if (!new RegExp(`${destination.address}:${destination.port} +Masq +11 `).test(stdout))
      throw new Error(`the weight edits did not land:\n${stdout}`);
    await kernel.flush();
  } finally {
    kernel.close();
  }
}

/** The JavaScript side at the machine's own speed, against an in-memory table instead of
 *  the kernel: how long a claim and a reload of 10,000 services take in tandem itself and
 *  the longest the event loop (the heartbeat's) waits meanwhile. */
async function runOnHost(): Promise<void> {
  const built = '../dist/ipvs/index.js';
  const { desiredTableInChunks, IpvsReconciler } = (await import(built)) as typeof import('../src/ipvs/index.js');
  const { MemoryIpvs } = await import('../test/support/memory-ipvs.js');
  const kernel = new MemoryIpvs();
  const reconciler = new IpvsReconciler(kernel, logger);
  const config = largeModel(10_000);
  const claim = await measured(async () => reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench'));
  config.virtualServices[4321]!.realServers[2]!.weight = 9;
  const reload = await measured(async () => reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench'));
  console.log(
    `tandem's own work for 10000 services × 4 real servers at host speed (in-memory table, no kernel): ` +
      `claim ${claim.ms.toFixed(0)} ms, reload with one weight change ${reload.ms.toFixed(0)} ms; ` +
      `longest event-loop stall ${Math.max(claim.maxBlockedMs, reload.maxBlockedMs).toFixed(0)} ms`,
  );
}

export const ipvsBenchmark: Benchmark = {
  name: 'ipvs',
  description: 'IPVS: tandem reconcile vs ipvsadm -R, 1k/10k services × 4 real servers, one weight change (in the IPVS VM)',
  async run() {
    if (process.env.TANDEM_IPVS_VM === '1') return runInGuest();
    await runOnHost();
    console.log('(booting the IPVS VM: software emulation, CPU ~15× slower than the host)');
    const child = spawn('bash', ['test/ipvs/vm', 'node', '--import', 'tsx', 'bench/main.ts', 'ipvs'], { stdio: 'inherit' });
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (status !== 0) throw new Error(`the IPVS benchmark in the VM exited with ${status}`);
  },
};
