// IPVS programming speed against the real kernel, inside the IPVS VM (started from here
// when run on the host), side by side with ipvsadm on the same kernel in one run: for
// 10,000 services × 4 real servers and 100,000 × 2 (half TCP VIP services, half fwmark
// services), an ipvsadm rules file is restored by `ipvsadm -R` and run by `tandem run`;
// the tables must be identical (`ipvsadm -S -n`, line for line). Then tandem's reads of
// the table (a reconcile's full read; `tandem ipvs --save` less the CLI's start-up)
// against `ipvsadm -S -n`, and one changed weight applied by a reload against ipvsadm.
// TANDEM_BENCH_IPVS_SIZES=1000x4,... picks other sizes (count × real servers).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { Model, VirtualService } from '../src/config/model.js';
import { createLogger } from '../src/log.js';
import { model, realServer, virtualService } from '../test/support/ipvs-models.js';
import type { Benchmark } from './benchmark.js';

const execFileAsync = promisify(execFile);
const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const cli = 'dist/cli/main.js';

/** `count` services with `servers` real servers each: the first half TCP services on 250
 *  VIPs of 198.51.100.0/24 (masq), the second half fwmark services (direct routing). */
function table(count: number, servers: number): { rules: string; model: Model } {
  const lines: string[] = [];
  const services: VirtualService[] = [];
  const half = Math.floor(count / 2);
  const serverAddress = (i: number, n: number) => `203.0.113.${((i + n) % 250) + 1}`;
  for (let i = 0; i < half; i++) {
    const vip = `198.51.100.${(i % 250) + 1}`;
    const port = 1000 + Math.floor(i / 250);
    lines.push(`-A -t ${vip}:${port} -s wrr`);
    const realServers = [];
    for (let n = 1; n <= servers; n++) {
      lines.push(`-a -t ${vip}:${port} -r ${serverAddress(i, n)}:${8000 + n} -m -w ${n}`);
      realServers.push(realServer(serverAddress(i, n), { port: 8000 + n, weight: n }));
    }
    services.push(virtualService(`vs${i}`, vip, { port, scheduler: 'wrr', realServers }));
  }
  for (let i = 0; i < count - half; i++) {
    const mark = i + 1;
    lines.push(`-A -f ${mark} -s wrr`);
    const realServers = [];
    for (let n = 1; n <= servers; n++) {
      lines.push(`-a -f ${mark} -r ${serverAddress(i, n)}:0 -g -w ${n}`);
      realServers.push(realServer(serverAddress(i, n), { forwarding: 'gate', weight: n }));
    }
    services.push(virtualService(`fw${mark}`, undefined, { fwmark: mark, port: 0, scheduler: 'wrr', realServers }));
  }
  return { rules: `${lines.join('\n')}\n`, model: model(services) };
}

async function timed<T>(task: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await task();
  return { ms: performance.now() - started, value };
}

/** Runs `task` and reports its wall time and the longest the event loop was blocked. */
async function measured<T>(task: () => Promise<T>): Promise<{ ms: number; maxBlockedMs: number; value: T }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const { ms, value } = await timed(task);
  delay.disable();
  return { ms, maxBlockedMs: delay.max / 1e6, value };
}

async function ipvsadm(args: string[], input?: string): Promise<string> {
  const command = execFileAsync('ipvsadm', args, { maxBuffer: 1 << 30 });
  command.child.stdin?.end(input);
  return (await command).stdout;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ratio = (tandem: number, reference: number) => `${(tandem / reference).toFixed(2)}×`;

/** How two `ipvsadm -S -n` listings compare, in a few words. */
function compareListings(tandem: string, reference: string): string {
  if (tandem === reference) return `identical (${reference.split('\n').length - 1} lines)`;
  const a = tandem.split('\n');
  const b = reference.split('\n');
  const first = a.findIndex((line, i) => line !== b[i]);
  const sameSet = [...a].sort().join('\n') === [...b].sort().join('\n');
  return `DIFFERENT (${a.length - 1} lines against ${b.length - 1}; first at line ${first + 1}: ${JSON.stringify(a[first])} against ${JSON.stringify(b[first])}${sameSet ? '; same lines in another order' : ''})`;
}

/** `tandem run` on `file` until its claim has programmed the table; resolves with the
 *  daemon and the claim's log line. */
async function startDaemon(file: string, socket: string): Promise<{ daemon: ChildProcess; claim: Record<string, unknown> }> {
  const daemon = spawn('node', [cli, 'run', '--config', file, '--log-format', 'json', '--socket', socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: daemon.stdout });
  const claim = await new Promise<Record<string, unknown>>((resolve, reject) => {
    daemon.once('exit', (status) => reject(new Error(`tandem run exited with ${status} before claiming`)));
    lines.on('line', (line) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (record.level !== undefined && Number(record.level) >= 50) console.log(`  daemon: ${line}`);
      if (record.event === 'controller.claim') resolve(record);
    });
  });
  return { daemon, claim };
}

async function stopDaemon(daemon: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  daemon.kill('SIGTERM');
  await exited;
}

