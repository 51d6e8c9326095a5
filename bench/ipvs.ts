// IPVS programming speed against the real kernel, inside the IPVS VM (started from here
// when run on the host), side by side with ipvsadm on the same kernel in one run: for
// 10,000 services × 4 real servers and 100,000 × 2 (half TCP VIP services, half fwmark
// services), an ipvsadm rules file is restored by `ipvsadm -R` and run by `tandem run`;
// the tables must be identical (`ipvsadm -S -n`, line for line). Then tandem's reads of
// the table (a reconcile's full read; `tandem ipvs --save` less the CLI's start-up)
// against `ipvsadm -S -n`, and one changed weight applied by a reload against ipvsadm.
// TANDEM_BENCH_IPVS_SIZES=1000x4,... picks other sizes (count × real servers);
// TANDEM_BENCH_IPVS_HOST_ONLY=1 runs only the part at host speed (no VM).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { createLogger } from '../src/log.js';
import { bigTable } from '../test/support/big-table.js';
import { collectGarbage } from '../test/support/collect-garbage.js';
import type { Model } from '../src/config/model.js';
import type { IpvsNetlink, IpvsReconciler, ReconcileResult } from '../src/ipvs/index.js';
import type { Benchmark } from './benchmark.js';

const execFileAsync = promisify(execFile);
const logger = createLogger({ format: 'json', level: 'warn', destination: process.stderr });
const cli = 'dist/cli/main.js';

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

/** A reload as the daemon does it: the models compared by service identity (the previous
 *  model's map is the planner's already), only the changed services read and reconciled. */
async function reloadChangedServices(
  ipvs: typeof import('../src/ipvs/index.js'),
  reconciler: IpvsReconciler,
  previous: Model,
  next: Model,
): Promise<{ ms: number; maxBlockedMs: number; value: ReconcileResult }> {
  const before = await ipvs.servicesByKey(previous);
  return measured(async () => {
    const services = await ipvs.servicesByKey(next);
    const changed = await ipvs.changedServices(before, services);
    const desired = ipvs.desiredTable(
      next,
      { role: 'active' },
      [...changed.keys()].flatMap((key) => services.get(key) ?? []),
    );
    return reconciler.reconcileServices(desired, 'bench: reload');
  });
}

/** The faster of two measurements. */
const faster = <T extends { ms: number }>(best: T | undefined, next: T): T => (best && best.ms <= next.ms ? best : next);

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
  let reconciled: Record<string, unknown> | undefined;
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
      if (record.event === 'ipvs.reconciled') reconciled = record; // the last before the claim's line
      if (record.event === 'controller.claim') resolve({ ...record, reconcileMs: reconciled?.durationMs });
    });
  });
  return { daemon, claim };
}

async function stopDaemon(daemon: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  daemon.kill('SIGTERM');
  await exited;
}

const clientNetns = 'tbench-client';

/** The VIPs' subnet on a link to a client's namespace (198.51.100.253), so claims can
 *  place the VIPs and announce them there; NAT needs forwarding. The client keeps a
 *  stale neighbour entry until told otherwise and lets any announcement override it. */
async function connectClient(): Promise<void> {
  await execFileAsync('sh', [
    '-c',
    `sysctl -qw net.ipv4.ip_forward=1 && ip netns add ${clientNetns} && ` +
      `ip link add tbench0 type veth peer name eth0 netns ${clientNetns} && ` +
      'ip addr add 198.51.100.254/24 dev tbench0 && ip link set tbench0 up && ' +
      `ip -n ${clientNetns} addr add 198.51.100.253/24 dev eth0 && ip -n ${clientNetns} link set eth0 up && ` +
      `ip netns exec ${clientNetns} sysctl -qw net.ipv4.neigh.eth0.locktime=0 net.ipv4.neigh.eth0.delay_first_probe_time=600`,
  ]);
}

/** The client's probes: UDP datagrams to each target every 2 ms until told to stop
 *  (a line on stdin); then how many went to each after the time in the file `t0`. */
const prober = `
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
const [targets, t0File] = [JSON.parse(process.argv[1]), process.argv[2]];
const socket = dgram.createSocket('udp4');
socket.on('error', () => undefined);
const sent = targets.map(() => []);
const timer = setInterval(() => {
  const now = Date.now();
  targets.forEach(([address, port], i) => { socket.send('probe', port, address); sent[i].push(now); });
}, 2);
process.stdin.once('data', () => {
  clearInterval(timer);
  const t0 = Number(readFileSync(t0File, 'utf8'));
  console.log(JSON.stringify(sent.map((times) => times.filter((t) => t >= t0).length)));
  socket.close();
  process.stdin.destroy();
});
console.log('probing');
`;