async function runInGuest(): Promise<void> {
  // The compiled code the daemon runs (`npm run bench` builds first), not tsx's
  // transform of the sources, which adds work to every function call.
  const built = '../dist/ipvs/index.js';
  const { desiredTable, desiredTableInChunks, formatSave, IpvsNetlink, IpvsReconciler, readTable } = (await import(
    built
  )) as typeof import('../src/ipvs/index.js');
  // the VIPs' subnet on a device, so tandem run can claim them; NAT needs forwarding
  await execFileAsync('sh', [
    '-c',
    'sysctl -qw net.ipv4.ip_forward=1 && ip link add tbench0 type dummy && ip addr add 198.51.100.254/24 dev tbench0 && ip link set tbench0 up',
  ]);
  const sizes = (process.env.TANDEM_BENCH_IPVS_SIZES ?? '10000x4,100000x2').split(',').map((size) => size.split('x').map(Number));
  const files = await mkdtemp(join(tmpdir(), 'tandem-bench-ipvs-'));
  const kernel = await IpvsNetlink.open();
  try {
    await kernel.flush();
    // the CLI's own start-up, measured on an empty table
    const startup = await timed(() => execFileAsync('node', [cli, 'ipvs', '--save']));
    console.log(`tandem ipvs --save on an empty table (the CLI's start-up): ${seconds(startup.ms)}`);
    for (const [count = 0, servers = 0] of sizes) {
      const { rules, model: config } = table(count, servers);
      const file = join(files, `${count}x${servers}.rules`);
      await writeFile(file, rules);
      console.log(
        `\n${count} services × ${servers} real servers (${Math.floor(count / 2)} TCP VIP + ${count - Math.floor(count / 2)} fwmark), ` +
          `rules file ${(rules.length / 1e6).toFixed(1)} MB:`,
      );
      await kernel.flush();
      const restore = await timed(() => ipvsadm(['-R'], rules));
      const ipvsadmRead = await timed(() => ipvsadm(['-S', '-n']));
      const reference = ipvsadmRead.value;
      await kernel.flush();

      const socket = join(files, 'control.sock');
      const { daemon, claim } = await startDaemon(file, socket);
      try {
        const applied = Number(claim.balancerMs);
        console.log(
          `  apply from empty: tandem run ${seconds(applied)} (the claim's IPVS part), ipvsadm -R ${seconds(restore.ms)}: ` +
            `tandem/ipvsadm ${ratio(applied, restore.ms)}`,
        );
        console.log(`  tandem's table against ipvsadm -R's (ipvsadm -S -n): ${compareListings(await ipvsadm(['-S', '-n']), reference)}`);

        const desired = await desiredTableInChunks(config, { role: 'active' });
        const reconciler = new IpvsReconciler(kernel, logger);
        const read = await measured(() => reconciler.reconcile(desired, 'bench: full read'));
        const operations = read.value.operations.length;
        console.log(
          `  read for a reconcile (all ${read.value.servicesRead} services, ${operations} changes): tandem ${seconds(read.ms)} ` +
            `(event loop blocked ≤ ${read.maxBlockedMs.toFixed(0)} ms), ipvsadm -S -n ${seconds(ipvsadmRead.ms)}: ` +
            `tandem/ipvsadm ${ratio(read.ms, ipvsadmRead.ms)}`,
        );
        const save = await timed(() => execFileAsync('node', [cli, 'ipvs', '--save'], { maxBuffer: 1 << 30 }));
        const beyondStartup = save.ms - startup.ms;
        console.log(
          `  tandem ipvs --save ${seconds(save.ms)} − start-up ${seconds(startup.ms)} = ${seconds(beyondStartup)}, ` +
            `ipvsadm -S -n ${seconds(ipvsadmRead.ms)}: tandem/ipvsadm ${ratio(beyondStartup, ipvsadmRead.ms)}; ` +
            `output against ipvsadm -S -n: ${compareListings(save.value.stdout, reference)}`,
        );
        const inProcess = await measured(() => readTable(kernel));
        console.log(
          `  readTable in-process ${seconds(inProcess.ms)} (event loop blocked ≤ ${inProcess.maxBlockedMs.toFixed(0)} ms); ` +
            `its formatSave against ipvsadm -S -n: ${compareListings(formatSave(inProcess.value), reference)}`,
        );

        // a changed file: one weight, as a reload reconciles it, against ipvsadm -R of one -e rule
        const changed = config.virtualServices[Math.floor(count / 4)]!;
        changed.realServers[0]!.weight = 9;
        const reload = await measured(async () =>
          reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench: reload'),
        );
        const service = desiredTable(config, { role: 'active' }, [changed]).services[0]!;
        const destination = service.destinations[0]!;
        const edit = await timed(() =>
          ipvsadm(['-R'], `-e -t ${service.address}:${service.port} -r ${destination.address}:${destination.port} -m -w 11\n`),
        );
        console.log(
          `  one changed weight: tandem reload (reads the whole table) ${seconds(reload.ms)}, ${reload.value.operations.length} change ` +
            `(event loop blocked ≤ ${reload.maxBlockedMs.toFixed(0)} ms); ipvsadm -R of one -e rule ${seconds(edit.ms)}`,
        );
      } finally {
        await stopDaemon(daemon);
      }
      await kernel.flush();
    }
  } finally {
    kernel.close();
    await rm(files, { recursive: true, force: true });
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
  const config = table(10_000, 4).model;
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
  description: 'IPVS: tandem run vs ipvsadm -R, reads vs ipvsadm -S -n, 10k × 4 and 100k × 2 services (in the IPVS VM, side by side)',
  async run() {
    if (process.env.TANDEM_IPVS_VM === '1') return runInGuest();
    await runOnHost();
    console.log('(booting the IPVS VM: software emulation, CPU ~15× slower than the host)');
    // 100,000 services parse in the daemon's worker with a few hundred MiB of heap
    const env = {
      ...process.env,
      TANDEM_VM_MEM: process.env.TANDEM_VM_MEM ?? '6144',
      TANDEM_VM_TIMEOUT: process.env.TANDEM_VM_TIMEOUT ?? '3600',
    };
    const child = spawn('bash', ['test/ipvs/vm', 'node', '--import', 'tsx', 'bench/main.ts', 'ipvs'], { stdio: 'inherit', env });
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (status !== 0) throw new Error(`the IPVS benchmark in the VM exited with ${status}`);
  },
};