/**
 * A claim of `count` services (UDP VIP services, so every datagram counts in IPVS's
 * statistics) in each order: the whole table then the addresses with their gratuitous
 * ARP, or the addresses first. A client probes ten services spread over the table; the
 * datagrams it sent after the claim began that IPVS did not count were lost (before the
 * announcement they go to the dead director's MAC; before its service exists the VIP
 * answers with ICMP port unreachable).
 */
async function claimOrders(kernel: IpvsNetlink, count: number, servers: number): Promise<void> {
  const [ipvsBuilt, netBuilt] = ['../dist/ipvs/index.js', '../dist/net/index.js'];
  const { desiredTableInChunks, IpvsReconciler } = (await import(ipvsBuilt)) as typeof import('../src/ipvs/index.js');
  const { AddressManager, Announcer, PacketSocket } = (await import(netBuilt)) as typeof import('../src/net/index.js');
  const { model: config } = bigTable(count, servers, 'udp');
  const vipServices = config.virtualServices.filter((service) => service.vip !== undefined);
  const probed = Array.from({ length: 10 }, (_, k) => vipServices[Math.floor((k * vipServices.length) / 10)]!);
  const targets = probed.map((service) => [service.vip!.address, service.port] as const);
  const wanted = [...new Map(vipServices.map((service) => [service.vip!.address, service.vip!])).values()];
  const addresses = new AddressManager(logger);
  const packets = new PacketSocket();
  const announcer = new Announcer({ sender: packets, spec: config.announce, logger });
  const reconciler = new IpvsReconciler(kernel, logger);
  const files = await mkdtemp(join(tmpdir(), 'tandem-bench-claim-'));
  const t0File = join(files, 't0');
  const claimAddresses = async () => {
    await addresses.claim(wanted, (placed) => announcer.announce([placed]));
  };
  const programTable = async () => {
    await reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'claim');
  };
  console.log(`\nclaim order, ${count} UDP VIP services × ${servers} on ${wanted.length} VIPs; a client probes 10 of them every 2 ms:`);
  try {
    for (const [order, steps] of [
      ['table, then addresses + GARP', [programTable, claimAddresses]],
      ['addresses + GARP, then table', [claimAddresses, programTable]],
    ] as const) {
      await kernel.flush();
      await writeFile(t0File, String(Number.MAX_SAFE_INTEGER));
      const probe = spawn(
        'ip',
        ['netns', 'exec', clientNetns, 'node', '--input-type=module', '-e', prober, JSON.stringify(targets), t0File],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      const output = createInterface({ input: probe.stdout });
      const lines = output[Symbol.asyncIterator]();
      await lines.next(); // probing
      // the client still sends to the old director (a MAC nobody has)
      await execFileAsync('sh', [
        '-c',
        wanted.map((vip) => `ip -n ${clientNetns} neigh replace ${vip.address} lladdr 02:00:00:00:00:99 dev eth0 nud stale`).join(' && '),
      ]);
      await writeFile(t0File, String(Date.now()));
      const claimed = await timed(async () => {
        for (const step of steps) await step();
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      probe.stdin.end('stop\n');
      const sent = JSON.parse(String((await lines.next()).value)) as number[];
      let lost = 0;
      let worst = 0;
      for (const [index, [address, port]] of targets.entries()) {
        const stats = await ipvsadm(['-L', '-n', '--stats', '--exact', '-u', `${address}:${port}`]);
        const line = stats.split('\n').find((text) => text.startsWith('UDP'));
        const counted = Number(line?.trim().split(/\s+/)[3] ?? 0);
        const missing = Math.max(0, (sent[index] ?? 0) - counted);
        lost += missing;
        worst = Math.max(worst, missing);
      }
      const total = sent.reduce((a, b) => a + b, 0);
      console.log(
        `  ${order}: claim ${seconds(claimed.ms)}; lost ${lost} of ${total} datagrams sent to the 10 services after it began ` +
          `(${((100 * lost) / Math.max(1, total)).toFixed(1)} %; the worst service lost ${worst})`,
      );
      announcer.stop();
      await addresses.release(wanted);
    }
  } finally {
    announcer.stop();
    packets.close();
    addresses.close();
    await kernel.flush();
    await rm(files, { recursive: true, force: true });
  }
}

async function runInGuest(): Promise<void> {
  // The compiled code the daemon runs (`npm run bench` builds first), not tsx's
  // transform of the sources, which adds work to every function call.
  const built = '../dist/ipvs/index.js';
  const ipvs = (await import(built)) as typeof import('../src/ipvs/index.js');
  const { desiredTable, desiredTableInChunks, formatSave, IpvsNetlink, IpvsReconciler, readTable } = ipvs;
  await connectClient();
  const sizes = (process.env.TANDEM_BENCH_IPVS_SIZES ?? '10000x4,100000x2').split(',').map((size) => size.split('x').map(Number));
  const files = await mkdtemp(join(tmpdir(), 'tandem-bench-ipvs-'));
  const kernel = await IpvsNetlink.open();
  try {
    await kernel.flush();
    if (process.env.TANDEM_BENCH_IPVS_CLAIM !== '0') await claimOrders(kernel, 10_000, 4);
    // the CLI's own start-up, measured on an empty table (the best of two)
    const startup = faster(
      await timed(() => execFileAsync('node', [cli, 'ipvs', '--save'])),
      await timed(() => execFileAsync('node', [cli, 'ipvs', '--save'])),
    );
    console.log(`tandem ipvs --save on an empty table (the CLI's start-up): ${seconds(startup.ms)}`);
    for (const [count = 0, servers = 0] of sizes) {
      const { rules, model: config } = bigTable(count, servers);
      const file = join(files, `${count}x${servers}.rules`);
      await writeFile(file, rules);
      console.log(
        `\n${count} services × ${servers} real servers (${Math.floor(count / 2)} TCP VIP + ${count - Math.floor(count / 2)} fwmark), ` +
          `rules file ${(rules.length / 1e6).toFixed(1)} MB:`,
      );
      await kernel.flush();
      const restore = await timed(() => ipvsadm(['-R'], rules));
      const reference = await ipvsadm(['-S', '-n']);
      await kernel.flush();

      const socket = join(files, 'control.sock');
      const { daemon, claim } = await startDaemon(file, socket);
      try {
        const applied = Number(claim.balancerMs);
        const reconciled = Number(claim.reconcileMs);
        console.log(
          `  apply from empty: tandem run ${seconds(applied)} (the claim until the table is in: addresses, desired table, reconcile), ` +
            `of which the reconcile ${seconds(reconciled)}; ipvsadm -R ${seconds(restore.ms)}: ` +
            `tandem/ipvsadm ${ratio(applied, restore.ms)}, the reconcile alone ${ratio(reconciled, restore.ms)}`,
        );
        console.log(`  tandem's table against ipvsadm -R's (ipvsadm -S -n): ${compareListings(await ipvsadm(['-S', '-n']), reference)}`);

        // Reads side by side, ipvsadm's next to tandem's, the best of two: the machine is shared.
        const desired = await desiredTableInChunks(config, { role: 'active' });
        const reconciler = new IpvsReconciler(kernel, logger);
        let ipvsadmRead, read, inProcess, save;
        for (let round = 0; round < 2; round++) {
          ipvsadmRead = faster(ipvsadmRead, await timed(() => ipvsadm(['-S', '-n'])));
          read = faster(read, await measured(() => reconciler.reconcile(desired, 'bench: full read')));
          inProcess = faster(inProcess, await measured(() => readTable(kernel)));
          save = faster(save, await timed(() => execFileAsync('node', [cli, 'ipvs', '--save'], { maxBuffer: 1 << 30 })));
        }
        if (!ipvsadmRead || !read || !inProcess || !save) throw new Error('no read was measured');
        console.log(
          `  read for a reconcile (all ${read.value.servicesRead} services, ${read.value.operationCount} changes): ` +
            `tandem ${seconds(read.ms)} (event loop blocked ≤ ${read.maxBlockedMs.toFixed(0)} ms), ` +
            `ipvsadm -S -n ${seconds(ipvsadmRead.ms)}: tandem/ipvsadm ${ratio(read.ms, ipvsadmRead.ms)}`,
        );
        const beyondStartup = save.ms - startup.ms;
        console.log(
          `  tandem ipvs --save ${seconds(save.ms)} − start-up ${seconds(startup.ms)} = ${seconds(beyondStartup)}, ` +
            `ipvsadm -S -n ${seconds(ipvsadmRead.ms)}: tandem/ipvsadm ${ratio(beyondStartup, ipvsadmRead.ms)}; ` +
            `output against ipvsadm -S -n: ${compareListings(save.value.stdout, reference)}`,
        );
        console.log(
          `  the driver's read of the table (readTable) ${seconds(inProcess.ms)} (event loop blocked ≤ ${inProcess.maxBlockedMs.toFixed(0)} ms); ` +
            `as ipvsadm -S -n prints it: ${compareListings(formatSave(inProcess.value), reference)}`,
        );

        // the kernel mirror: what the director holds of the table it read (bench big: the model and health state)
        collectGarbage();
        const before = process.memoryUsage().heapUsed;
        const mirror = await readTable(kernel);
        collectGarbage();
        const mirrorBytes = process.memoryUsage().heapUsed - before;
        console.log(
          `  memory of the kernel mirror (the table as read back): ${Math.round(mirrorBytes / mirror.length)} B per service ` +
            `(${(mirrorBytes / 2 ** 20).toFixed(1)} MiB for ${mirror.length})`,
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
        const next = structuredClone(config);
        next.virtualServices[Math.floor(count / 4)]!.realServers[0]!.weight = 13;
        const narrow = await reloadChangedServices(ipvs, reconciler, config, next);
        console.log(
          `  one changed weight: tandem reload of the changed service ${seconds(narrow.ms)}, ${narrow.value.operationCount} change ` +
            `(event loop blocked ≤ ${narrow.maxBlockedMs.toFixed(0)} ms); the whole table rebuilt and read ${seconds(reload.ms)}; ` +
            `ipvsadm -R of one -e rule ${seconds(edit.ms)}`,
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
  const ipvs = (await import(built)) as typeof import('../src/ipvs/index.js');
  const { desiredTableInChunks, IpvsReconciler } = ipvs;
  const { MemoryIpvs } = await import('../test/support/memory-ipvs.js');
  const kernel = new MemoryIpvs();
  const reconciler = new IpvsReconciler(kernel, logger);
  const config = bigTable(10_000, 4).model;
  const claim = await measured(async () => reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench'));
  config.virtualServices[4321]!.realServers[2]!.weight = 9;
  const reload = await measured(async () => reconciler.reconcile(await desiredTableInChunks(config, { role: 'active' }), 'bench'));
  // a new model, as a reload's parse makes it
  const next = bigTable(10_000, 4).model;
  next.virtualServices[4321]!.realServers[2]!.weight = 5;
  const narrow = await reloadChangedServices(ipvs, reconciler, config, next);
  console.log(
    `tandem's own work for 10000 services × 4 real servers at host speed (in-memory table, no kernel): ` +
      `claim ${claim.ms.toFixed(0)} ms; reload with one weight change ${narrow.ms.toFixed(0)} ms ` +
      `(${narrow.value.operationCount} change, ${narrow.value.servicesRead} service read; the whole table rebuilt and read: ${reload.ms.toFixed(0)} ms); ` +
      `longest event-loop stall ${Math.max(claim.maxBlockedMs, reload.maxBlockedMs, narrow.maxBlockedMs).toFixed(0)} ms`,
  );
}

export const ipvsBenchmark: Benchmark = {
  name: 'ipvs',
  description: 'IPVS: tandem run vs ipvsadm -R, reads vs ipvsadm -S -n, 10k × 4 and 100k × 2 services (in the IPVS VM, side by side)',
  async run() {
    if (process.env.TANDEM_IPVS_VM === '1') return runInGuest();
    await runOnHost();
    if (process.env.TANDEM_BENCH_IPVS_HOST_ONLY === '1') return;
    console.log('(booting the IPVS VM: software emulation, CPU ~15× slower than the host)');
    // 100,000 services parse in the daemon's worker with a few hundred MiB of heap; both sizes
    // took over an hour on a loaded machine
    const env = {
      ...process.env,
      TANDEM_VM_MEM: process.env.TANDEM_VM_MEM ?? '6144',
      TANDEM_VM_TIMEOUT: process.env.TANDEM_VM_TIMEOUT ?? '7200',
    };
    const child = spawn('bash', ['test/ipvs/vm', 'node', '--import', 'tsx', 'bench/main.ts', 'ipvs'], { stdio: 'inherit', env });
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (status !== 0) throw new Error(`the IPVS benchmark in the VM exited with ${status}`);
  },
};
